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

// A draft is edited from the CLI by its author; once it left the draft
// state the same command is refused and the text stays.
func TestBinaryPolicyEdit(t *testing.T) {
	dir := t.TempDir()
	env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "data")}
	mustRun(t, env, "", "init", "--password", "correct horse battery")
	src, edited := filepath.Join(dir, "acceptable-use.md"), filepath.Join(dir, "v1b.md")
	os.WriteFile(src, []byte("# Acceptable use at {{.Company}}\n\nLaptops are locked.\n"), 0o644)
	os.WriteFile(edited, []byte("# Acceptable use at {{.Company}}\n\nLaptops are locked and encrypted.\n"), 0o644)
	mustRun(t, env, "", "policy", "draft", "acceptable-use", "--file", src, "--summary", "First")
	if r := run(t, env, "", "policy", "edit", "acceptable-use", "1"); r.code == 0 || !strings.Contains(r.stderr, "nothing to edit") {
		t.Errorf("an edit of nothing: %s", r)
	}
	r := mustRun(t, env, "", "policy", "edit", "acceptable-use", "1", "--file", edited, "--summary", "Encryption too")
	if !strings.Contains(r.stdout, "Version 1 of acceptable-use edited") {
		t.Errorf("edit: %s", r)
	}
	md := mustRun(t, env, "", "policy", "render", "acceptable-use", "--version", "1").stdout
	if !strings.Contains(md, "locked and encrypted") || !strings.Contains(md, "Encryption too") {
		t.Errorf("the draft's text after the edit:\n%s", md)
	}
	mustRun(t, env, "", "policy", "submit", "acceptable-use", "1")
	r = run(t, env, "", "policy", "edit", "acceptable-use", "1", "--file", src)
	if r.code == 0 || !strings.Contains(r.stderr, "only a draft can be edited") {
		t.Errorf("an edit of a submitted version: %s", r)
	}
	if md = mustRun(t, env, "", "policy", "render", "acceptable-use", "--version", "1").stdout; !strings.Contains(md, "locked and encrypted") {
		t.Errorf("a refused edit changed the text:\n%s", md)
	}
}
