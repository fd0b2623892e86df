package policy_test

import (
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/policy"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// Each day's counts are recorded once with a ledger entry; the trend
// lists them oldest first and ends with today's live counts.
func TestComplianceTrend(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := t.Context()
		e.items = nil
		for _, r := range control.Requirements {
			e.items = append(e.items, control.Item{Requirement: r})
		}
		record := func(want bool) {
			t.Helper()
			if made, err := e.svc.RecordCompliance(ctx); err != nil || made != want {
				t.Fatalf("record on %s: %v, %v; want %v", e.now.Format(time.DateOnly), made, err, want)
			}
		}
		record(true)
		e.now = e.now.Add(3 * time.Hour)
		record(false) // the same day: once
		e.now = e.now.Add(24 * time.Hour)
		e.items[0].Controls = []control.Latest{{ID: "CM-1.x", Result: &control.Result{Status: control.Pass}}}
		record(true)
		e.items[1].Controls = []control.Latest{{ID: "CM-2.x", Result: &control.Result{Status: control.Fail}}}
		tr, err := e.svc.Trend(ctx, 7)
		if err != nil || len(tr) != 2 {
			t.Fatalf("trend %+v, %v: want two days", tr, err)
		}
		if tr[0].Day != "2026-03-02" || tr[0].Live || tr[0].Counts["gap"] != 42 || tr[0].Counts["pass"] != 0 {
			t.Errorf("first day %+v: want 42 gaps recorded", tr[0])
		}
		// Today's bar is now, not the record of the morning.
		if tr[1].Day != "2026-03-03" || !tr[1].Live || tr[1].Counts["pass"] != 1 || tr[1].Counts["fail"] != 1 || tr[1].Counts["gap"] != 40 {
			t.Errorf("today %+v: want 1 pass, 1 fail, 40 gaps, live", tr[1])
		}
		if tr, _ := e.svc.Trend(ctx, 1); len(tr) != 1 || !tr[0].Live {
			t.Errorf("one day: %+v", tr)
		}
		for _, bad := range []int{0, policy.MaxTrendDays + 1} {
			if _, err := e.svc.Trend(ctx, bad); opsguard.ErrorCode(err) != opsguard.EInvalid {
				t.Errorf("days %d: %v", bad, err)
			}
		}
		err = db.View(ctx, func(tx *store.Tx) error {
			es, err := tx.ListEntries(ctx, ledger.EntryFilter{Kind: "compliance.day_recorded", Limit: 10})
			if len(es) != 2 {
				t.Errorf("%d compliance.day_recorded entries, want 2", len(es))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
