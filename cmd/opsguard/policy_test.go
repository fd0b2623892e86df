package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The policy printed to PDF by real headless Chromium holds its
// requirements and its version history table, as pdftotext reads it.
func TestBinaryPolicyPDF(t *testing.T) {
	requireProgram(t, "chromium")
	requireProgram(t, "pdftotext")
	dir := t.TempDir()
	env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "data")}
	mustRun(t, env, "", "init", "--password", "correct horse battery")
	mustRun(t, env, "", "policy", "draft", "operations-security-policy", "--summary", "Written for the audit of 2026")
	mustRun(t, env, "", "policy", "submit", "operations-security-policy", "1")
	pdf := filepath.Join(dir, "policy.pdf")
	mustRun(t, env, "", "policy", "render", "operations-security-policy", "--format", "pdf", "--out", pdf)
	b, err := os.ReadFile(pdf)
	if err != nil || !strings.HasPrefix(string(b), "%PDF-") {
		t.Fatalf("not a PDF (%d bytes): %v", len(b), err)
	}
	out, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"Operations Security Policy", "Version history", "Summary of changes", "Written for the audit of 2026", "submitted", "CM-10", "GV-5", "critical 7 days"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("pdftotext:\n%s", text)
	}
}
