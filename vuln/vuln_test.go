package vuln_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

var ctx = context.Background()

// testFormat is a report format of the test's own, so that merging,
// closing and reopening are checked with exactly the findings they need;
// the real formats are checked on real reports in their own tests.
type testFormat struct{}

type testReport struct {
	Tool     string          `json:"tool"`
	Target   string          `json:"target"`
	Complete bool            `json:"complete"`
	Findings []vuln.Reported `json:"findings"`
}

func (testFormat) Name() string            { return "test" }
func (testFormat) Detect(data []byte) bool { return importers.Sniff(data, "test-report") }
func (testFormat) Parse(name string, data []byte) (*vuln.Report, error) {
	var r testReport
	if err := importers.DecodeJSON(name, data, &r); err != nil {
		return nil, err
	}
	return &vuln.Report{Tool: r.Tool, Target: r.Target, Complete: r.Complete, Findings: r.Findings}, nil
}

func init() { importers.Register(testFormat{}) }

func report(tool string, complete bool, fs ...vuln.Reported) []byte {
	b, _ := json.Marshal(map[string]any{"test-report": true, "tool": tool, "target": "registry.example/app:1", "complete": complete, "findings": fs})
	return b
}

func pkg(id, name string, sev vuln.Severity, aliases ...string) vuln.Reported {
	return vuln.Reported{VulnID: id, Aliases: aliases, Package: name, Version: "1.0", Severity: sev, Title: id + " in " + name}
}

type env struct {
	db  *store.DB
	svc *vuln.Service
	now time.Time
}

func newFixture(t testing.TB, db *store.DB) *env {
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	f := &env{db: db, now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	f.svc = vuln.NewService(store.Bind[vuln.Tx](db), ledger.New(key, ledger.Options{}), config.Default().Vuln, vuln.Options{Formats: importers.Formats{}, Now: func() time.Time { return f.now }})
	return f
}

func (f *env) imp(t *testing.T, data []byte) vuln.Summary {
	t.Helper()
	s, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{File: "r.json", Format: "auto", Data: data, AssetKind: "image"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *env) all(t *testing.T) map[string]vuln.Finding {
	t.Helper()
	fs, _, err := f.svc.List(ctx, vuln.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]vuln.Finding{}
	for _, x := range fs {
		out[x.VulnID+"|"+x.Package] = x
	}
	return out
}

func TestImportMergesAliasesAndIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		r := report("Trivy", true,
			pkg("CVE-2024-1", "openssl", vuln.High, "GHSA-aaaa"),
			pkg("GHSA-aaaa", "openssl", vuln.Critical), // the same vulnerability, by its alias
			pkg("CVE-2024-1", "zlib", vuln.High),       // another package: another finding
			pkg("CVE-2024-2", "zlib", vuln.Low),
		)
		s := f.imp(t, r)
		if s.Findings != 3 || s.New != 3 || s.Unchanged != 0 || s.Asset != "registry.example/app:1" || s.Tool != "Trivy" {
			t.Fatalf("first import: %+v", s)
		}
		all := f.all(t)
		if got := all["CVE-2024-1|openssl"]; got.Severity != vuln.Critical || len(got.Aliases) != 1 || got.Aliases[0] != "GHSA-aaaa" {
			t.Errorf("merged finding: %+v", got)
		}
		f.now = f.now.Add(time.Hour)
		again := f.imp(t, r)
		if again.New != 0 || again.Unchanged != 3 || again.Fixed != 0 {
			t.Fatalf("re-import: %+v", again)
		}
		after := f.all(t)
		for k, x := range all {
			y := after[k]
			if !y.LastSeen.Equal(f.now) || y.ID != x.ID || !y.FirstSeen.Equal(x.FirstSeen) || !y.DueAt.Equal(x.DueAt) || y.Status != x.Status {
				t.Errorf("%s changed beyond last_seen: %+v -> %+v", k, x, y)
			}
		}
		// A later report naming the vulnerability only by its GHSA id is the same finding.
		s3 := f.imp(t, report("Grype", false, pkg("GHSA-aaaa", "openssl", vuln.High)))
		if s3.New != 0 || s3.Unchanged != 1 {
			t.Errorf("alias from another tool: %+v", s3)
		}
	})
}

func TestAutoCloseAndRegression(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		a, b := pkg("CVE-1", "a", vuln.High), pkg("CVE-2", "b", vuln.Medium)
		f.imp(t, report("Trivy", true, a, b))
		f.imp(t, report("Grype", true, b)) // a second tool also reports b
		f.now = f.now.Add(24 * time.Hour)
		s := f.imp(t, report("Trivy", true)) // a newer complete Trivy scan: both gone
		if s.Fixed != 1 {
			t.Fatalf("fixed = %d, want 1 (b is still reported by Grype): %+v", s.Fixed, s)
		}
		all := f.all(t)
		if x := all["CVE-1|a"]; x.Status != vuln.Closed || x.Resolution != vuln.Fixed || x.FixedByScan != s.Scan || x.ClosedAt == nil {
			t.Errorf("a: %+v", x)
		}
		if x := all["CVE-2|b"]; x.Status != vuln.Open || len(x.Tools) != 0 && x.Tools[0] != "Grype" {
			t.Errorf("b: %+v", x)
		}
		// An incomplete report (an assessment) closes nothing.
		if s := f.imp(t, report("Pentest", false)); s.Fixed != 0 {
			t.Errorf("incomplete report closed %d", s.Fixed)
		}
		s = f.imp(t, report("Grype", true)) // now Grype no longer sees b either
		if s.Fixed != 1 || f.all(t)["CVE-2|b"].FixedByScan != s.Scan {
			t.Errorf("b after Grype: %+v", s)
		}
		// a comes back: reopened, a regression.
		s = f.imp(t, report("Trivy", true, a))
		x := f.all(t)["CVE-1|a"]
		if s.Reopened != 1 || x.Status != vuln.Open || !x.Regression || x.Resolution != "" || x.FixedByScan != "" {
			t.Errorf("regression: %+v %+v", s, x)
		}
		// Every step is in the ledger.
		var kinds []string
		db.View(ctx, func(tx *store.Tx) error {
			es, err := tx.ListEntries(ctx, ledger.EntryFilter{Subject: "finding/" + x.ID})
			for i := len(es) - 1; i >= 0; i-- {
				kinds = append(kinds, es[i].Kind)
			}
			return err
		})
		if got := strings.Join(kinds, ","); got != "finding.opened,finding.fixed,finding.reopened" {
			t.Errorf("history of a = %s", got)
		}
	})
}

func TestSLAPerSeverity(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	f := newFixture(t, db)
	f.imp(t, report("Trivy", true,
		pkg("C", "p", vuln.Critical), pkg("H", "p", vuln.High), pkg("M", "p", vuln.Medium),
		pkg("L", "p", vuln.Low), pkg("I", "p", vuln.Info)))
	tests := []struct {
		id   string
		days int
		risk vuln.Risk
	}{{"C", 7, vuln.RiskHigh}, {"H", 30, vuln.RiskHigh}, {"M", 90, vuln.RiskMedium}, {"L", 180, vuln.RiskLow}, {"I", 180, vuln.RiskLow}}
	all := f.all(t)
	for _, tc := range tests {
		x := all[tc.id+"|p"]
		if x.SLADays != tc.days || !x.DueAt.Equal(f.now.AddDate(0, 0, tc.days)) || x.Risk != tc.risk || !strings.Contains(x.RiskNote, fmt.Sprint(tc.days)) {
			t.Errorf("%s: sla %d due %v risk %s (%s)", tc.id, x.SLADays, x.DueAt, x.Risk, x.RiskNote)
		}
	}
	// Breached: 8 days later only the critical one is late.
	f.now = f.now.AddDate(0, 0, 8)
	late, _, _ := f.svc.List(ctx, vuln.Filter{Breached: true})
	if len(late) != 1 || late[0].VulnID != "C" {
		t.Errorf("breached = %+v", late)
	}
}

func TestBadReportsImportNothing(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	f := newFixture(t, db)
	good := report("Trivy", true, pkg("CVE-1", "a", vuln.High))
	for _, tc := range []struct {
		name, format string
		data         []byte
		want         string
	}{
		{"truncated", "auto", good[:len(good)/2], "r.json"},
		{"unknown format", "auto", []byte(`{"hello": "world"}`), "expected one of"},
		{"named unknown format", "nessus", good, "unknown format"},
		{"empty", "auto", nil, "empty"},
	} {
		_, err := f.svc.Import(ctx, "ci", vuln.ImportRequest{File: "r.json", Format: tc.format, Data: tc.data})
		if opsguard.ErrorCode(err) != opsguard.EInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if fs, total, _ := f.svc.List(ctx, vuln.Filter{}); total != 0 || len(fs) != 0 {
		t.Errorf("a bad report left %d findings", total)
	}
	var n int64
	db.View(ctx, func(tx *store.Tx) error { var err error; n, err = tx.LedgerSize(ctx); return err })
	if n != 0 {
		t.Errorf("a bad report left %d ledger entries", n)
	}
}
