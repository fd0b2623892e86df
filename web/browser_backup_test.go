package web_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/store/storetest"
)

// backupPages declares two data sets drilled for the screenshots: shop,
// whose drill of a real restic repository passed, and crm, whose drill of
// a missing repository failed (its analysis open); plus a drill still
// running. It returns the pages to look at.
func backupPages(t *testing.T, e *env) []struct{ name, path string } {
	t.Helper()
	if _, err := exec.LookPath("restic"); err != nil {
		storetest.Missing(t, "restic is not installed (apt-get install restic)")
	}
	dir := t.TempDir()
	repo, data := filepath.Join(dir, "repo"), filepath.Join(dir, "srv", "shop")
	os.MkdirAll(data, 0o755)
	for _, f := range []string{"orders.csv", "customers.csv", "invoices.csv"} {
		os.WriteFile(filepath.Join(data, f), []byte(strings.Repeat(f+",", 200)), 0o644)
	}
	for _, args := range [][]string{{"init", "--repo", repo}, {"backup", "--repo", repo, data}} {
		cmd := exec.Command("restic", append([]string{"--no-cache", "--quiet"}, args...)...)
		cmd.Env = append(os.Environ(), "RESTIC_PASSWORD=pw")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restic %v: %v\n%s", args, err, out)
		}
	}
	by := backup.Actor{Name: "cli:infra-ops", Local: true, Username: "infra-ops", Role: auth.InfraOps}
	for _, d := range []backup.DataSet{
		{Name: "shop", Owner: "engineer", Description: "Orders and customers", Instructions: "restic restore latest --target /srv/shop",
			Drill: []byte(`{"expected_paths": ["` + filepath.Join(data, "orders.csv") + `"]}`)},
		{Name: "crm", Owner: "engineer"},
		{Name: "wiki", Owner: "engineer"},
	} {
		if _, err := e.app.Backup.AddDataSet(ctx, by, d); err != nil {
			t.Fatal(err)
		}
	}
	for ds, loc := range map[string]string{"shop": repo, "crm": filepath.Join(dir, "moved-away"), "wiki": repo} {
		if _, err := e.app.Backup.AddCopy(ctx, by, ds, backup.Copy{Name: "nightly", Source: backup.SourceRestic, Location: loc, Password: "pw"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.app.Backup.Collect(ctx, "test"); err == nil {
		t.Fatal("the collection of a missing repository did not fail")
	}
	passed, err := e.app.StartDrill(ctx, by, "shop", backup.DrillRequest{Wait: true})
	if err != nil || passed.State != backup.DrillPassed {
		t.Fatalf("drill of shop: %+v, %v", passed, err)
	}
	failed, err := e.app.StartDrill(ctx, by, "crm", backup.DrillRequest{Wait: true})
	if err != nil || failed.State != backup.DrillFailed {
		t.Fatalf("drill of crm: %+v, %v", failed, err)
	}
	running, _, err := e.app.Backup.StartDrill(ctx, by, "wiki", backup.DrillRequest{}) // never run: stays running
	if err != nil {
		t.Fatal(err)
	}
	return []struct{ name, path string }{
		{"backup", "/backup"}, {"drill", "/backup/drills/" + passed.ID}, {"drill-failed", "/backup/drills/" + failed.ID},
		{"drill-running", "/backup/drills/" + running.ID}, {"rcas", "/backup/rcas"},
	}
}
