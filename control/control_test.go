package control_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

var ctx = context.Background()

func fixed(st control.Status, summary string) func(context.Context) (control.Outcome, error) {
	return func(context.Context) (control.Outcome, error) {
		return control.Outcome{Status: st, Summary: summary}, nil
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newEngine(t *testing.T, db *store.DB, c *clock) (*control.Engine, *ledger.Log) {
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(key, ledger.Options{Now: c.now})
	return control.NewEngine(store.Bind[control.Tx](db), l, c.now, nil), l
}

func TestRunRecordsResultsAndLedger(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
		e, _ := newEngine(t, db, c)
		err := e.Register(
			control.Control{ID: "LG-3.a", Requirement: "LG-3", Title: "a", Evaluate: fixed(control.Pass, "fine")},
			control.Control{ID: "GV-4.b", Requirement: "GV-4", Title: "b", Evaluate: fixed(control.Fail, "broken")},
			control.Control{ID: "GV-4.c", Requirement: "GV-4", Title: "c", Evaluate: func(context.Context) (control.Outcome, error) {
				return control.Outcome{}, errors.New("db down")
			}},
			control.Control{ID: "CM-1.d", Requirement: "CM-1", Title: "d", Evaluate: func(context.Context) (control.Outcome, error) { panic("oops") }},
		)
		if err != nil {
			t.Fatal(err)
		}
		run, err := e.Run(ctx, "iso", "manual")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]control.Status{}
		for _, r := range run.Results {
			got[r.ControlID] = r.Status
		}
		want := map[string]control.Status{"LG-3.a": control.Pass, "GV-4.b": control.Fail, "GV-4.c": control.Error, "CM-1.d": control.Error}
		for id, st := range want {
			if got[id] != st {
				t.Errorf("%s = %s, want %s", id, got[id], st)
			}
		}
		var entry ledger.Entry
		db.View(ctx, func(tx *store.Tx) error { var err error; entry, err = tx.Entry(ctx, run.LedgerSeq); return err })
		if entry.Kind != "controls.run" || entry.Actor != "iso" || !strings.Contains(string(entry.Payload), `"GV-4.b","status":"fail","summary":"broken"`) {
			t.Errorf("ledger entry = %+v %s", entry, entry.Payload)
		}
		cat, err := e.Catalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]control.Status{}
		for _, it := range cat {
			status[it.ID] = it.Status
		}
		for id, st := range map[string]control.Status{"LG-3": control.Pass, "GV-4": control.Fail, "CM-1": control.Fail, "BK-1": control.NotAutomated} {
			if status[id] != st {
				t.Errorf("catalog %s = %s, want %s", id, status[id], st)
			}
		}
		// History keeps every run.
		c.t = c.t.Add(time.Hour)
		e.Run(ctx, "system", "schedule")
		h, _ := e.History(ctx, "LG-3.a", 10)
		if len(h) != 2 || !h[0].EvaluatedAt.After(h[1].EvaluatedAt) {
			t.Errorf("history = %+v", h)
		}
	})
}

func TestRegisterRejectsBadControls(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	e, _ := newEngine(t, db, &clock{time.Now()})
	ok := control.Control{ID: "LG-3.a", Requirement: "LG-3", Evaluate: fixed(control.Pass, "")}
	if err := e.Register(ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []control.Control{
		ok, // twice
		{ID: "XX-9.a", Requirement: "XX-9", Evaluate: fixed(control.Pass, "")},
		{ID: "", Requirement: "LG-3", Evaluate: fixed(control.Pass, "")},
		{ID: "LG-3.b", Requirement: "LG-3"},
	} {
		if err := e.Register(c); err == nil {
			t.Errorf("registered %+v", c.ID)
		}
	}
}

// GV-3 passes while runs come within the schedule and fails after a gap
// (the scheduler itself is tested in package jobs).
func TestRunsOnScheduleSeesAGap(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	c := &clock{time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)}
	e, _ := newEngine(t, db, c)
	e.Register(control.Control{ID: "LG-3.a", Requirement: "LG-3", Evaluate: fixed(control.Pass, "")}, e.RunsOnSchedule(24*time.Hour))
	runs := func() int {
		h, _ := e.History(ctx, "LG-3.a", 100)
		return len(h)
	}
	steps := []struct {
		advance time.Duration
		want    int
	}{{0, 1}, {24 * time.Hour, 2}, {48 * time.Hour, 3}}
	for i, s := range steps {
		c.t = c.t.Add(s.advance)
		if _, err := e.Run(ctx, "system", "schedule"); err != nil {
			t.Fatal(err)
		}
		if got := runs(); got != s.want {
			t.Fatalf("step %d: %d runs, want %d", i, got, s.want)
		}
		h, _ := e.History(ctx, "GV-3.controls-on-schedule", 1)
		if i == 1 && (len(h) != 1 || h[0].Status != control.Pass) {
			t.Errorf("GV-3 after a day = %+v", h)
		}
	}
	// The last run came 48h after the one before: GV-3 saw the gap.
	h, _ := e.History(ctx, "GV-3.controls-on-schedule", 1)
	if len(h) != 1 || h[0].Status != control.Fail {
		t.Errorf("GV-3 after a missed day = %+v", h)
	}
}

// The catalog must hold exactly the requirement IDs of the policy.
func TestCatalogMatchesPolicy(t *testing.T) {
	fixtures := os.Getenv("OPSGUARD_FIXTURES")
	if fixtures == "" {
		fixtures = filepath.Join("..", "..", "shared", "fixtures")
	}
	b, err := os.ReadFile(filepath.Join(fixtures, "..", "policy", "REQUIREMENTS.md"))
	if err != nil {
		storetest.Missing(t, "the policy text ../shared/policy/REQUIREMENTS.md is not here: "+err.Error())
	}
	ids := regexp.MustCompile(`(?m)^- ([A-Z]{2}-\d+) `).FindAllStringSubmatch(string(b), -1)
	if len(ids) != len(control.Requirements) {
		t.Fatalf("policy has %d requirements, catalog %d", len(ids), len(control.Requirements))
	}
	for i, m := range ids {
		if control.Requirements[i].ID != m[1] {
			t.Errorf("catalog[%d] = %s, policy has %s", i, control.Requirements[i].ID, m[1])
		}
		text := control.Requirements[i].Text
		if !strings.Contains(string(b), text[:min(30, len(text))]) {
			t.Errorf("%s: text not found in the policy", m[1])
		}
	}
}
