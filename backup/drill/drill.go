package drill

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/opsguard/opsguard"
)

// Kind names the tool whose backups a drill restores.
type Kind string

// The kinds of backup a drill restores.
const (
	Restic Kind = "restic"
	PGDump Kind = "pgdump"
	// PgBackRest restores a pgBackRest backup into a scratch data
	// directory and starts a PostgreSQL on it.
	PgBackRest Kind = "pgbackrest"
)

// Spec says what a drill restores and how it checks it.
type Spec struct {
	Kind Kind `json:"kind"`
	// Location is the restic repository (a path or a rest:/sftp:/s3: URL),
	// the path of a pg_dump custom-format file, or a pgBackRest stanza.
	Location string `json:"location"`
	// PasswordFile holds the restic repository's password.
	PasswordFile string `json:"password_file,omitempty"`
	// Snapshot selects a restic snapshot or a pgBackRest backup: "latest"
	// (default), "random", or an ID (restic: full or at least 8 hex digits
	// of it; pgBackRest: a backup label).
	Snapshot string `json:"snapshot,omitempty"`
	// MaxBytes bounds the restored data; 0 means DefaultMaxBytes.
	MaxBytes int64 `json:"max_bytes,omitempty"`
	// MaxDuration bounds the whole drill; 0 means DefaultMaxDuration.
	MaxDuration time.Duration `json:"max_duration,omitempty"`
	// ExpectedPaths must exist in a restored file tree, relative to the
	// snapshot's root as `restic ls` prints them ("/srv/data/x.db").
	ExpectedPaths []string `json:"expected_paths,omitempty"`
	// Assertions are run on a restored database.
	Assertions []Assertion `json:"assertions,omitempty"`
	// ScratchRoot is the directory under which file drills restore.
	ScratchRoot string `json:"scratch_root,omitempty"`
	// DSN is the PostgreSQL server (postgres:// URL) that receives the
	// scratch database of a pg_dump drill. It is the operator's, never an
	// API caller's.
	DSN string `json:"-"`
	// Config is the pgBackRest configuration file naming the stanza's
	// repository ("" is pgBackRest's default). It is the operator's.
	Config string `json:"-"`
	// Database and DBUser are where a restored pgBackRest cluster's
	// assertions run (default postgres and postgres).
	Database string `json:"database,omitempty"`
	DBUser   string `json:"db_user,omitempty"`
}

// Assertion is one SQL check of a restored database: either SQL returns
// one number that must be at least Min, or Newest returns one timestamp
// that must be within WithinHours of the snapshot's time.
type Assertion struct {
	Name        string  `json:"name,omitempty"`
	SQL         string  `json:"sql,omitempty"`
	Min         int64   `json:"min,omitempty"`
	Newest      string  `json:"newest,omitempty"`
	WithinHours float64 `json:"within_hours,omitempty"`
}

// Limits applied when a Spec gives none.
const (
	DefaultMaxBytes    = 10 << 30
	DefaultMaxDuration = 4 * time.Hour
	maxLog             = 64 << 10 // bytes of tool output kept per stream
	maxAssertions      = 100
	maxExpectedPaths   = 1000
)

// Check is one sanity check of a drill with what was expected and found.
type Check struct {
	Name     string `json:"name"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	OK       bool   `json:"ok"`
}

// Report is the measured result of a drill, the evidence the backup
// service records.
type Report struct {
	Kind         Kind      `json:"kind"`
	SnapshotID   string    `json:"snapshot_id,omitempty"`
	SnapshotTime time.Time `json:"snapshot_time,omitzero"`
	Started      time.Time `json:"started"`
	Checks       []Check   `json:"checks"`
	// BytesRestored and Files count the regular files restored (for a
	// database: its size on the server, and no files).
	BytesRestored int64 `json:"bytes_restored"`
	Files         int64 `json:"files"`
	// Duration is the drill's wall time: the measured RTO.
	Duration time.Duration `json:"duration_ns"`
	// SnapshotAge is the snapshot's age when the drill started: the RPO.
	SnapshotAge time.Duration `json:"snapshot_age_ns"`
	// Log is the tools' own output (bounded, no secrets), kept as evidence.
	Log string `json:"log"`
	// Notes say what was not checked and why (pg_amcheck not installed).
	Notes  []string `json:"notes,omitempty"`
	Passed bool     `json:"passed"`
}

// Options are the injected parts of a drill.
type Options struct {
	Now  func() time.Time
	Rand *rand.Rand
	// AfterRestore runs on the restored tree before it is checked (tests
	// use it to tamper with it).
	AfterRestore func(dir string)
	// Restic, PGRestore, PGAmcheck and PgBackRest name the programs (""
	// finds them).
	Restic, PGRestore, PGAmcheck, PgBackRest string
	// PGBin is the directory of the postgres that runs a restored
	// pgBackRest cluster ("" is Debian's /usr/lib/postgresql/<major>/bin).
	PGBin string
	// RunAs is the user that runs pgbackrest and postgres when the drill
	// runs as root, which PostgreSQL refuses ("" is postgres).
	RunAs string
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if o.Restic == "" {
		o.Restic = "restic"
	}
	if o.PGRestore == "" {
		o.PGRestore = "pg_restore"
	}
	if o.PgBackRest == "" {
		o.PgBackRest = "pgbackrest"
	}
	return o
}

// Run performs the drill of spec and returns its report. The error is for
// a Spec that is not valid (nothing was attempted); every failure of the
// drill itself is a failed check in a report that did not pass.
func Run(ctx context.Context, spec Spec, opts Options) (*Report, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if spec.MaxBytes == 0 {
		spec.MaxBytes = DefaultMaxBytes
	}
	if spec.MaxDuration == 0 {
		spec.MaxDuration = DefaultMaxDuration
	}
	r := &drillRun{spec: spec, opts: opts, rep: &Report{Kind: spec.Kind, Started: opts.Now()}}
	ctx, cancel := context.WithTimeout(ctx, spec.MaxDuration)
	defer cancel()
	switch spec.Kind {
	case Restic:
		r.restic(ctx)
	case PGDump:
		r.pgdump(ctx)
	case PgBackRest:
		r.pgbackrest(ctx)
	}
	return r.finish(ctx), nil
}

// Validate says which field of the Spec is wrong.
func (s Spec) Validate() error {
	bad := func(format string, args ...any) error {
		return opsguard.Errorf(opsguard.EInvalid, "drill spec: "+format, args...)
	}
	switch {
	case s.Kind != Restic && s.Kind != PGDump && s.Kind != PgBackRest:
		return bad("kind %q: want restic, pgdump or pgbackrest", s.Kind)
	case strings.TrimSpace(s.Location) == "":
		return bad("location is empty")
	case s.MaxBytes < 0 || s.MaxDuration < 0:
		return bad("limits must not be negative")
	case len(s.ExpectedPaths) > maxExpectedPaths:
		return bad("expected_paths: at most %d", maxExpectedPaths)
	case len(s.Assertions) > maxAssertions:
		return bad("assertions: at most %d", maxAssertions)
	case (s.Kind == Restic || s.Kind == PgBackRest) && s.ScratchRoot == "":
		return bad("scratch_root is empty")
	case s.Kind == Restic && s.PasswordFile == "":
		return bad("password_file is empty")
	case s.Kind == PGDump && s.DSN == "":
		return bad("no PostgreSQL server for the scratch database")
	}
	for i, a := range s.Assertions {
		if (a.SQL == "") == (a.Newest == "") {
			return bad("assertions[%d]: want exactly one of sql and newest", i)
		}
		if a.Newest != "" && a.WithinHours <= 0 {
			return bad("assertions[%d].within_hours: want a positive number", i)
		}
	}
	return nil
}

// drillRun is the state of one drill.
type drillRun struct {
	spec Spec
	opts Options
	rep  *Report
	mu   sync.Mutex // the log: a listing and a restore run at once
	log  strings.Builder
}

func (r *drillRun) check(name, expected, actual string, ok bool) bool {
	r.rep.Checks = append(r.rep.Checks, Check{Name: name, Expected: expected, Actual: actual, OK: ok})
	return ok
}

// fail records err as a failed check: the cause of a drill that stopped.
func (r *drillRun) fail(name, expected string, err error) {
	r.check(name, expected, err.Error(), false)
}

// logf appends to the evidence log, bounded.
func (r *drillRun) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log.Len() < 4*maxLog {
		fmt.Fprintf(&r.log, format, args...)
	}
}

func (r *drillRun) finish(ctx context.Context) *Report {
	rep := r.rep
	switch ctx.Err() {
	case context.DeadlineExceeded:
		r.check("time limit", "at most "+r.spec.MaxDuration.String(), "exceeded: the drill was stopped", false)
	case context.Canceled:
		r.check("completed", "the drill runs to its end", "cancelled", false)
	}
	rep.Duration = r.opts.Now().Sub(rep.Started)
	if !rep.SnapshotTime.IsZero() {
		rep.SnapshotAge = rep.Started.Sub(rep.SnapshotTime)
	}
	rep.Passed = len(rep.Checks) > 0
	for _, c := range rep.Checks {
		rep.Passed = rep.Passed && c.OK
	}
	rep.Log = r.log.String()
	return rep
}
