package main_test

import (
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/fixture"
)

// The register from the command line: a real Trivy report imported twice
// (the second changes nothing), listed as CSV, an owner named, and a report
// of another shape refused with nothing imported.
func TestBinaryVulnCommands(t *testing.T) {
	report := fixture.Path(t, "vuln/trivy/scheme_2_many_vulns.json")
	dir := t.TempDir()
	env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "data")}
	mustRun(t, env, "", "init", "--password", "correct horse battery")
	mustRun(t, env, "correct horse battery\n", "user", "add", "olga", "--role", "engineer")

	var sum struct {
		New, Unchanged int
		Asset          string
	}
	out := mustRun(t, env, "", "vuln", "import", report, "--asset", "shop", "--kind", "image", "-o", "json")
	if json.Unmarshal([]byte(out.stdout), &sum) != nil || sum.New == 0 || sum.Asset != "shop" {
		t.Fatalf("import:\n%s", out)
	}
	again := mustRun(t, env, "", "vuln", "import", report, "--asset", "shop", "-o", "json")
	var sum2 struct{ New, Unchanged int }
	if json.Unmarshal([]byte(again.stdout), &sum2) != nil || sum2.New != 0 || sum2.Unchanged != sum.New {
		t.Errorf("re-import: %+v after %+v", sum2, sum)
	}
	rows, err := csv.NewReader(strings.NewReader(mustRun(t, env, "", "vuln", "list", "--asset", "shop", "--limit", "1000", "-o", "csv").stdout)).ReadAll()
	if err != nil || len(rows) != sum.New+1 || rows[0][0] != "id" {
		t.Errorf("list -o csv: %d rows for %d findings, %v", len(rows), sum.New, err)
	}
	if r := run(t, env, "", "vuln", "owner", "shop", "nobody"); r.code != 1 || !strings.Contains(r.stderr, "not an active user") {
		t.Errorf("owner who is not a user:\n%s", r)
	}
	mustRun(t, env, "", "vuln", "owner", "shop", "olga")
	if r := mustRun(t, env, "", "vuln", "assets"); !strings.Contains(r.stdout, "shop") || !strings.Contains(r.stdout, "olga") {
		t.Errorf("assets:\n%s", r)
	}
	sarif := fixture.Path(t, "vuln/sarif")
	if r := run(t, env, "", "vuln", "import", filepath.Join(filepath.Dir(sarif), "..", "feeds", "cisa-kev.json"), "--asset", "other"); r.code != 1 || !strings.Contains(r.stderr, "cisa-kev.json") {
		t.Errorf("a feed imported as a report:\n%s", r)
	}
	if r := mustRun(t, env, "", "vuln", "assets", "-o", "json"); strings.Contains(r.stdout, `"other"`) {
		t.Errorf("a refused import left an asset:\n%s", r)
	}
	// A report with a statement (a vulnerability Trivy says does not
	// affect its package) says what it decided.
	if r := mustRun(t, env, "", "vuln", "import", fixture.Path(t, "vuln/trivy/all_statuses.json"), "--asset", "app"); !strings.Contains(r.stdout, "its 1 statements decided 0 findings.") {
		t.Errorf("import with a statement:\n%s", r)
	}
}
