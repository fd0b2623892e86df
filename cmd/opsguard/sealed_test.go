package main_test

import (
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The edits a tester made with write access to the database file, which
// passed ledger verify and every control before rows were sealed: each is
// now named by ledger verify (exit 1, the table and the row) and fails
// LG-3.
func TestBinaryDomainRowEditsCaught(t *testing.T) {
	requireProgram(t, "git")
	base := t.TempDir()
	data := filepath.Join(base, "data")
	env := []string{"OPSGUARD_DATA_DIR=" + data}
	mustRun(t, env, "", "init", "--password", "correct horse battery")
	report := filepath.Join(base, "trivy.json")
	os.WriteFile(report, trivyReport(5), 0o644)
	mustRun(t, env, "", "vuln", "import", report, "--asset", "shop")
	src := filepath.Join(base, "src")
	gitCommits(t, src, 3) // pushed straight to main: no review, verdict fail
	mustRun(t, env, "", "change", "repo", "add", "shop", src)
	mustRun(t, env, "", "change", "repo", "sync", "shop")
	mustRun(t, env, "an engineer's password\n", "user", "add", "en1", "--role", "engineer")
	mustRun(t, env, "", "ledger", "verify")

	tests := []struct {
		name  string
		sql   string
		table string
	}{
		{"verdicts set to pass", `UPDATE changes SET verdict = 'pass', violations = '[]' WHERE verdict <> 'pass'`, "changes"},
		{"a role raised", `UPDATE users SET role = 'admin' WHERE username = 'en1'`, "users"},
		{"findings set to fixed", `UPDATE findings SET status = 'closed'`, "findings"},
		{"findings deleted", `DELETE FROM finding_tools; DELETE FROM finding_ids; DELETE FROM findings`, "findings"},
		{"due dates moved", `UPDATE findings SET due_at = '2099-01-01T00:00:00.000000Z'`, "findings"},
		{"a scan edited", `UPDATE scans SET findings = 0`, "scans"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if out, err := exec.Command("cp", "-a", data, dir).CombinedOutput(); err != nil {
				t.Fatalf("copy the instance: %v\n%s", err, out)
			}
			db, err := sql.Open("sqlite", filepath.Join(dir, "opsguard.db"))
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, q := range strings.Split(tc.sql, "; ") {
				res, err := db.Exec(q)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				n, _ = res.RowsAffected()
			}
			if n == 0 {
				t.Fatalf("%s changed nothing", tc.sql)
			}
			db.Close()
			env := []string{"OPSGUARD_DATA_DIR=" + dir}
			r := run(t, env, "", "ledger", "verify")
			if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "table "+tc.table+": row ") {
				t.Errorf("ledger verify after %s: exit %d, want 1 naming table %s:\n%s", tc.name, r.code, tc.table, r)
			}
			var runRes struct {
				Results []struct {
					Requirement string `json:"requirement"`
					Status      string `json:"status"`
					Summary     string `json:"summary"`
				} `json:"results"`
			}
			out := run(t, env, "", "controls", "run", "-o", "json")
			if err := json.Unmarshal([]byte(out.stdout), &runRes); err != nil {
				t.Fatalf("controls run -o json: %v\n%s", err, out)
			}
			caught := false
			for _, res := range runRes.Results {
				caught = caught || res.Requirement == "LG-3" && res.Status == "fail" && strings.Contains(res.Summary, "table ")
			}
			if !caught {
				t.Errorf("after %s no LG-3 control fails naming a table:\n%s", tc.name, out.stdout)
			}
		})
	}
}
