package events

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Tx is what the event store needs from a store transaction.
type Tx interface {
	ledger.Tx
	InsertEventBatch(ctx context.Context, b Stored) error
	InsertEvents(ctx context.Context, es []Event) error
	SearchEvents(ctx context.Context, f Filter) ([]Event, error)
	// CountEvents counts the events of a kind from an address at or after a time.
	CountEvents(ctx context.Context, kind, address string, since time.Time) (int, error)
	EventAlert(ctx context.Context, k string) (Alert, bool, error)
	PutEventAlert(ctx context.Context, a Alert) error
	// ExpiredBatches returns batches not yet pruned whose newest event
	// (or receipt, for a batch of none) is before a time, oldest first.
	ExpiredBatches(ctx context.Context, before time.Time, limit int) ([]Stored, error)
	// PruneEventBatch deletes a batch's events and marks it pruned at a time.
	PruneEventBatch(ctx context.Context, batchID string, at time.Time) (int64, error)
	// EventRetention returns the time of the oldest event kept, and the
	// shortest age (newest event to pruning) of a pruned batch.
	EventRetention(ctx context.Context) (Retention, error)
	// LastBatches maps each host to the receipt of its newest batch.
	LastBatches(ctx context.Context) (map[string]time.Time, error)
}

// Store runs transactions.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Notifier queues an alert in the transaction of the events that raised it.
type Notifier interface {
	Notify(ctx context.Context, tx Tx, kind, subject, summary string, data map[string]any) error
}

// HostInfo is what LG-1 and LG-2 need to know of a host.
type HostInfo struct {
	ID, Name, Environment string
	// JournaldRetention is how long the host's journald keeps logs, when
	// the host reports it (nil: unknown).
	JournaldRetention *time.Duration
}

// Options configure the service.
type Options struct {
	// Retention is logging.retention_days (LG-2).
	Retention time.Duration
	// Interval is how often a production host must ship a batch (LG-1).
	Interval time.Duration
	// FailedSignIns failed SSH sign-ins from one address within
	// FailedWindow raise one alert (0: no such alert).
	FailedSignIns int
	FailedWindow  time.Duration
	// RootLogin raises an alert for every root sign-in.
	RootLogin bool
	Notifier  Notifier
	// Hosts lists the hosts for LG-1 and LG-2.
	Hosts func(ctx context.Context) ([]HostInfo, error)
	Now   func() time.Time
}

// Service is the event store.
type Service struct {
	store Store
	log   *ledger.Log
	opts  Options
}

// NewService returns the event store.
func NewService(store Store, log *ledger.Log, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Retention <= 0 {
		opts.Retention = 365 * 24 * time.Hour
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Hour
	}
	if opts.FailedWindow <= 0 {
		opts.FailedWindow = 10 * time.Minute
	}
	return &Service{store: store, log: log, opts: opts}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// Sender is who sent a batch.
type Sender struct {
	Actor  string
	Source string // agent | syslog
}

// Ingest stores a checked batch with its events in one transaction, with
// one events.batch entry recording its hash, and raises the alerts its
// events call for.
func (s *Service) Ingest(ctx context.Context, from Sender, b Batch) (Stored, error) {
	now := s.now()
	if err := b.Check(now); err != nil {
		return Stored{}, err
	}
	st := Stored{ID: id.New("evb"), HostID: b.HostID, Source: from.Source, Actor: from.Actor, ReceivedAt: now,
		Events: len(b.Events), Malformed: b.Malformed, SHA256: Hash(b.HostID, b.Malformed, b.Events)}
	for i := range b.Events {
		e := &b.Events[i]
		// The batch's id and the event's place: a batch is one range of ids.
		e.ID, e.BatchID = st.ID+"."+strconv.Itoa(100000 + i)[1:], st.ID
		if st.First.IsZero() || e.At.Before(st.First) {
			st.First = e.At
		}
		if e.At.After(st.Last) {
			st.Last = e.At
		}
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		if err := tx.InsertEventBatch(ctx, st); err != nil {
			return err
		}
		if err := tx.InsertEvents(ctx, b.Events); err != nil {
			return err
		}
		if err := s.alerts(ctx, tx, b.Events); err != nil {
			return fmt.Errorf("alerts: %w", err)
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: from.Actor, Kind: "events.batch", Subject: "event_batch/" + st.ID,
			Payload: map[string]any{"batch": st.ID, "host": st.HostID, "source": st.Source, "events": st.Events,
				"malformed": st.Malformed, "sha256": st.SHA256}})
		return err
	})
	if err != nil {
		return Stored{}, fmt.Errorf("events of %s: %w", b.HostID, err)
	}
	return st, nil
}

// Filter selects events; zero fields select all.
type Filter struct {
	Host, Kind, User, Address string
	Since, Until              time.Time
	Limit                     int
}

// MaxSearch bounds the events one search returns.
const MaxSearch = 1000

// Search returns the events of a filter, newest first.
func (s *Service) Search(ctx context.Context, f Filter) ([]Event, error) {
	if f.Kind != "" && !knownKind(f.Kind) {
		return nil, invalid("kind", "kind %q: one of %v", f.Kind, Kinds)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return nil, invalid("until", "until %s: before since %s", f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	switch {
	case f.Limit <= 0:
		f.Limit = 100
	case f.Limit > MaxSearch:
		return nil, invalid("limit", "limit %d: at most %d", f.Limit, MaxSearch)
	}
	var out []Event
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.SearchEvents(ctx, f)
		return err
	})
	if out == nil {
		out = []Event{}
	}
	return out, err
}

// PruneResult is what a retention run deleted.
type PruneResult struct {
	Batches int   `json:"batches"`
	Events  int64 `json:"events"`
}

// pruneChunk bounds the batches one transaction prunes.
const pruneChunk = 200

// Prune deletes the events of the batches whose newest event is older
// than the retention, a chunk of batches a transaction, each chunk with
// an events.pruned entry. The batches and their hashes stay.
func (s *Service) Prune(ctx context.Context) (PruneResult, error) {
	var res PruneResult
	for {
		now := s.now()
		cutoff := now.Add(-s.opts.Retention)
		n := 0
		err := s.store.Update(ctx, func(tx Tx) error {
			bs, err := tx.ExpiredBatches(ctx, cutoff, pruneChunk)
			if err != nil || len(bs) == 0 {
				return err
			}
			ids := make([]string, len(bs))
			var deleted int64
			for i, b := range bs {
				k, err := tx.PruneEventBatch(ctx, b.ID, now)
				if err != nil {
					return err
				}
				ids[i], deleted = b.ID, deleted+k
			}
			_, err = s.log.Append(ctx, tx, ledger.Event{Actor: "system", Kind: "events.pruned", Subject: "event_batch/" + ids[0],
				Payload: map[string]any{"batches": ids, "events": deleted, "before": cutoff, "retention_days": int(s.opts.Retention / (24 * time.Hour))}})
			n, res.Batches, res.Events = len(bs), res.Batches+len(bs), res.Events+deleted
			return err
		})
		if err != nil || n < pruneChunk {
			return res, err
		}
	}
}

// Alert is the state of one alert pattern for one key (an address).
type Alert struct {
	K       string    `json:"k"` // rule|key
	Rule    string    `json:"rule"`
	Key     string    `json:"key"`
	FirstAt time.Time `json:"first_at"` // of the burst alerted
	LastAt  time.Time `json:"last_at"`  // newest event of the burst
	Count   int       `json:"count"`
}

// alerts raises what the batch's events call for, in its transaction: a
// burst of failed sign-ins from one address once (until a quiet window
// passes), every root sign-in.
func (s *Service) alerts(ctx context.Context, tx Tx, es []Event) error {
	if s.opts.Notifier == nil {
		return nil
	}
	failed := map[string]time.Time{} // address → newest failure in the batch
	for _, e := range es {
		if e.Kind == SSHFailed && e.Address != "" && e.At.After(failed[e.Address]) {
			failed[e.Address] = e.At
		}
		if s.opts.RootLogin && e.User == "root" && (e.Kind == SSHAccepted || e.Kind == Login) {
			err := s.opts.Notifier.Notify(ctx, tx, "events.root_login", "host/"+e.Host,
				fmt.Sprintf("root signed in on %s at %s (%s%s)", e.Host, e.At.Format(time.RFC3339), e.Kind, from(e.Address)),
				map[string]any{"host": e.Host, "at": e.At, "kind": e.Kind, "address": e.Address, "event": e.ID})
			if err != nil {
				return err
			}
		}
	}
	if s.opts.FailedSignIns <= 0 {
		return nil
	}
	addrs := make([]string, 0, len(failed))
	for a := range failed {
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	for _, a := range addrs {
		if err := s.burst(ctx, tx, a, failed[a]); err != nil {
			return err
		}
	}
	return nil
}

func from(addr string) string {
	if addr == "" {
		return ""
	}
	return " from " + addr
}

// burst alerts once when an address's failed sign-ins within the window
// before its newest reach the threshold; later failures of the same
// burst (each within a window of the last) extend it silently.
func (s *Service) burst(ctx context.Context, tx Tx, addr string, last time.Time) error {
	w := s.opts.FailedWindow
	n, err := tx.CountEvents(ctx, SSHFailed, addr, last.Add(-w))
	if err != nil {
		return err
	}
	k := "failed_sign_ins|" + addr
	a, ok, err := tx.EventAlert(ctx, k)
	if err != nil {
		return err
	}
	if ok && !last.After(a.LastAt.Add(w)) {
		if last.After(a.LastAt) {
			a.LastAt, a.Count = last, a.Count+1
			return tx.PutEventAlert(ctx, a)
		}
		return nil
	}
	if n < s.opts.FailedSignIns {
		return nil
	}
	a = Alert{K: k, Rule: "failed_sign_ins", Key: addr, FirstAt: last, LastAt: last, Count: n}
	if err := tx.PutEventAlert(ctx, a); err != nil {
		return err
	}
	return s.opts.Notifier.Notify(ctx, tx, "events.failed_sign_ins", "address/"+addr,
		fmt.Sprintf("%d failed SSH sign-ins from %s within %s (newest %s)", n, addr, w, last.Format(time.RFC3339)),
		map[string]any{"address": addr, "count": n, "window_minutes": int(w / time.Minute), "last": last})
}

// Retention is what LG-2 reads of the store.
type Retention struct {
	OldestEvent  *time.Time `json:"oldest_event,omitempty"`
	OldestLedger *time.Time `json:"oldest_ledger,omitempty"`
	// ShortestKept is the shortest time a pruned batch's newest event was
	// kept before pruning (nil: none pruned).
	ShortestKept *time.Duration `json:"shortest_kept,omitempty"`
	Batches      int            `json:"batches"`
	Pruned       int            `json:"pruned"`
}

func notFound(err error) bool { return opsguard.ErrorCode(err) == opsguard.ENotFound }
