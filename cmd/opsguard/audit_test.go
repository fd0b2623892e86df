package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The audit bundle end to end: exported as an auditor through the
// in-process API, verified with no data directory, refused for an empty
// or backwards period without leaving a file.
func TestBinaryAuditExportAndVerify(t *testing.T) {
	dir := t.TempDir()
	env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "data")}
	mustRun(t, env, "", "init", "--password", "correct horse battery")
	run(t, env, "", "controls", "run") // GV-4 fails on a fresh install
	today := time.Now().UTC().Format("2006-01-02")
	out := filepath.Join(dir, "bundle.zip")
	mustRun(t, env, "", "audit", "export", "--from", today, "--to", today, "--out", out, "--as-role", "auditor")

	// No data directory, no config: the bundle and the key alone.
	bare := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "nowhere")}
	pub := filepath.Join(dir, "data", "ledger.pub")
	r := mustRun(t, bare, "", "audit", "verify", out, "--public-key", pub)
	if !strings.Contains(r.stdout, "OK: the bundle of "+today) || !regexp.MustCompile(`Requirements:\s+42\n`).MatchString(r.stdout) {
		t.Errorf("audit verify:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); err == nil {
		t.Error("verify created a data directory")
	}

	// One byte changed in the report: exit 1, the member named.
	b, _ := os.ReadFile(out)
	bad := filepath.Join(dir, "bad.zip")
	os.WriteFile(bad, b[:len(b)/2], 0o644)
	if r := run(t, bare, "", "audit", "verify", bad, "--public-key", pub); r.code != 1 || !strings.Contains(r.stderr, "not a zip") {
		t.Errorf("truncated bundle:\n%s", r)
	}

	for _, tc := range []struct{ name, from, to, want string }{
		{"empty period", "2001-01-01", "2001-01-31", "holds no ledger entries"},
		{"backwards", today, "2001-01-31", "must come after"},
	} {
		none := filepath.Join(dir, tc.name+".zip")
		if r := run(t, env, "", "audit", "export", "--from", tc.from, "--to", tc.to, "--out", none); r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s:\n%s", tc.name, r)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 3 {
			t.Errorf("%s: files left in %s: %v", tc.name, dir, entries)
		}
	}
	// The export was ledgered with who asked.
	if r := mustRun(t, env, "", "ledger", "export"); !strings.Contains(r.stdout, `"kind":"audit.exported"`) {
		t.Errorf("no audit.exported entry")
	}
}
