package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Tx is what the backup register needs from a store transaction.
type Tx interface {
	ledger.Tx
	UserByName(ctx context.Context, username string) (auth.User, string, error)
	InsertDataSet(ctx context.Context, d DataSet) error
	UpdateDataSet(ctx context.Context, d DataSet) error
	DataSetByName(ctx context.Context, name string) (DataSet, error)
	ListDataSets(ctx context.Context) ([]DataSet, error)
	InsertCopy(ctx context.Context, c Copy) error
	// UpdateCopyCollect stores a copy's CollectedAt and CollectError.
	UpdateCopyCollect(ctx context.Context, c Copy) error
	CopyByName(ctx context.Context, dataSetID, name string) (Copy, error)
	// ListCopies lists the copies of a data set, of every one for "".
	ListCopies(ctx context.Context, dataSetID string) ([]Copy, error)
	// LiveSnapshotIDs returns the ids of a copy's snapshots not gone.
	LiveSnapshotIDs(ctx context.Context, copyID string) (map[string]bool, error)
	// PutSnapshots stores snapshots; one stored before is live again.
	PutSnapshots(ctx context.Context, ss []Snapshot) error
	MarkSnapshotsGone(ctx context.Context, copyID string, ids []string, at time.Time) error
	// ListSnapshots returns a data set's snapshots, newest first, at most
	// limit; gone ones too when all.
	ListSnapshots(ctx context.Context, dataSetID string, all bool, limit int) ([]Snapshot, error)
	// CopySummaries sums up every copy's live snapshots taken at or before
	// now, with the 24-hour windows of the last days that hold one.
	CopySummaries(ctx context.Context, now time.Time, days int) ([]CopySummary, error)

	InsertDrill(ctx context.Context, d Drill) error
	// UpdateDrill stores a drill's end and its approval.
	UpdateDrill(ctx context.Context, d Drill) error
	DrillByID(ctx context.Context, id string) (Drill, error)
	// ListDrills returns a data set's drills (every one's for ""), newest
	// first, at most limit.
	ListDrills(ctx context.Context, dataSetID string, limit int) ([]Drill, error)
	// RunningDrill returns a drill of the data set running since after
	// since (ENotFound when none).
	RunningDrill(ctx context.Context, dataSetID string, since time.Time) (Drill, error)
	DrillSummaries(ctx context.Context) ([]DrillSummary, error)
	// RunningDrills returns every drill marked running, oldest first.
	RunningDrills(ctx context.Context) ([]Drill, error)
	InsertRCA(ctx context.Context, r RCA) error
	// UpdateRCA stores an analysis's cause, action and who recorded them.
	UpdateRCA(ctx context.Context, r RCA) error
	RCAByID(ctx context.Context, id string) (RCA, error)
	// ListRCAs returns the analyses, open ones first, newest first.
	ListRCAs(ctx context.Context) ([]RCA, error)
	InsertExercise(ctx context.Context, e Exercise) error
	// ListExercises returns the exercises, newest date first.
	ListExercises(ctx context.Context) ([]Exercise, error)
}

// Store runs transactions.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// CopySummary is what the controls and the status need of a copy's live
// snapshots.
type CopySummary struct {
	CopyID string
	Count  int
	Oldest time.Time
	// Newest is the newest snapshot of each type.
	Newest map[string]time.Time
	// Days are the 24-hour windows ending now (0 is the last 24 hours)
	// that hold a snapshot.
	Days []int
}

// Source lists the snapshots of a copy; one per kind of copy (see
// backup/sources).
type Source interface {
	List(ctx context.Context, r ListRequest) (Listing, error)
}

// ListRequest is a copy to list, with its password (restic) and the
// snapshots already known, which a source need not describe again.
type ListRequest struct {
	Copy     Copy
	Password string
	Known    map[string]bool
}

// Listing is what a source found: the snapshots and the tool's own output
// as evidence.
type Listing struct {
	Snapshots []Snapshot
	Evidence  []byte
	MediaType string
}

// Secrets is what the register needs of the server's secrets.
type Secrets interface {
	Check(name string) error
	Read(name string) (string, error)
	Seal(value, context string) (string, error)
	Open(sealed, context string) (string, error)
}

// Actor is who acts. Local is the in-process command line, whose operator
// reads the server's files anyway and so may name a local path.
type Actor struct {
	Name  string
	Local bool
	// Username and Role are the user's, for segregation of duties (a
	// drill's runner neither approves it nor records its root cause).
	Username string
	Role     auth.Role
}

// user is the actor's user name: Username, else Name without "cli:".
func (a Actor) user() string {
	if a.Username != "" {
		return a.Username
	}
	return strings.TrimPrefix(a.Name, "cli:")
}

// Policy is the numbers of the controls (config backup:).
type Policy struct {
	MaxAgeHours   int
	RetentionDays int
	OffsiteCopies int
	// RestoreTestIntervalDays caps every data set's drill interval (BK-4);
	// TabletopExerciseIntervalDays is the age a DR exercise may reach (BK-6).
	RestoreTestIntervalDays      int
	TabletopExerciseIntervalDays int
}

// Options configure the service.
type Options struct {
	Policy  Policy
	Sources map[string]Source
	Secrets Secrets
	// AllowLocal accepts local paths from API callers too.
	AllowLocal bool
	// Remote checks the host of a restic rest: or sftp: URL (the egress
	// policy); nil accepts every host.
	Remote func(host string) error
	Now    func() time.Time
	// ScratchRoot is the directory file drills restore under (the
	// server's, never a caller's); ScratchPostgres the PostgreSQL server
	// that receives a pg_dump drill's scratch database.
	ScratchRoot     string
	ScratchPostgres string
	// Drill performs a drill (default drill.Run); Notifier queues the
	// notice of a failed one.
	Drill    DrillFunc
	Notifier Notifier
}

// Service is the backup register.
type Service struct {
	store Store
	log   *ledger.Log
	opts  Options
	// drilling holds the data sets with a drill running in this process.
	drilling sync.Map
}

// NewService returns the register.
func NewService(store Store, log *ledger.Log, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, log: log, opts: opts}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

func invalid(field, format string, args ...any) error {
	return &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf(format, args...), Details: map[string]any{"field": field}}
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Bounds of the texts of a data set.
const (
	maxText         = 200
	maxInstructions = 64 << 10
	maxDrillSpec    = 64 << 10
)

// AddDataSet declares protected data.
func (s *Service) AddDataSet(ctx context.Context, by Actor, d DataSet) (DataSet, error) {
	if err := normalize(&d); err != nil {
		return d, err
	}
	now := s.now()
	d.ID, d.CreatedAt, d.CreatedBy, d.UpdatedAt = id.New("ds"), now, by.Name, now
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, _, err := tx.UserByName(ctx, d.Owner); opsguard.ErrorCode(err) == opsguard.ENotFound {
			return invalid("owner", "owner %q is not a user", d.Owner)
		} else if err != nil {
			return err
		}
		if _, err := tx.DataSetByName(ctx, d.Name); err == nil {
			return opsguard.Errorf(opsguard.EConflict, "data set %s already exists", d.Name)
		} else if opsguard.ErrorCode(err) != opsguard.ENotFound {
			return err
		}
		if err := tx.InsertDataSet(ctx, d); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "backup.dataset_added", Subject: "dataset/" + d.ID, Payload: d})
		return err
	})
	return d, err
}

// UpdateDataSet replaces what a data set documents: owner,
// classification, description, frequency, type, retention, restore
// instructions and drill specification. Its name, copies and history stay.
func (s *Service) UpdateDataSet(ctx context.Context, by Actor, name string, d DataSet) (DataSet, error) {
	d.Name = name
	if err := normalize(&d); err != nil {
		return d, err
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		old, err := tx.DataSetByName(ctx, name)
		if err != nil {
			return err
		}
		if _, _, err := tx.UserByName(ctx, d.Owner); opsguard.ErrorCode(err) == opsguard.ENotFound {
			return invalid("owner", "owner %q is not a user", d.Owner)
		} else if err != nil {
			return err
		}
		d.ID, d.CreatedAt, d.CreatedBy, d.UpdatedAt = old.ID, old.CreatedAt, old.CreatedBy, s.now()
		if err := tx.UpdateDataSet(ctx, d); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "backup.dataset_updated", Subject: "dataset/" + d.ID, Payload: d})
		return err
	})
	return d, err
}

// normalize fills a data set's defaults and checks every field.
func normalize(d *DataSet) error {
	d.Name, d.Owner = strings.TrimSpace(d.Name), strings.TrimSpace(d.Owner)
	if d.Frequency == "" {
		d.Frequency = "daily"
	}
	if d.Type == "" {
		d.Type = Full
	}
	if d.RetentionDays == 0 {
		d.RetentionDays = 7
	}
	if len(d.Drill) == 0 {
		d.Drill = json.RawMessage("{}")
	}
	switch {
	case !namePattern.MatchString(d.Name):
		return invalid("name", "data set name %q: 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit", d.Name)
	case d.Owner == "":
		return invalid("owner", "a data set needs an owner (a user name)")
	case !slices.Contains(Frequencies, d.Frequency):
		return invalid("frequency", "frequency %q: one of %s", d.Frequency, strings.Join(Frequencies, ", "))
	case !slices.Contains(Types, d.Type):
		return invalid("type", "type %q: one of %s", d.Type, strings.Join(Types, ", "))
	case d.RetentionDays < 1 || d.RetentionDays > 36500:
		return invalid("retention_days", "retention_days %d: 1 to 36500", d.RetentionDays)
	case len(d.Classification) > maxText || len(d.Description) > maxInstructions:
		return invalid("description", "classification at most %d bytes, description at most %d", maxText, maxInstructions)
	case len(d.Instructions) > maxInstructions:
		return invalid("instructions", "instructions: at most %d bytes", maxInstructions)
	case len(d.Drill) > maxDrillSpec || !json.Valid(d.Drill) || d.Drill[0] != '{':
		return invalid("drill", "drill: a JSON object of at most %d bytes", maxDrillSpec)
	}
	_, err := ParseDrillPlan(d.Drill)
	return err
}

// DataSets lists the data sets by name.
func (s *Service) DataSets(ctx context.Context) ([]DataSet, error) {
	var out []DataSet
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ListDataSets(ctx)
		return err
	})
	return out, err
}

// DataSet returns a data set with its copies.
func (s *Service) DataSet(ctx context.Context, name string) (DataSet, []Copy, error) {
	var d DataSet
	var cs []Copy
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if d, err = tx.DataSetByName(ctx, name); err != nil {
			return err
		}
		cs, err = tx.ListCopies(ctx, d.ID)
		return err
	})
	return d, cs, err
}

// Copies lists every copy of every data set.
func (s *Service) Copies(ctx context.Context) ([]Copy, error) {
	var out []Copy
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ListCopies(ctx, "")
		return err
	})
	return out, err
}

// Snapshots returns a data set's snapshots, newest first (at most limit;
// 0 for 1000), the gone ones too when all.
func (s *Service) Snapshots(ctx context.Context, dataSet string, all bool, limit int) ([]Snapshot, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	var out []Snapshot
	err := s.store.View(ctx, func(tx Tx) error {
		d, err := tx.DataSetByName(ctx, dataSet)
		if err != nil {
			return err
		}
		out, err = tx.ListSnapshots(ctx, d.ID, all, limit)
		return err
	})
	return out, err
}

// AddCopy records where a data set's backups live. Nothing is read from
// it until the next collection.
func (s *Service) AddCopy(ctx context.Context, by Actor, dataSet string, c Copy) (Copy, error) {
	c.Name, c.Location = strings.TrimSpace(c.Name), strings.TrimSpace(c.Location)
	if c.Name == "" {
		c.Name = c.Source
	}
	if !namePattern.MatchString(c.Name) {
		return c, invalid("name", "copy name %q: 1 to 100 letters, digits, '.', '_' or '-'", c.Name)
	}
	if err := s.checkLocation(&c, by); err != nil {
		return c, err
	}
	c.ID, c.CreatedAt, c.CreatedBy, c.CollectedAt, c.CollectError = id.New("bkc"), s.now(), by.Name, nil, ""
	if err := s.takePassword(&c); err != nil {
		return c, err
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		d, err := tx.DataSetByName(ctx, dataSet)
		if err != nil {
			return err
		}
		c.DataSetID, c.DataSet = d.ID, d.Name
		if _, err := tx.CopyByName(ctx, d.ID, c.Name); err == nil {
			return opsguard.Errorf(opsguard.EConflict, "data set %s already has a copy named %s: give another --name", d.Name, c.Name)
		} else if opsguard.ErrorCode(err) != opsguard.ENotFound {
			return err
		}
		if err := tx.InsertCopy(ctx, c); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "backup.copy_added", Subject: "backup-copy/" + c.ID, Payload: c})
		return err
	})
	return c, err
}

var (
	stanzaPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	// remoteSchemes are restic's backends other than a local path.
	remoteSchemes = []string{"rest:", "sftp:", "s3:", "b2:", "azure:", "gs:", "swift:", "rclone:"}
)

// checkLocation checks a copy's source and location: a local path only
// from the in-process command line (or under backup.allow_local_repos),
// since the server reads it; a remote host through the egress policy.
func (s *Service) checkLocation(c *Copy, by Actor) error {
	loc := c.Location
	if len(loc) > 1000 || strings.ContainsAny(loc, "\x00\n\r") || strings.HasPrefix(loc, "-") {
		return invalid("location", "location: at most 1000 bytes, one line, not starting with '-'")
	}
	local := func() error {
		if !filepath.IsAbs(loc) {
			return invalid("location", "location %q: an absolute path", loc)
		}
		if !by.Local && !s.opts.AllowLocal {
			return invalid("location", "a local path is accepted from the in-process command line only (or with backup.allow_local_repos)")
		}
		c.Location, c.AddedLocally = filepath.Clean(loc), by.Local
		return nil
	}
	switch c.Source {
	case SourceRestic:
		for _, p := range remoteSchemes {
			if strings.HasPrefix(loc, p) {
				return s.checkRemote(loc, p)
			}
		}
		return local()
	case SourcePgDump:
		return local()
	case SourcePgBackRest:
		if !stanzaPattern.MatchString(loc) {
			return invalid("location", "a pgBackRest copy's location is its stanza's name, not %q", loc)
		}
		return nil
	case SourceManifest:
		if loc != "" {
			return invalid("location", "a manifest copy has no location: its job posts to /api/v1/backup/manifests")
		}
		return nil
	}
	return invalid("source", "source %q: one of %s", c.Source, strings.Join(Sources, ", "))
}

func (s *Service) checkRemote(loc, scheme string) error {
	if s.opts.Remote == nil || (scheme != "rest:" && scheme != "sftp:") {
		return nil
	}
	host := strings.TrimPrefix(loc, scheme)
	host = strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	host = strings.TrimPrefix(host, "//")
	if i := strings.IndexAny(host, "/"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host = h
	}
	if err := s.opts.Remote(strings.Trim(host, "[]")); err != nil {
		return invalid("location", "location: %v", err)
	}
	return nil
}

// maxPassword bounds a repository password sent through the API.
const maxPassword = 4096

// takePassword checks the password's secret name, or seals a password
// sent in clear: only its sealed form is stored and only "password_set"
// is ledgered.
func (s *Service) takePassword(c *Copy) error {
	pw := c.Password
	c.Password, c.SealedPassword, c.PasswordSet = "", "", false
	switch {
	case pw != "" && c.PasswordSecret != "":
		return invalid("password", "give the password or the name of its secret (password_secret), not both")
	case (pw != "" || c.PasswordSecret != "") && c.Source != SourceRestic:
		return invalid("password", "a %s copy takes no password", c.Source)
	case c.Source == SourceRestic && pw == "" && c.PasswordSecret == "":
		return invalid("password_secret", "a restic copy needs its repository's password: password, or password_secret naming a file in the server's secrets directory")
	case s.opts.Secrets == nil && (pw != "" || c.PasswordSecret != ""):
		return invalid("password", "this server keeps no secrets")
	case c.PasswordSecret != "":
		if err := s.opts.Secrets.Check(c.PasswordSecret); err != nil {
			return invalid("password_secret", "password_secret: %v", err)
		}
	case pw != "":
		if len(pw) > maxPassword {
			return invalid("password", "password: at most %d bytes", maxPassword)
		}
		sealed, err := s.opts.Secrets.Seal(pw, "backup-copy/"+c.ID)
		if err != nil {
			return fmt.Errorf("seal the password: %w", err)
		}
		c.SealedPassword, c.PasswordSet = sealed, true
	}
	return nil
}

// Password returns a copy's repository password ("" for none), for the
// collection and for a restore drill. It is never logged.
func (s *Service) Password(c Copy) (string, error) {
	switch {
	case c.PasswordSecret != "":
		return s.opts.Secrets.Read(c.PasswordSecret)
	case c.SealedPassword != "":
		return s.opts.Secrets.Open(c.SealedPassword, "backup-copy/"+c.ID)
	}
	return "", nil
}
