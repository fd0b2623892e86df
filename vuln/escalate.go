package vuln

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/opsguard/opsguard/ledger"
)

// Notifier queues a notification of an event kind in the transaction of
// the event (the app writes it to the outbox it delivers from), so that an
// escalation is recorded exactly when its notice is.
type Notifier interface {
	Notify(ctx context.Context, tx Tx, kind, subject, summary string, data map[string]any) error
}

// EscalationTx is what escalation needs beyond Tx.
type EscalationTx interface {
	Tx
	BreachedFindings(ctx context.Context, now time.Time) ([]Finding, error)
	LastEscalations(ctx context.Context) (map[string]time.Time, error)
	RecordEscalation(ctx context.Context, findingID string, at time.Time) error
	// ClearEscalation forgets a finding's escalation (its due date moved;
	// the ledger keeps the history).
	ClearEscalation(ctx context.Context, findingID string) error
}

// EscalationSummary says what a round of escalation did.
type EscalationSummary struct {
	Breached  int `json:"breached"`  // open findings past due
	Escalated int `json:"escalated"` // notified this round (new breaches and reminders)
	Assets    int `json:"assets"`    // assets with a breach notified
	Digests   int `json:"digests"`   // digests sent: one per owner, one for the assets nobody owns
}

// Escalate notifies each breach once ("vuln.sla_breached"), again after
// vuln.escalation_reminder_days while it stays open, and sends one digest
// per owner of the breaches notified on their assets ("vuln.breach_digest",
// with the owner in its data; the assets nobody owns share one). Each
// escalation is ledgered and its notices queued in one transaction.
func (s *Service) Escalate(ctx context.Context, n Notifier) (EscalationSummary, error) {
	var sum EscalationSummary
	var due []Finding
	var owners map[string]string
	now := s.now().UTC().Truncate(time.Microsecond)
	remind := time.Duration(s.cfg.EscalationReminderDays) * 24 * time.Hour
	err := s.store.Update(ctx, func(tx Tx) error {
		etx, ok := tx.(EscalationTx)
		if !ok {
			return fmt.Errorf("vuln: the store does not support escalation")
		}
		fs, err := etx.BreachedFindings(ctx, now)
		if err != nil {
			return err
		}
		otx, err := ownerTx(tx)
		if err != nil {
			return err
		}
		if owners, err = otx.AssetOwners(ctx); err != nil {
			return err
		}
		sum.Breached = len(fs)
		last, err := etx.LastEscalations(ctx)
		if err != nil {
			return err
		}
		var events []ledger.Event
		for _, f := range fs {
			at, seen := last[f.ID]
			if seen && now.Sub(at) < remind {
				continue
			}
			if err := etx.RecordEscalation(ctx, f.ID, now); err != nil {
				return err
			}
			due = append(due, f)
			events = append(events, ledger.Event{Actor: "system", Kind: "finding.escalated", Subject: "finding/" + f.ID,
				Payload: map[string]any{"due_at": f.DueAt, "days_late": int(now.Sub(f.DueAt).Hours() / 24), "reminder": seen}})
		}
		if _, err := s.log.Append(ctx, tx, events...); err != nil {
			return err
		}
		sum.Assets, sum.Digests, err = notifyBreaches(ctx, tx, n, due, owners, now)
		return err
	})
	if err != nil {
		return EscalationSummary{Breached: sum.Breached}, fmt.Errorf("escalate: %w", err)
	}
	sum.Escalated = len(due)
	return sum, nil
}

// notifyBreaches queues one notice per breach and one digest per owner; it
// returns the number of assets and of digests.
func notifyBreaches(ctx context.Context, tx Tx, n Notifier, due []Finding, owners map[string]string, now time.Time) (int, int, error) {
	byOwner := map[string][]Finding{}
	assets := map[string]bool{}
	for _, f := range due {
		byOwner[owners[f.Asset]] = append(byOwner[owners[f.Asset]], f)
		assets[f.Asset] = true
		late := int(now.Sub(f.DueAt).Hours() / 24)
		if err := n.Notify(ctx, tx, "vuln.sla_breached", "finding/"+f.ID,
			fmt.Sprintf("%s on %s (%s, %s risk) is %d days past its due date %s", f.VulnID, f.Asset, f.Severity, f.Risk, late, f.DueAt.Format(time.DateOnly)),
			map[string]any{"finding": f.ID, "asset": f.Asset, "owner": owners[f.Asset], "vuln": f.VulnID, "severity": f.Severity, "risk": f.Risk,
				"due_at": f.DueAt, "days_late": late, "sla": f.RiskNote}); err != nil {
			return 0, 0, err
		}
	}
	names := make([]string, 0, len(byOwner))
	for o := range byOwner {
		names = append(names, o)
	}
	sort.Strings(names)
	for _, owner := range names {
		var list []map[string]any
		var on []string
		for _, f := range byOwner[owner] {
			list = append(list, map[string]any{"finding": f.ID, "asset": f.Asset, "vuln": f.VulnID, "severity": f.Severity, "due_at": f.DueAt})
			if !slices.Contains(on, f.Asset) {
				on = append(on, f.Asset)
			}
		}
		sort.Strings(on)
		subject, summary := "owner/"+owner, fmt.Sprintf("%d findings on %s's assets are past their due date", len(list), owner)
		if owner == "" {
			subject, summary = "owner/none", fmt.Sprintf("%d findings on assets nobody owns are past their due date", len(list))
		}
		if err := n.Notify(ctx, tx, "vuln.breach_digest", subject, summary,
			map[string]any{"owner": owner, "assets": on, "findings": list}); err != nil {
			return 0, 0, err
		}
	}
	return len(assets), len(names), nil
}
