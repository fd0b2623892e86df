package report_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/report"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// TestPDFHoldsEveryRequirement prints a bundle's report with headless
// Chromium and reads it back with pdftotext: every requirement ID is in
// it, and the bundle with its PDF verifies.
func TestPDFHoldsEveryRequirement(t *testing.T) {
	pdf := report.ChromiumPDF()
	if pdf == nil {
		storetest.Missing(t, "the PDF report needs Chromium on the PATH (apt-get install chromium)")
	}
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		storetest.Missing(t, "reading the PDF needs pdftotext (apt-get install poppler-utils)")
	}
	db := storetest.Open(t, filepath.Join(t.TempDir(), "o.db"))
	w := newWorld(t, db)
	w.svc = report.NewService(store.Bind[report.Tx](db), w.log, report.ServiceOptions{Now: w.clk.now, PDF: pdf})
	w.seed(t, 2)
	b := w.export(t, "2026-03-01", "2026-03-31")
	if s, err := verify(t, b, w.log.Key().Public); err != nil || !s.OK {
		t.Fatalf("verify: %v %+v", err, s)
	}
	file := filepath.Join(t.TempDir(), "report.pdf")
	os.WriteFile(file, member(t, b, report.PDFName), 0o644)
	out, err := exec.Command(pdftotext, "-layout", file, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := string(out)
	for _, r := range control.Requirements {
		if !strings.Contains(text, r.ID+":") {
			t.Errorf("the PDF does not hold %s", r.ID)
		}
	}
	if !strings.Contains(text, "Summary") || !strings.Contains(text, "were not satisfied") {
		t.Errorf("no summary in the PDF:\n%.600s", text)
	}
}
