package host

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard/host/baseline"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// CheckResult is the newest result of a check on a host.
type CheckResult struct {
	HostID   string    `json:"host_id"`
	Baseline string    `json:"baseline"` // group@version or default
	At       time.Time `json:"at"`
	baseline.Result
}

// Drift is a check that went from passing to failing on a host (CF-2).
// It is approved when a change ticket covered it (TicketID), otherwise a
// violation; it closes when the check passes again, which a new baseline
// version accepting the new state also brings about.
type Drift struct {
	ID        string            `json:"id"`
	HostID    string            `json:"host_id"`
	Check     string            `json:"check"`
	Baseline  string            `json:"baseline"`
	At        time.Time         `json:"at"`
	Before    map[string]string `json:"before"`
	After     map[string]string `json:"after"`
	Status    string            `json:"status"` // approved, violation
	TicketID  string            `json:"ticket_id,omitempty"`
	ClosedAt  *time.Time        `json:"closed_at,omitempty"`
	ClosedWhy string            `json:"closed_why,omitempty"`
}

// The statuses of a drift.
const (
	DriftApproved  = "approved"
	DriftViolation = "violation"
)

// Open reports whether the drift still stands.
func (d Drift) Open() bool { return d.ClosedAt == nil }

// Ticket is what drift and software reconciliation read of a change
// ticket (CM-5). A ticket names what it covers in its title or
// description: the host (its name, its ID or one of its groups) and the
// check ID or package name, each as a whole word.
type Ticket struct {
	ID          string
	State       string // approved or implemented count
	Text        string // title and description
	WindowStart *time.Time
	WindowEnd   *time.Time
}

// ApprovedTickets returns the change tickets approved or implemented.
type ApprovedTickets func(ctx context.Context) ([]Ticket, error)

// names reports whether the ticket's text names the host and the thing.
func (t Ticket) names(h Host, thing string) bool {
	if t.State != "approved" && t.State != "implemented" {
		return false
	}
	words := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(t.Text), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-:+@", r))
	}) {
		words[strings.TrimRight(w, ".:")] = true
	}
	if !words[strings.ToLower(thing)] {
		return false
	}
	for _, n := range append([]string{h.Name, h.ID}, h.Groups...) {
		if words[strings.ToLower(n)] {
			return true
		}
	}
	return false
}

// covers reports whether the ticket approves a drift of check on h at at:
// it names both, and at falls in its window.
func (t Ticket) covers(h Host, check string, at time.Time) bool {
	return t.names(h, check) && t.WindowStart != nil && t.WindowEnd != nil && !at.Before(*t.WindowStart) && !at.After(*t.WindowEnd)
}

// applyConfig records a report's baseline results, its drifts and its
// packages in tx (the report is the host's newest).
func (s *Service) applyConfig(ctx context.Context, tx Tx, h Host, r Report, tickets []Ticket) error {
	if r.Baseline != nil {
		if err := s.applyResults(ctx, tx, h, r, tickets); err != nil {
			return err
		}
	}
	if r.Packages != nil {
		return s.applyPackages(ctx, tx, h, r)
	}
	return nil
}

func (s *Service) applyResults(ctx context.Context, tx Tx, h Host, r Report, tickets []Ticket) error {
	prev, err := tx.BaselineResults(ctx, h.ID)
	if err != nil {
		return err
	}
	before := map[string]CheckResult{}
	for _, p := range prev {
		before[p.Check] = p
	}
	now := map[string]baseline.Result{}
	for _, res := range r.Baseline.Results {
		now[res.Check] = res
		p, had := before[res.Check]
		if had && p.Pass && !res.Pass && p.Baseline == r.Baseline.Baseline {
			if err := s.drifted(ctx, tx, h, r, p, res, tickets); err != nil {
				return err
			}
		}
		if had && p.Pass == res.Pass && p.Detail == res.Detail && sameMap(p.Observed, res.Observed) && p.Baseline == r.Baseline.Baseline {
			continue // unchanged: no write, no seal
		}
		if err := tx.PutBaselineResult(ctx, CheckResult{HostID: h.ID, Baseline: r.Baseline.Baseline, At: r.CollectedAt, Result: res}); err != nil {
			return err
		}
	}
	for _, p := range prev {
		if _, ok := now[p.Check]; !ok {
			if err := tx.DeleteBaselineResult(ctx, h.ID, p.Check); err != nil {
				return err
			}
		}
	}
	return s.closeDrifts(ctx, tx, h, r, now)
}

// drifted records a drift, approved by the first ticket that covers it or
// a violation, which is notified.
func (s *Service) drifted(ctx context.Context, tx Tx, h Host, r Report, p CheckResult, res baseline.Result, tickets []Ticket) error {
	d := Drift{ID: id.New("drift"), HostID: h.ID, Check: res.Check, Baseline: r.Baseline.Baseline, At: r.CollectedAt,
		Before: nonNilMap(p.Observed), After: nonNilMap(res.Observed), Status: DriftViolation}
	for _, t := range tickets {
		if t.covers(h, res.Check, r.CollectedAt) {
			d.Status, d.TicketID = DriftApproved, t.ID
			break
		}
	}
	if err := tx.InsertDrift(ctx, d); err != nil {
		return err
	}
	if _, err := s.log.Append(ctx, tx, ledger.Event{Actor: "system", Kind: "config.drift", Subject: "host/" + h.ID,
		Payload: map[string]any{"drift": d.ID, "host": h.Name, "check": d.Check, "baseline": d.Baseline, "at": d.At,
			"before": d.Before, "after": d.After, "status": d.Status, "ticket": d.TicketID}}); err != nil {
		return err
	}
	if d.Status != DriftViolation || s.opts.Notifier == nil {
		return nil
	}
	return s.opts.Notifier.Notify(ctx, tx, "config.drift", "host/"+h.ID,
		fmt.Sprintf("%s: check %s drifted without an approved change (%s)", h.Name, d.Check, res.Detail),
		map[string]any{"host": h.Name, "check": d.Check, "baseline": d.Baseline, "before": d.Before, "after": d.After, "drift": d.ID})
}

// closeDrifts closes the host's open drifts whose check now passes, or is
// no longer in the baseline the host evaluates.
func (s *Service) closeDrifts(ctx context.Context, tx Tx, h Host, r Report, now map[string]baseline.Result) error {
	open, err := tx.Drifts(ctx, h.ID, true)
	if err != nil {
		return err
	}
	for _, d := range open {
		res, ok := now[d.Check]
		if ok && !res.Pass {
			continue
		}
		why := "passes again"
		switch {
		case !ok:
			why = "no longer checked by baseline " + r.Baseline.Baseline
		case r.Baseline.Baseline != d.Baseline:
			why = "baseline " + r.Baseline.Baseline + " accepts the new state"
		}
		at := r.CollectedAt
		d.ClosedAt, d.ClosedWhy = &at, why
		if err := tx.UpdateDrift(ctx, d); err != nil {
			return err
		}
		if _, err := s.log.Append(ctx, tx, ledger.Event{Actor: "system", Kind: "config.drift_closed", Subject: "host/" + h.ID,
			Payload: map[string]any{"drift": d.ID, "host": h.Name, "check": d.Check, "why": why}}); err != nil {
			return err
		}
	}
	return nil
}

// applyPackages stores the host's packages and ledgers those that came
// and went since its last report.
func (s *Service) applyPackages(ctx context.Context, tx Tx, h Host, r Report) error {
	old, err := tx.HostPackages(ctx, h.ID)
	if err != nil {
		return err
	}
	was := make(map[string]string, len(old))
	for _, p := range old {
		was[p.Name] = p.Version
	}
	var added, changed []baseline.Package
	for _, p := range r.Packages {
		v, ok := was[p.Name]
		delete(was, p.Name)
		if ok && v == p.Version {
			continue
		}
		if ok {
			changed = append(changed, p)
		} else {
			added = append(added, p)
		}
		if err := tx.PutHostPackage(ctx, h.ID, p); err != nil {
			return err
		}
	}
	var removed []string
	for name := range was {
		removed = append(removed, name)
		if err := tx.DeleteHostPackage(ctx, h.ID, name); err != nil {
			return err
		}
	}
	if len(added)+len(changed)+len(removed) == 0 {
		return nil
	}
	payload := map[string]any{"host": h.Name, "at": r.CollectedAt, "added": nonNilPkgs(added), "changed": nonNilPkgs(changed), "removed": nonNil(removed)}
	if len(old) == 0 {
		// The first list is an inventory, not a change.
		payload = map[string]any{"host": h.Name, "at": r.CollectedAt, "inventory": len(added)}
	}
	_, err = s.log.Append(ctx, tx, ledger.Event{Actor: "system", Kind: "host.software", Subject: "host/" + h.ID, Payload: payload})
	return err
}

func nonNilPkgs(p []baseline.Package) []baseline.Package {
	if p == nil {
		return []baseline.Package{}
	}
	return p
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
