package policy

import (
	"context"
	"time"

	"github.com/opsguard/opsguard/ledger"
)

// DayCounts are the compliance view's counts of one UTC day.
type DayCounts struct {
	Day    string         `json:"day"` // YYYY-MM-DD
	Counts map[string]int `json:"counts"`
	// Live is true for today's counts, computed now rather than recorded.
	Live bool `json:"live,omitempty"`
}

// TrendTx is what the trend needs from a transaction.
type TrendTx interface {
	// PutComplianceDay stores a day's counts; false when the day has them.
	PutComplianceDay(ctx context.Context, d DayCounts) (bool, error)
	// ComplianceDays returns the days from since on, oldest first.
	ComplianceDays(ctx context.Context, since string) ([]DayCounts, error)
}

// MaxTrendDays bounds the days of one trend.
const MaxTrendDays = 400

// RecordCompliance records today's counts of the compliance view, once a
// day (a later run the same day does nothing), with a ledger entry.
func (s *Service) RecordCompliance(ctx context.Context) (bool, error) {
	c, err := s.Compliance(ctx)
	if err != nil {
		return false, err
	}
	d := DayCounts{Day: s.stamp().Format(time.DateOnly), Counts: c.Counts}
	made := false
	err = s.store.Update(ctx, func(tx Tx) error {
		var err error
		if made, err = tx.PutComplianceDay(ctx, d); err != nil || !made {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: "system", Kind: "compliance.day_recorded", Subject: "compliance/" + d.Day,
			Payload: map[string]any{"day": d.Day, "counts": d.Counts}})
		return err
	})
	return made, err
}

// Trend returns the counts of the last days (1 … MaxTrendDays), oldest
// first, ending with today's live counts.
func (s *Service) Trend(ctx context.Context, days int) ([]DayCounts, error) {
	if days < 1 || days > MaxTrendDays {
		return nil, invalid("days", "days %d: 1 to %d", days, MaxTrendDays)
	}
	today := s.stamp().Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, -(days - 1)).Format(time.DateOnly)
	var out []DayCounts
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ComplianceDays(ctx, since)
		return err
	})
	if err != nil {
		return nil, err
	}
	c, err := s.Compliance(ctx)
	if err != nil {
		return nil, err
	}
	if n := len(out); n > 0 && out[n-1].Day == today.Format(time.DateOnly) {
		out = out[:n-1]
	}
	return append(out, DayCounts{Day: today.Format(time.DateOnly), Counts: c.Counts, Live: true}), nil
}
