package vuln_test

import (
	"path/filepath"
	"testing"

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
		pkg("CVE-1", "p", importers.High, "GHSA-1111"), pkg("CVE-2", "p", importers.High), pkg("CVE-3", "p", importers.High),
		pkg("CVE-4", "p", importers.High), pkg("CVE-5", "p", importers.High)))
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
