package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/host/baseline"
	"github.com/opsguard/opsguard/ledger"
)

// Tx is what the host register needs from a store transaction.
type Tx interface {
	ledger.Tx
	DayTx
	HostByID(ctx context.Context, id string) (Host, error)
	// HostByName returns the host of that name, or of that ID.
	HostByName(ctx context.Context, name string) (Host, error)
	ListHosts(ctx context.Context) ([]Host, error)
	// PutHost inserts or replaces a host.
	PutHost(ctx context.Context, h Host) error
	// AddHostEnvironment records that a host reported into env (once).
	AddHostEnvironment(ctx context.Context, hostID, env string, at time.Time) error
	// HostEnvironments maps each host to the environments it reported into.
	HostEnvironments(ctx context.Context) (map[string][]string, error)
	// InsertSample stores a report's metrics; false when the host already
	// has a sample at that time.
	InsertSample(ctx context.Context, s Sample) (bool, error)
	// AddHourly adds a sample's points to their hours' aggregates.
	AddHourly(ctx context.Context, hostID string, at time.Time, ps []Point) error
	Samples(ctx context.Context, hostID string, since time.Time) ([]Sample, error)
	Hours(ctx context.Context, hostID, series string, since time.Time) ([]Hour, error)
	// FitSums sums, per host and disk or inode series, the hourly
	// averages of the days from origin (a UTC midnight) on for a
	// least-squares fit, x in hours since origin. The sums are kept per
	// day at ingest, so this reads a row per series and day.
	FitSums(ctx context.Context, origin time.Time) ([]FitSum, error)
	// PruneSamples deletes the full-resolution samples before a time.
	PruneSamples(ctx context.Context, before time.Time) (int64, error)
	AlertStates(ctx context.Context) ([]AlertState, error)
	PutAlertState(ctx context.Context, a AlertState) error
	ConfigTx
}

// ConfigTx is what baselines, drift and software need (CF-1, CF-2, CF-4).
type ConfigTx interface {
	InsertBaseline(ctx context.Context, b Baseline) error
	UpdateBaseline(ctx context.Context, b Baseline) error
	BaselineByID(ctx context.Context, id string) (Baseline, error)
	// ListBaselines returns a group's versions (every group's for ""),
	// newest first.
	ListBaselines(ctx context.Context, group string) ([]Baseline, error)
	// BaselineResults returns a host's newest results (every host's for
	// ""), by check.
	BaselineResults(ctx context.Context, hostID string) ([]CheckResult, error)
	PutBaselineResult(ctx context.Context, r CheckResult) error
	DeleteBaselineResult(ctx context.Context, hostID, check string) error
	InsertDrift(ctx context.Context, d Drift) error
	UpdateDrift(ctx context.Context, d Drift) error
	// Drifts returns a host's drifts (every host's for ""), newest first;
	// only the open ones when open.
	Drifts(ctx context.Context, hostID string, open bool) ([]Drift, error)
	// HostPackages returns a host's packages by name.
	HostPackages(ctx context.Context, hostID string) ([]baseline.Package, error)
	PutHostPackage(ctx context.Context, hostID string, p baseline.Package) error
	DeleteHostPackage(ctx context.Context, hostID, name string) error
}

// Store runs transactions.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Options configure the service.
type Options struct {
	Capacity Capacity
	// ClockMaxOffset is CF-3's tolerance.
	ClockMaxOffset time.Duration
	// BatchWait is how long an ingest waits for others to share its
	// transaction (and its ledger entries).
	BatchWait time.Duration
	Notifier  Notifier
	Now       func() time.Time
	// Tickets are the approved change tickets that approve drift and
	// software (CF-2, CF-4).
	Tickets ApprovedTickets
	// RetentionDays is LG-2's, the least journald may keep (CF-1).
	RetentionDays int
}

// Notifier queues a capacity notification in the transaction of its event.
type Notifier interface {
	Notify(ctx context.Context, tx Tx, kind, subject, summary string, data map[string]any) error
}

// Service is the host register.
type Service struct {
	store Store
	log   *ledger.Log
	opts  Options

	mu      sync.Mutex
	pending []*ingest
	running bool

	// approvedMap caches the approved baselines by group (orderFor).
	approvedMu  sync.Mutex
	approvedAt  time.Time
	approvedMap map[string]Baseline
}

// NewService returns the register.
func NewService(store Store, log *ledger.Log, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BatchWait <= 0 {
		opts.BatchWait = 50 * time.Millisecond
	}
	opts.Capacity.defaults()
	return &Service{store: store, log: log, opts: opts}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// ingest is a report waiting for its batch's transaction.
type ingest struct {
	ctx  context.Context
	from Sender
	r    Report
	sum  string
	done chan error
	dup  bool
}

// maxBatch bounds the reports of one transaction.
const maxBatch = 200

// Ingest stores a checked report. Reports arriving together share one
// transaction and one ledger entry (host.facts, naming each report and
// the SHA-256 of its content), so the ledger grows by batches, not rows.
func (s *Service) Ingest(ctx context.Context, from Sender, r Report) (Receipt, error) {
	if err := r.Check(s.opts.Now()); err != nil {
		return Receipt{}, err
	}
	r.CollectedAt = r.CollectedAt.UTC().Truncate(time.Second)
	body, _ := json.Marshal(r)
	sum := sha256.Sum256(body)
	in := &ingest{ctx: ctx, from: from, r: r, sum: hex.EncodeToString(sum[:]), done: make(chan error, 1)}
	s.mu.Lock()
	s.pending = append(s.pending, in)
	if !s.running {
		s.running = true
		go s.writer()
	}
	s.mu.Unlock()
	select {
	case err := <-in.done:
		rc := Receipt{HostID: r.HostID, CollectedAt: r.CollectedAt, Duplicate: in.dup}
		if err == nil {
			rc.Baseline, err = s.orderFor(ctx, r)
		}
		return rc, err
	case <-ctx.Done():
		return Receipt{}, ctx.Err()
	}
}

// writer writes batches until none waits, then ends.
func (s *Service) writer() {
	for {
		time.Sleep(s.opts.BatchWait)
		s.mu.Lock()
		batch := s.pending
		if len(batch) > maxBatch {
			batch = batch[:maxBatch]
		}
		s.pending = s.pending[len(batch):]
		if len(batch) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		err := s.writeBatch(context.WithoutCancel(batch[0].ctx), batch)
		for _, in := range batch {
			in.done <- err
		}
	}
}

type factsEntry struct {
	Host        string    `json:"host"`
	CollectedAt time.Time `json:"collected_at"`
	SHA256      string    `json:"sha256"`
	Actor       string    `json:"actor"`
}

func (s *Service) writeBatch(ctx context.Context, batch []*ingest) error {
	now := s.now()
	tickets, err := s.ticketsFor(ctx, batch)
	if err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		var recs []factsEntry
		for _, in := range batch {
			in.dup = false
			ok, err := s.store1(ctx, tx, in, now, tickets)
			if err != nil {
				return fmt.Errorf("report of %s at %s: %w", in.r.HostID, in.r.CollectedAt.Format(time.RFC3339), err)
			}
			if !ok {
				in.dup = true
				continue
			}
			recs = append(recs, factsEntry{Host: in.r.HostID, CollectedAt: in.r.CollectedAt, SHA256: in.sum, Actor: in.from.Actor})
		}
		if len(recs) == 0 {
			return nil
		}
		actor := recs[0].Actor
		if len(recs) > 1 {
			actor = "system"
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: actor, Kind: "host.facts", Subject: "host/" + recs[0].Host,
			Payload: map[string]any{"reports": recs}})
		return err
	})
}

// store1 stores one report in tx; false for a duplicate.
func (s *Service) store1(ctx context.Context, tx Tx, in *ingest, now time.Time, tickets []Ticket) (bool, error) {
	r := in.r
	ps := r.Points()
	ok, err := tx.InsertSample(ctx, Sample{HostID: r.HostID, At: r.CollectedAt, Points: ps})
	if err != nil || !ok {
		return false, err
	}
	if err := tx.AddHourly(ctx, r.HostID, r.CollectedAt, ps); err != nil {
		return false, err
	}
	h, err := tx.HostByID(ctx, r.HostID)
	switch {
	case opsguard.ErrorCode(err) == opsguard.ENotFound:
		h = Host{ID: r.HostID, FirstSeen: now, EnvSetBy: "agent"}
	case err != nil:
		return false, err
	}
	if r.Environment != "" {
		if err := tx.AddHostEnvironment(ctx, r.HostID, r.Environment, now); err != nil {
			return false, err
		}
		if h.EnvSetBy == "agent" || h.Environment == "" {
			h.Environment, h.EnvSetBy = r.Environment, "agent"
		}
	}
	if !h.LastSeen.After(r.CollectedAt) {
		// An older report from the queue does not replace a newer state.
		h.Name, h.Facts, h.LastSeen = r.Hostname, r, r.CollectedAt
		if h.GroupsSetBy == "" {
			h.Groups = nonNil(r.Groups)
		}
		h.Address, h.TokenID = in.from.Address, in.from.TokenID
		// Results and packages live in their own tables.
		h.Facts.Baseline, h.Facts.Packages = nil, nil
		if err := s.applyConfig(ctx, tx, h, r, tickets); err != nil {
			return false, err
		}
	}
	h.ReceivedAt = now
	return true, tx.PutHost(ctx, h)
}

// ticketsFor reads the approved tickets when a report of the batch
// carries baseline results, before the batch's transaction.
func (s *Service) ticketsFor(ctx context.Context, batch []*ingest) ([]Ticket, error) {
	if s.opts.Tickets == nil {
		return nil, nil
	}
	for _, in := range batch {
		if in.r.Baseline != nil {
			return s.opts.Tickets(ctx)
		}
	}
	return nil, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// SetEnvironment puts a host in an environment by an admin's decision; the
// agent's --env no longer changes it.
func (s *Service) SetEnvironment(ctx context.Context, by, name, env string) (Host, error) {
	if !NamePattern.MatchString(env) {
		return Host{}, invalid("environment", "environment %q: 1 to 100 letters, digits, '.', '_' or '-'", env)
	}
	var h Host
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if h, err = tx.HostByName(ctx, name); err != nil {
			return err
		}
		old := h.Environment
		h.Environment, h.EnvSetBy = env, by
		if err := tx.PutHost(ctx, h); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by, Kind: "host.environment_set", Subject: "host/" + h.ID,
			Payload: map[string]any{"host": h.Name, "from": old, "to": env}})
		return err
	})
	return h, err
}

// MaxGroups bounds the groups of a host.
const MaxGroups = 20

// SetGroups puts a host in groups (none: no group) by an admin's
// decision; the agent's --group no longer changes them. The first group
// with thresholds in capacity.groups sets the host's thresholds.
func (s *Service) SetGroups(ctx context.Context, by, name string, groups []string) (Host, error) {
	if len(groups) > MaxGroups {
		return Host{}, invalid("groups", "groups: %d, at most %d", len(groups), MaxGroups)
	}
	groups = nonNil(slices.Clone(groups))
	for i, g := range groups {
		if !NamePattern.MatchString(g) {
			return Host{}, invalid(fmt.Sprintf("groups[%d]", i), "groups[%d] %q: 1 to 100 letters, digits, '.', '_' or '-'", i, g)
		}
	}
	slices.Sort(groups)
	groups = slices.Compact(groups)
	var h Host
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if h, err = tx.HostByName(ctx, name); err != nil {
			return err
		}
		old := nonNil(h.Groups)
		h.Groups, h.GroupsSetBy = groups, by
		if err := tx.PutHost(ctx, h); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by, Kind: "host.groups_set", Subject: "host/" + h.ID,
			Payload: map[string]any{"host": h.Name, "from": old, "to": groups}})
		return err
	})
	return h, err
}

// Hosts lists every host with its flags, production first, then by name.
func (s *Service) Hosts(ctx context.Context) ([]Host, error) {
	var hs []Host
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if hs, err = tx.ListHosts(ctx); err != nil {
			return err
		}
		envs, err := tx.HostEnvironments(ctx)
		for i := range hs {
			hs[i].Environments = nonNil(envs[hs[i].ID])
		}
		return err
	})
	flag(hs)
	sort.SliceStable(hs, func(i, j int) bool {
		pi, pj := hs[i].Environment == Production, hs[j].Environment == Production
		if pi != pj {
			return pi
		}
		return hs[i].Name < hs[j].Name
	})
	return hs, err
}

// Host returns a host by name or ID, with its flags.
func (s *Service) Host(ctx context.Context, name string) (Host, error) {
	hs, err := s.Hosts(ctx)
	if err != nil {
		return Host{}, err
	}
	for _, h := range hs {
		if h.Name == name || h.ID == name {
			return h, nil
		}
	}
	return Host{}, opsguard.Errorf(opsguard.ENotFound, "host %s not found", name)
}

// flag names, on each host, why it breaks the separation of environments:
// it reported into two, or shares its address or token with a host of
// another environment.
func flag(hs []Host) {
	byAddr, byToken := map[string][]int{}, map[string][]int{}
	for i, h := range hs {
		hs[i].Flags = nil
		if len(h.Environments) > 1 {
			hs[i].Flags = append(hs[i].Flags, "reported into "+strings.Join(h.Environments, " and "))
		}
		if h.Address != "" {
			byAddr[h.Address] = append(byAddr[h.Address], i)
		}
		if h.TokenID != "" {
			byToken[h.TokenID] = append(byToken[h.TokenID], i)
		}
	}
	mark := func(what string, groups map[string][]int) {
		for key, is := range groups {
			for _, i := range is {
				var others []string
				for _, j := range is {
					if j != i && hs[j].Environment != hs[i].Environment {
						others = append(others, hs[j].Name+" ("+hs[j].Environment+")")
					}
				}
				if len(others) > 0 {
					slices.Sort(others)
					hs[i].Flags = append(hs[i].Flags, fmt.Sprintf("shares %s %s with %s", what, key, strings.Join(others, ", ")))
				}
			}
		}
	}
	mark("address", byAddr)
	mark("token", byToken)
}

// History returns a host's full-resolution samples since a time.
func (s *Service) History(ctx context.Context, hostID string, since time.Time) ([]Sample, error) {
	var out []Sample
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Samples(ctx, hostID, since)
		return err
	})
	return out, err
}

// Downsample deletes the full-resolution samples older than the raw
// window; their hourly aggregates stay.
func (s *Service) Downsample(ctx context.Context) (int64, error) {
	before := s.now().Add(-s.opts.Capacity.RawWindow)
	var n int64
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if n, err = tx.PruneSamples(ctx, before); err != nil || n == 0 {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: "system", Kind: "host.samples_downsampled", Subject: "host",
			Payload: map[string]any{"before": before, "samples": n}})
		return err
	})
	return n, err
}

// Hours returns a series' hourly aggregates since a time.
func (s *Service) Hours(ctx context.Context, hostID, series string, since time.Time) ([]Hour, error) {
	var out []Hour
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Hours(ctx, hostID, series, since)
		return err
	})
	return out, err
}

// RecordMetrics stores named values measured elsewhere (a Prometheus) at
// a time: each on the host of that name, registered when unknown (with no
// environment until an admin sets one). An agent's host keeps its own
// last report time: only the values are added.
func (s *Service) RecordMetrics(ctx context.Context, actor string, at time.Time, ms []Metric) error {
	if len(ms) == 0 {
		return nil
	}
	at = at.UTC().Truncate(time.Second)
	byHost := map[string]map[string]float64{}
	for _, m := range ms {
		if !NamePattern.MatchString(m.Host) || !NamePattern.MatchString(m.Name) || !finite(m.Value) {
			continue
		}
		if byHost[m.Host] == nil {
			byHost[m.Host] = map[string]float64{}
		}
		byHost[m.Host][m.Name] = m.Value
	}
	now := s.now()
	return s.store.Update(ctx, func(tx Tx) error {
		var recs []map[string]any
		for name, vals := range byHost {
			h, err := tx.HostByName(ctx, name)
			if opsguard.ErrorCode(err) == opsguard.ENotFound {
				id := "p-" + name
				if len(id) > 64 {
					id = id[:64]
				}
				h = Host{ID: id, Name: name, EnvSetBy: "prometheus", FirstSeen: now, LastSeen: at, Groups: []string{},
					Facts: Report{Version: 1, HostID: id, Hostname: name, CollectedAt: at, Filesystems: []Filesystem{}}}
			} else if err != nil {
				return err
			}
			if h.Facts.Metrics == nil {
				h.Facts.Metrics = map[string]float64{}
			}
			var ps []Point
			for k, v := range vals {
				h.Facts.Metrics[k] = v
				ps = append(ps, Point{Series: "metric:" + k, Value: v})
			}
			if h.EnvSetBy == "prometheus" {
				h.LastSeen, h.Facts.CollectedAt = at, at
			}
			h.ReceivedAt = now
			if err := tx.PutHost(ctx, h); err != nil {
				return err
			}
			if err := tx.AddHourly(ctx, h.ID, at, ps); err != nil {
				return err
			}
			recs = append(recs, map[string]any{"host": h.ID, "metrics": vals})
		}
		if len(recs) == 0 {
			return nil
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: actor, Kind: "host.metrics", Subject: "host", Payload: map[string]any{"at": at, "hosts": recs}})
		return err
	})
}
