package events

import (
	"context"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/control"
)

// Production is the environment LG-1 holds hosts to.
const Production = "production"

// Controls returns LG-1 (host side) and LG-2.
func (s *Service) Controls() []control.Control {
	return []control.Control{
		{ID: "LG-1.hosts-ship-events", Requirement: "LG-1", Title: "Every production host shipped security events (or a heartbeat batch) within logging.events_interval_minutes", Evaluate: s.lg1},
		{ID: "LG-2.events-retained", Requirement: "LG-2", Title: "Events and the ledger are held for logging.retention_days, nothing deleted early; journald on hosts keeps at least as long where known", Evaluate: s.lg2},
	}
}

func (s *Service) hosts(ctx context.Context) ([]HostInfo, error) {
	if s.opts.Hosts == nil {
		return nil, nil
	}
	return s.opts.Hosts(ctx)
}

func (s *Service) lg1(ctx context.Context) (control.Outcome, error) {
	hs, err := s.hosts(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	var last map[string]time.Time
	if err := s.store.View(ctx, func(tx Tx) error { last, err = tx.LastBatches(ctx); return err }); err != nil {
		return control.Outcome{}, err
	}
	now := s.now()
	var bad []string
	var refs []control.Ref
	n := 0
	for _, h := range hs {
		if h.Environment != Production {
			continue
		}
		n++
		at, ok := last[h.ID]
		switch {
		case !ok:
			bad = append(bad, h.Name+": never shipped events")
		case now.Sub(at) > s.opts.Interval:
			bad = append(bad, fmt.Sprintf("%s: last batch %s", h.Name, at.Format(time.RFC3339)))
		default:
			continue
		}
		refs = append(refs, control.Ref{Kind: "host", ID: h.Name})
	}
	switch {
	case n == 0:
		return control.Outcome{Status: control.Fail, Summary: "No production host reports: nothing proves production's security events are shipped (run opsguard agent --env production on each)."}, nil
	case len(bad) > 0:
		return control.Outcome{Status: control.Fail, Refs: refs, Summary: fmt.Sprintf("%d of %d production hosts shipped no events within %s: %s.", len(bad), n, s.opts.Interval, control.Examples(bad, 5, "; "))}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("All %d production hosts shipped events within %s.", n, s.opts.Interval)}, nil
}

func days(d time.Duration) string { return fmt.Sprintf("%.1f days", d.Hours()/24) }

func (s *Service) lg2(ctx context.Context) (control.Outcome, error) {
	var r Retention
	if err := s.store.View(ctx, func(tx Tx) error { var err error; r, err = tx.EventRetention(ctx); return err }); err != nil {
		return control.Outcome{}, err
	}
	hs, err := s.hosts(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	now, keep := s.now(), s.opts.Retention
	var bad, notes []string
	var refs []control.Ref
	if r.ShortestKept != nil && *r.ShortestKept < keep {
		bad = append(bad, fmt.Sprintf("a batch's events were deleted after %s, before the retention of %s", days(*r.ShortestKept), days(keep)))
	}
	if r.OldestLedger != nil {
		notes = append(notes, fmt.Sprintf("ledger held since %s (%s; entries are never deleted)", r.OldestLedger.Format(time.RFC3339), days(now.Sub(*r.OldestLedger))))
	}
	if r.OldestEvent != nil {
		notes = append(notes, fmt.Sprintf("oldest event kept %s (%s)", r.OldestEvent.Format(time.RFC3339), days(now.Sub(*r.OldestEvent))))
	}
	notes = append(notes, fmt.Sprintf("%d batches, %d pruned with their hashes kept", r.Batches, r.Pruned))
	unknown := 0
	for _, h := range hs {
		if h.Environment != Production {
			continue
		}
		switch {
		case h.JournaldRetention == nil:
			unknown++
		case *h.JournaldRetention < keep:
			bad = append(bad, fmt.Sprintf("%s: journald keeps %s", h.Name, days(*h.JournaldRetention)))
			refs = append(refs, control.Ref{Kind: "host", ID: h.Name})
		}
	}
	if unknown > 0 {
		notes = append(notes, fmt.Sprintf("journald retention unknown on %d production hosts (not reported)", unknown))
	}
	if len(bad) > 0 {
		return control.Outcome{Status: control.Fail, Refs: refs, Summary: fmt.Sprintf("Retention of %s not held: %s. %s.", days(keep), control.Examples(bad, 5, "; "), control.Examples(notes, 5, "; "))}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("Retention of %s held: %s.", days(keep), control.Examples(notes, 5, "; "))}, nil
}
