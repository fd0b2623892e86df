package vuln

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
)

// FeedTx is what a feed import needs beyond Tx.
type FeedTx interface {
	Tx
	UpsertIntel(ctx context.Context, kind string, entries []Intel, at time.Time) error
	// OpenFindingsWithIDs returns the findings not closed, with their ids.
	OpenFindingsWithIDs(ctx context.Context) ([]Finding, error)
}

// FeedSummary says what a feed import changed.
type FeedSummary struct {
	Kind       string `json:"kind"`
	Version    string `json:"version"`
	Entries    int    `json:"entries"`
	Reassessed int    `json:"reassessed"` // open findings whose risk or due date changed
	LedgerSeq  int64  `json:"ledger_seq"`
}

// ImportFeed stores a CISA KEV catalog or an EPSS file (VM-8: information
// from trusted sources) and reassesses the risk and due date of every open
// finding (VM-6), in one transaction, the feed kept as evidence.
func (s *Service) ImportFeed(ctx context.Context, actor, name string, data []byte) (FeedSummary, error) {
	feed, err := s.formats.ParseFeed(name, data)
	if err != nil {
		return FeedSummary{}, &opsguard.Error{Code: opsguard.EInvalid, Message: err.Error()}
	}
	sum := FeedSummary{Kind: feed.Kind, Version: feed.Version, Entries: len(feed.Entries)}
	err = s.store.Update(ctx, func(tx Tx) error {
		ftx, ok := tx.(FeedTx)
		if !ok {
			return fmt.Errorf("vuln: the store does not support feeds")
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		blob, err := s.log.PutBlob(ctx, tx, "application/octet-stream", data)
		if err != nil {
			return err
		}
		if err := ftx.UpsertIntel(ctx, feed.Kind, feed.Entries, now); err != nil {
			return err
		}
		events, err := s.reassess(ctx, ftx, actor)
		if err != nil {
			return err
		}
		sum.Reassessed = len(events)
		events = append(events, ledger.Event{Actor: actor, Kind: "feed.imported", Subject: "feed/" + feed.Kind,
			Payload: map[string]any{"file": name, "version": feed.Version, "entries": len(feed.Entries), "reassessed": len(events), "evidence": []string{blob.Ref()}}})
		es, err := s.log.Append(ctx, tx, events...)
		if err != nil {
			return err
		}
		sum.LedgerSeq = es[len(es)-1].Seq
		return nil
	})
	if err != nil {
		return FeedSummary{}, fmt.Errorf("import feed %s: %w", name, err)
	}
	return sum, nil
}

// reassess recomputes risk and due date of every open finding from the
// feeds; an approved extension's due date stands.
func (s *Service) reassess(ctx context.Context, tx FeedTx, actor string) ([]ledger.Event, error) {
	fs, err := tx.OpenFindingsWithIDs(ctx)
	if err != nil {
		return nil, err
	}
	var all []string
	for _, f := range fs {
		for x := range f.IDs {
			all = append(all, x)
		}
	}
	intel, err := tx.Intel(ctx, all)
	if err != nil {
		return nil, err
	}
	var events []ledger.Event
	for _, f := range fs {
		var xs []string
		for x := range f.IDs {
			xs = append(xs, x)
		}
		sort.Strings(xs)
		days, risk, note := assess(s.cfg, f.Severity, intelOf(xs, intel))
		due := f.FirstSeen.AddDate(0, 0, days)
		if f.ExtendedUntil != nil {
			due = *f.ExtendedUntil
		}
		if risk == f.Risk && days == f.SLADays && due.Equal(f.DueAt) {
			continue
		}
		from := map[string]any{"risk": f.Risk, "sla_days": f.SLADays, "due_at": f.DueAt}
		f.Risk, f.SLADays, f.DueAt, f.RiskNote = risk, days, due, note
		if err := tx.UpdateFindingRisk(ctx, f); err != nil {
			return nil, err
		}
		events = append(events, ledger.Event{Actor: actor, Kind: "finding.risk_changed", Subject: "finding/" + f.ID,
			Payload: map[string]any{"from": from, "risk": risk, "sla_days": days, "due_at": due, "why": note}})
	}
	return events, nil
}
