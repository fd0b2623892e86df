package web_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/vuln"
)

// BenchmarkRegisterFirstPage measures GET /api/v1/findings (the first page
// of 50, soonest due first, with the total) over a register of
// OPSGUARD_BENCH_REGISTER findings (default 100000; the figure is
// for 1000000). The findings are seeded straight into the store: the
// benchmark is of the read.
func BenchmarkRegisterFirstPage(b *testing.B) {
	n := 100000
	if s := os.Getenv("OPSGUARD_BENCH_REGISTER"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	e := newEnvB(b)
	seed(b, e, n)
	tok := e.tokens[auth.Auditor]
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/findings?limit=50", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/page")
}

func seed(b *testing.B, e *env, n int) {
	now := time.Now().UTC()
	a := vuln.Asset{ID: "ast_bench", Name: "bench", Kind: "image", CreatedAt: now}
	err := e.sealed(func(tx *store.Tx) error {
		if _, err := tx.InsertAsset(ctx, a); err != nil {
			return err
		}
		return tx.InsertScan(ctx, vuln.Scan{ID: "scn_bench", AssetID: a.ID, Format: "trivy", Tool: "Trivy", ImportedAt: now})
	})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 10000
	sevs := vuln.Severities
	for done := 0; done < n; done += batch {
		fs := make([]vuln.Finding, 0, batch)
		for i := done; i < min(n, done+batch); i++ {
			sev := sevs[i%len(sevs)]
			fs = append(fs, vuln.Finding{ID: fmt.Sprintf("fnd_%08d", i), AssetID: a.ID, VulnID: fmt.Sprintf("CVE-2099-%07d", i),
				Package: fmt.Sprintf("pkg-%d", i), Version: "1.0", Title: "bench", Severity: sev, Risk: vuln.RiskMedium, RiskNote: "bench",
				Status: vuln.Open, FirstSeen: now, LastSeen: now, SLADays: 30, DueAt: now.Add(time.Duration(i%100000) * time.Minute),
				IDs: map[string]struct{}{fmt.Sprintf("CVE-2099-%07d", i): {}}})
		}
		if err := e.sealed(func(tx *store.Tx) error { return tx.InsertFindings(ctx, fs, "Trivy", "scn_bench") }); err != nil {
			b.Fatal(err)
		}
	}
}

// sealed writes rows straight through the store, as a benchmark seeds
// them, in a transaction the instance's ledger seals.
func (e *env) sealed(fn func(tx *store.Tx) error) error {
	return e.app.DB.Update(ctx, func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := e.app.Log.Append(ctx, tx, ledger.Event{Actor: "bench", Kind: "bench.seeded", Subject: "asset/ast_bench"})
		return err
	})
}

// BenchmarkComplianceView measures GET /api/v1/requirements (all 42
// requirements with their controls' latest results and the attestations)
// over a year of daily runs of every registered control, seeded straight
// into the store and ledgered in one entry.
func BenchmarkComplianceView(b *testing.B) {
	e := newEnvB(b)
	controls := e.app.Controls.Controls()
	start := time.Now().UTC().AddDate(-1, 0, 0)
	err := e.app.DB.Update(ctx, func(tx *store.Tx) error {
		for d := range 365 {
			at := start.AddDate(0, 0, d)
			run := control.Run{ID: fmt.Sprintf("run_%04d", d), Trigger: "schedule", Actor: "system", StartedAt: at, FinishedAt: at.Add(time.Second)}
			for i, c := range controls {
				st := control.Pass
				if (d+i)%7 == 0 {
					st = control.Fail
				}
				run.Results = append(run.Results, control.Result{RunID: run.ID, ControlID: c.ID, Requirement: c.Requirement, Status: st,
					Summary: "seeded", Refs: []control.Ref{}, EvaluatedAt: at})
			}
			if err := tx.InsertControlRun(ctx, run); err != nil {
				return err
			}
		}
		_, err := e.app.Log.Append(ctx, tx, ledger.Event{Actor: "bench", Kind: "bench.seeded", Subject: "bench/runs", Payload: map[string]any{"runs": 365}})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/requirements", nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[auth.Auditor])
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
	}
	b.ReportMetric(float64(time.Since(t0).Microseconds())/1000/float64(b.N), "ms/view")
	b.ReportMetric(float64(len(controls)*365), "results")
}
