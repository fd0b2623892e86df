package vuln_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

type quiet struct{}

func (quiet) Notify(context.Context, vuln.Tx, string, string, string, map[string]any) error {
	return nil
}

// VM-4: every breach is escalated within a day of breaching, and every SLA
// extension is approved by another security officer before the breach.
func TestVM4EscalationAndExtensions(t *testing.T) {
	const day = 24 * time.Hour
	escalate := func(t *testing.T, f *env) {
		t.Helper()
		if _, err := f.svc.Escalate(ctx, quiet{}); err != nil {
			t.Fatal(err)
		}
	}
	extend := func(t *testing.T, f *env, id string, until time.Time) {
		t.Helper()
		r, err := f.svc.RequestExtension(ctx, eng, id, valid, until)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Decide(ctx, iso, r.ID, true, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Each case starts with one critical finding (due in 7 days) and one
	// low one, at f.now; due is the critical one's due date.
	tests := []struct {
		name string
		act  func(t *testing.T, f *env, db *store.DB, id string, due time.Time)
		want control.Status
	}{
		{"no breach", func(t *testing.T, f *env, _ *store.DB, _ string, due time.Time) { f.now = due.Add(-time.Hour) }, control.Pass},
		{"breach escalated within the hour", func(t *testing.T, f *env, _ *store.DB, _ string, due time.Time) {
			f.now = due.Add(time.Hour)
			escalate(t, f)
			f.now = due.Add(5 * day)
		}, control.Pass},
		{"breach younger than a day, not escalated yet", func(t *testing.T, f *env, _ *store.DB, _ string, due time.Time) { f.now = due.Add(20 * time.Hour) }, control.Pass},
		{"breach two days old, never escalated", func(t *testing.T, f *env, _ *store.DB, _ string, due time.Time) { f.now = due.Add(2 * day) }, control.Fail},
		{"breach escalated two days late", func(t *testing.T, f *env, _ *store.DB, _ string, due time.Time) {
			f.now = due.Add(2 * day)
			escalate(t, f)
		}, control.Fail},
		{"breach fixed three days late, never escalated", func(t *testing.T, f *env, _ *store.DB, id string, due time.Time) {
			f.now = due.Add(3 * day)
			if _, err := f.svc.Resolve(ctx, eng, id, "fixed", ""); err != nil {
				t.Fatal(err)
			}
			f.now = due.Add(10 * day)
		}, control.Fail},
		{"extension approved before the breach", func(t *testing.T, f *env, _ *store.DB, id string, due time.Time) {
			f.now = due.Add(-day)
			extend(t, f, id, due.Add(30*day))
			f.now = due.Add(5 * day)
		}, control.Pass},
		{"extension approved after the breach", func(t *testing.T, f *env, _ *store.DB, id string, due time.Time) {
			f.now = due.Add(2 * time.Hour)
			escalate(t, f)
			f.now = due.Add(3 * day)
			extend(t, f, id, due.Add(30*day))
		}, control.Fail},
		{"extension approved by its requester", func(t *testing.T, f *env, db *store.DB, id string, due time.Time) {
			f.now = due.Add(-day)
			extend(t, f, id, due.Add(30*day))
			storetest.Exec(t, db, "UPDATE vuln_requests SET decided_by = requested_by WHERE finding_id = ?", id)
		}, control.Fail},
	}
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					db := storetest.Open(t, b.DSN(t))
					f := newFixture(t, db)
					f.imp(t, report("Trivy", true, pkg("CVE-1", "a", vuln.Critical), pkg("CVE-2", "b", vuln.Low)))
					crit := f.all(t)["CVE-1|a"]
					tc.act(t, f, db, crit.ID, crit.DueAt)
					o := evaluate(t, f.svc)["VM-4.breaches-escalated"]
					if o.Status != tc.want {
						t.Fatalf("VM-4 = %s (%s), want %s", o.Status, o.Summary, tc.want)
					}
					if tc.want == control.Fail && (len(o.Refs) == 0 || !strings.Contains(o.Summary, crit.ID)) {
						t.Errorf("VM-4 fails without naming the finding %s: %+v", crit.ID, o)
					}
				})
			}
		})
	}
}

// A failing summary that names three of five says there are two more, in
// the plural.
func TestControlSummarySaysHowManyMore(t *testing.T) {
	db := storetest.Open(t, t.TempDir()+"/x.db")
	f := newFixture(t, db)
	f.imp(t, report("Trivy", true, pkg("A", "a", vuln.Critical), pkg("B", "b", vuln.Critical), pkg("C", "c", vuln.Critical),
		pkg("D", "d", vuln.Critical), pkg("E", "e", vuln.Critical), pkg("F", "f", vuln.Low)))
	f.now = f.now.AddDate(0, 0, 8)
	o := evaluate(t, f.svc)["VM-3.sla-kept"]
	if !strings.Contains(o.Summary, "5 of 6 findings are open past their due date: ") || !strings.HasSuffix(o.Summary, " and 2 more.") {
		t.Errorf("VM-3 summary = %q", o.Summary)
	}
}
