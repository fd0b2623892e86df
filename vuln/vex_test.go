package vuln_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// The VEX documents opsguard writes map each resolution onto the standard
// status, and read back through the project's own VEX importers.
func TestExportVEX(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	f := newFixture(t, db)
	f.imp(t, report("Trivy", true,
		pkg("CVE-1", "p", vuln.High, "GHSA-1111"), pkg("CVE-2", "p", vuln.High), pkg("CVE-3", "p", vuln.High),
		pkg("CVE-4", "p", vuln.High), pkg("CVE-5", "p", vuln.High)))
	all := f.all(t)
	f.svc.Resolve(ctx, eng, all["CVE-1|p"].ID, vuln.Fixed, "")
	f.svc.Resolve(ctx, eng, all["CVE-2|p"].ID, vuln.FalsePositive, "the scanner matched a different vendor's openssl")
	f.svc.Resolve(ctx, eng, all["CVE-3|p"].ID, vuln.NotAffectedUnused, "the vulnerable TLS renegotiation is disabled")
	req, _ := f.svc.RequestAcceptance(ctx, eng, all["CVE-4|p"].ID, "internal tool, no network exposure", f.now.AddDate(0, 1, 0))
	if _, err := f.svc.Decide(ctx, iso, req.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{ // status, justification
		"CVE-1": {"fixed", ""},
		"CVE-2": {"not_affected", "vulnerable_code_not_present"},
		"CVE-3": {"not_affected", "vulnerable_code_not_in_execute_path"},
		"CVE-4": {"affected", ""},
		"CVE-5": {"under_investigation", ""},
	}
	for _, format := range []string{vuln.OpenVEX, vuln.CycloneDX} {
		t.Run(format, func(t *testing.T) {
			doc, err := f.svc.ExportVEX(ctx, "registry.example/app:1", format)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := importers.Parse("export."+format, "auto", doc)
			if err != nil {
				t.Fatalf("our own export does not import: %v\n%s", err, doc)
			}
			if rep.Format != format || len(rep.Statements) != len(want) {
				t.Fatalf("format %s, %d statements", rep.Format, len(rep.Statements))
			}
			for _, st := range rep.Statements {
				w := want[st.VulnID]
				if st.Status != w[0] || w[1] != "" && st.Justification != w[1] {
					t.Errorf("%s: %s/%s, want %s/%s", st.VulnID, st.Status, st.Justification, w[0], w[1])
				}
			}
		})
	}
	if _, err := f.svc.ExportVEX(ctx, "nothing-here", vuln.OpenVEX); err == nil {
		t.Error("export of an unknown asset succeeded")
	}
}

// A VEX exported by opsguard imports back: another register with the same
// findings ends in the same state, except that an accepted risk arrives as
// a request awaiting a security officer.
func TestVEXRoundTrip(t *testing.T) {
	for _, format := range []string{vuln.OpenVEX, vuln.CycloneDX} {
		t.Run(format, func(t *testing.T) {
			src := newFixture(t, storetest.Open(t, filepath.Join(t.TempDir(), "a.db")))
			dst := newFixture(t, storetest.Open(t, filepath.Join(t.TempDir(), "b.db")))
			r := report("Trivy", true, pkg("CVE-1", "p", vuln.High), pkg("CVE-2", "p", vuln.High),
				pkg("CVE-3", "p", vuln.High), pkg("CVE-4", "p", vuln.High), pkg("CVE-5", "p", vuln.High))
			src.imp(t, r)
			dst.imp(t, r)
			all := src.all(t)
			src.svc.Resolve(ctx, eng, all["CVE-1|p"].ID, vuln.Fixed, "")
			src.svc.Resolve(ctx, eng, all["CVE-2|p"].ID, vuln.FalsePositive, "the scanner matched a different vendor's openssl")
			src.svc.Resolve(ctx, eng, all["CVE-3|p"].ID, vuln.NotAffectedUnused, "the vulnerable TLS renegotiation is disabled")
			req, _ := src.svc.RequestAcceptance(ctx, eng, all["CVE-4|p"].ID, "internal tool, no network exposure", src.now.AddDate(0, 1, 0))
			src.svc.Decide(ctx, iso, req.ID, true, "")
			doc, err := src.svc.ExportVEX(ctx, "registry.example/app:1", format)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dst.svc.Import(ctx, "ines", vuln.ImportRequest{File: "vex.json", Data: doc}); err == nil {
				t.Error("a VEX without the asset was accepted")
			}
			if _, err := dst.svc.Import(ctx, "ines", vuln.ImportRequest{Asset: "registry.example/app:1", File: "vex.json", Data: doc}); err != nil {
				t.Fatal(err)
			}
			got := dst.all(t)
			for id, want := range map[string]vuln.Resolution{"CVE-1": vuln.Fixed, "CVE-2": vuln.FalsePositive, "CVE-3": vuln.NotAffectedUnused} {
				if x := got[id+"|p"]; x.Status != vuln.Closed || x.Resolution != want {
					t.Errorf("%s: %s/%s, want closed/%s", id, x.Status, x.Resolution, want)
				}
			}
			if x := got["CVE-5|p"]; x.Status != vuln.Open {
				t.Errorf("CVE-5 (under investigation) = %s", x.Status)
			}
			pending, _ := dst.svc.Requests(ctx, "pending")
			if len(pending) != 1 || pending[0].FindingID != got["CVE-4|p"].ID || got["CVE-4|p"].Status != vuln.Open {
				t.Errorf("the accepted risk should await approval: %+v", pending)
			}
		})
	}
}

// Applying a vendor's VEX document closes the findings it speaks of, in one
// transaction, ledgered with the document as evidence.
func TestVEXApplyIsLedgered(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	f := newFixture(t, db)
	f.imp(t, report("Trivy", true, pkg("CVE-1", "p", vuln.High)))
	doc := []byte(`{"@context":"https://openvex.dev/ns/v0.2.0","@id":"x","author":"vendor","timestamp":"2026-11-01T00:00:00Z","version":1,
	  "statements":[{"vulnerability":{"name":"CVE-1"},"products":[{"@id":"registry.example/app:1"}],"status":"not_affected",
	  "justification":"vulnerable_code_not_in_execute_path","impact_statement":"the parser is never reached from any entry point"}]}`)
	sum, err := f.svc.Import(ctx, "ines", vuln.ImportRequest{Asset: "registry.example/app:1", File: "vendor.vex.json", Data: doc})
	if err != nil || sum.Decided != 1 || sum.Format != "openvex" {
		t.Fatalf("apply: %+v %v", sum, err)
	}
	x := f.all(t)["CVE-1|p"]
	if x.Resolution != vuln.NotAffectedUnused || x.Justification != "the parser is never reached from any entry point" {
		t.Errorf("finding = %+v", x)
	}
	var e []string
	db.View(ctx, func(tx *store.Tx) error {
		es, err := tx.ListEntries(ctx, ledger.EntryFilter{Kind: "vex.applied"})
		for _, en := range es {
			e = append(e, string(en.Payload))
		}
		return err
	})
	if len(e) != 1 || !strings.Contains(e[0], `"evidence":["sha256:`) {
		t.Errorf("vex.applied entries = %v", e)
	}
}
