package vuln_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

var (
	eng   = vuln.Actor{Name: "erik"}
	iso   = vuln.Actor{Name: "ines", SecurityOfficer: true}
	iso2  = vuln.Actor{Name: "ivan", SecurityOfficer: true}
	valid = "the affected parser is never called: see ADR-12"
)

func (f *env) one(t *testing.T, id string) vuln.Finding {
	t.Helper()
	return f.all(t)[id+"|p"]
}

func TestResolutions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.imp(t, report("Trivy", true, pkg("A", "p", vuln.High), pkg("B", "p", vuln.High), pkg("C", "p", vuln.Low)))
		a, b := f.one(t, "A"), f.one(t, "B")
		if _, err := f.svc.Start(ctx, eng, a.ID); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			id   string
			r    vuln.Resolution
			just string
			code opsguard.Code
		}{
			{"false positive without reason", a.ID, vuln.FalsePositive, "nope", opsguard.EInvalid},
			{"unused without reason", a.ID, vuln.NotAffectedUnused, "", opsguard.EInvalid},
			{"risk accepted directly", a.ID, vuln.RiskAccepted, valid, opsguard.EInvalid},
			{"made-up resolution", a.ID, "wontfix", valid, opsguard.EInvalid},
			{"unused with reason", a.ID, vuln.NotAffectedUnused, valid, ""},
			{"already closed", a.ID, vuln.Fixed, "", opsguard.EConflict},
			{"fixed needs no reason", b.ID, vuln.Fixed, "", ""},
		}
		for _, tc := range tests {
			_, err := f.svc.Resolve(ctx, eng, tc.id, tc.r, tc.just)
			if tc.code == "" && err != nil || tc.code != "" && opsguard.ErrorCode(err) != tc.code {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		got := f.one(t, "A")
		if got.Status != vuln.Closed || got.Resolution != vuln.NotAffectedUnused || got.Justification != valid {
			t.Errorf("A = %+v", got)
		}
	})
}

func TestAcceptanceNeedsAnotherSecurityOfficerAndExpires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.imp(t, report("Trivy", true, pkg("A", "p", vuln.Critical)))
		a := f.one(t, "A")
		until := f.now.AddDate(0, 3, 0)
		if _, err := f.svc.RequestAcceptance(ctx, eng, a.ID, "short", until); opsguard.ErrorCode(err) != opsguard.EInvalid {
			t.Errorf("no justification: %v", err)
		}
		if _, err := f.svc.RequestAcceptance(ctx, eng, a.ID, valid, f.now.Add(-time.Hour)); opsguard.ErrorCode(err) != opsguard.EInvalid {
			t.Errorf("expiry in the past: %v", err)
		}
		req, err := f.svc.RequestAcceptance(ctx, iso, a.ID, valid, until)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.RequestAcceptance(ctx, eng, a.ID, valid, until); opsguard.ErrorCode(err) != opsguard.EConflict {
			t.Errorf("second pending request: %v", err)
		}
		// An engineer cannot approve at all; the requester cannot approve their own.
		if _, err := f.svc.Decide(ctx, eng, req.ID, true, ""); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("engineer approved: %v", err)
		}
		if _, err := f.svc.Decide(ctx, iso, req.ID, true, ""); opsguard.ErrorCode(err) != opsguard.EForbidden || !strings.Contains(err.Error(), "requested") {
			t.Errorf("requester approved: %v", err)
		}
		if f.one(t, "A").Status != vuln.Open {
			t.Fatal("a refused approval changed the finding")
		}
		d, err := f.svc.Decide(ctx, iso2, req.ID, true, "compensating WAF rule")
		if err != nil || d.Status != "approved" || d.DecidedBy != "ivan" {
			t.Fatalf("approve: %+v %v", d, err)
		}
		got := f.one(t, "A")
		if got.Status != vuln.Closed || got.Resolution != vuln.RiskAccepted || got.AcceptedUntil == nil || !got.AcceptedUntil.Equal(until) {
			t.Fatalf("accepted = %+v", got)
		}
		if _, err := f.svc.Decide(ctx, iso2, req.ID, false, "changed my mind on this one"); opsguard.ErrorCode(err) != opsguard.EConflict {
			t.Errorf("decided twice: %v", err)
		}
		// Before expiry nothing reopens; after it, the finding reopens by itself.
		f.now = until.Add(-time.Hour)
		if n, _ := f.svc.ReopenExpired(ctx); n != 0 {
			t.Errorf("reopened %d before expiry", n)
		}
		f.now = until.Add(time.Hour)
		if n, err := f.svc.ReopenExpired(ctx); n != 1 || err != nil {
			t.Fatalf("reopened %d, %v", n, err)
		}
		if got := f.one(t, "A"); got.Status != vuln.Open || got.Resolution != "" || got.AcceptedUntil != nil {
			t.Errorf("after expiry = %+v", got)
		}
		var kinds []string
		db.View(ctx, func(tx *store.Tx) error {
			es, err := tx.ListEntries(ctx, ledger.EntryFilter{Subject: "finding/" + a.ID})
			for i := len(es) - 1; i >= 0; i-- {
				kinds = append(kinds, es[i].Kind)
			}
			return err
		})
		want := "finding.opened,finding.acceptance_requested,finding.acceptance_approved,finding.acceptance_expired"
		if got := strings.Join(kinds, ","); got != want {
			t.Errorf("history = %s", got)
		}
	})
}

func TestExtension(t *testing.T) {
	db := storetest.Open(t, t.TempDir()+"/x.db")
	f := newFixture(t, db)
	f.imp(t, report("Trivy", true, pkg("A", "p", vuln.Critical)))
	a := f.one(t, "A")
	if _, err := f.svc.RequestExtension(ctx, eng, a.ID, valid, a.DueAt.Add(-time.Hour)); opsguard.ErrorCode(err) != opsguard.EInvalid {
		t.Errorf("an earlier due date: %v", err)
	}
	due := a.DueAt.AddDate(0, 0, 14)
	req, err := f.svc.RequestExtension(ctx, eng, a.ID, "vendor patch ships on the 20th, tracked in OPS-42", due)
	if err != nil {
		t.Fatal(err)
	}
	for _, reason := range []string{"", "  no  "} {
		if _, err := f.svc.Decide(ctx, iso, req.ID, false, reason); opsguard.ErrorCode(err) != opsguard.EInvalid || !strings.Contains(err.Error(), "reason") {
			t.Errorf("reject with reason %q: %v", reason, err)
		}
	}
	if d, err := f.svc.Decide(ctx, iso, req.ID, false, "patch the library instead"); err != nil || d.Status != "rejected" {
		t.Fatalf("reject: %+v %v", d, err)
	}
	if got := f.one(t, "A"); !got.DueAt.Equal(a.DueAt) {
		t.Error("a rejected extension moved the due date")
	}
	f.now = f.now.Add(time.Minute)
	req, _ = f.svc.RequestExtension(ctx, eng, a.ID, "vendor patch ships on the 20th, tracked in OPS-42", due)
	if _, err := f.svc.Decide(ctx, iso, req.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	got := f.one(t, "A")
	if !got.DueAt.Equal(due) || got.Status != vuln.Open || !strings.Contains(got.RiskNote, "extended to") || !strings.Contains(got.RiskNote, "ines") {
		t.Errorf("extended = %+v", got)
	}
	reqs, _ := f.svc.Requests(ctx, "")
	if len(reqs) != 2 || reqs[0].Status != "rejected" || reqs[1].Status != "approved" {
		t.Errorf("requests = %+v", reqs)
	}
	// Each comes with what its decision needs of the finding; an approved
	// extension keeps the due date it replaced.
	if s := reqs[1].Finding; s == nil || s.VulnID != "A" || s.Asset == "" || s.Package != "p" || s.Severity != vuln.Critical || !s.DueAt.Equal(due) {
		t.Errorf("request's finding = %+v", s)
	}
	if b := reqs[1].DueBefore; b == nil || !b.Equal(a.DueAt) {
		t.Errorf("due before the extension = %v, want %v", b, a.DueAt)
	}
	if mine, err := f.svc.FindingRequests(ctx, a.ID); err != nil || len(mine) != 2 || mine[0].DecisionNote != "patch the library instead" {
		t.Errorf("the finding's requests = %+v, %v", mine, err)
	}
}
