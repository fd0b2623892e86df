package backup_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/backup/drill"
	"github.com/opsguard/opsguard/backup/drill/drilltest"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// smallFiles makes a repository holding one snapshot of 120 files of 100
// bytes: 12,000 bytes listed, 120 pages of tmpfs restored.
func smallFiles(t *testing.T) string {
	r := repo(t)
	data := filepath.Join(filepath.Dir(r), "small")
	os.MkdirAll(data, 0o755)
	for i := range 120 {
		os.WriteFile(filepath.Join(data, fmt.Sprintf("f%03d", i)), []byte(strings.Repeat("x", 100)), 0o644)
	}
	restic(t, filepath.Join(filepath.Dir(r), "pw"), "backup", "--repo", r, "--time", now.Add(-time.Hour).Local().Format("2006-01-02 15:04:05"), data)
	return r
}

// A repository locked by a running restic and a scratch disk that fills
// during the restore: the collection still reads the locked repository
// (it lists with --no-lock), each drill is recorded failed with a cause
// naming the repository and the lock, or the full disk, opens a
// root-cause analysis and notifies the owner; the scratch space is empty
// and nothing else of the data sets' records is lost.
func TestDrillLockedRepositoryAndFullDisk(t *testing.T) {
	locked, full := repo(t, time.Hour), smallFiles(t)
	drilltest.Lock(t, locked, filepath.Join(filepath.Dir(locked), "pw"))
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		scratch := drilltest.TinyScratch(t, 256<<10)
		e, sent, _ := drillEnv(t, db, func(o *backup.Options) { o.ScratchRoot = scratch })
		e.dataSet(t, "locked", true)
		e.resticCopy(t, "locked", "local", locked, false)
		e.dataSet(t, "full", true)
		e.resticCopy(t, "full", "local", full, false)
		if _, err := e.svc.Collect(t.Context(), "test"); err != nil {
			t.Fatalf("collect: %v", err)
		}
		before, _ := e.svc.Status(t.Context())
		for _, tc := range []struct{ dataSet, want string }{
			{"locked", "repository " + locked + " is locked"},
			{"full", "disk full during the restore"},
		} {
			d, err := e.svc.Drill(t.Context(), hugo, tc.dataSet, backup.DrillRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if d.State != backup.DrillFailed || !strings.Contains(strings.Join(failed(d), "; "), tc.want) || d.LogRef == "" {
				t.Errorf("%s: drill %s with %v, want failed with %q", tc.dataSet, d.State, failed(d), tc.want)
			}
		}
		if len(sent.sent) != 2 || sent.sent[0]["dataset"] != "locked" || sent.sent[1]["dataset"] != "full" {
			t.Errorf("notified %v", sent.sent)
		}
		if rcas, err := e.svc.RCAs(t.Context()); err != nil || len(rcas) != 2 {
			t.Errorf("rcas %+v, %v", rcas, err)
		}
		if ents, _ := os.ReadDir(scratch); len(ents) != 1 || ents[0].Name() != ".passwords" {
			t.Errorf("scratch root after the drills: %v", ents)
		}
		after, _ := e.svc.Status(t.Context())
		for i := range before {
			if b, a := before[i], after[i]; b.DataSet != a.DataSet || b.Snapshots != a.Snapshots || b.Copies != a.Copies || a.Snapshots == 0 {
				t.Errorf("data set %s: %d snapshots, %d copies before; %d, %d after", b.DataSet, b.Snapshots, b.Copies, a.Snapshots, a.Copies)
			}
		}
	})
}

// A pgBackRest copy is drilled: the spec names the stanza, the server's
// scratch root and the plan's database; a manifest copy is not drillable.
func TestPgBackRestDrillSpec(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		fake := &fakeDrills{}
		e, _, scratch := drillEnv(t, db, func(o *backup.Options) { o.Drill = fake.run })
		if _, err := e.svc.AddDataSet(t.Context(), local, backup.DataSet{Name: "pg", Owner: "olga", Drill: []byte(`{"database": "shop", "assertions": [{"sql": "SELECT count(*) FROM orders", "min": 1}]}`)}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []backup.Copy{{Name: "rds", Source: backup.SourceManifest}, {Name: "pitr", Source: backup.SourcePgBackRest, Location: "main"}} {
			if _, err := e.svc.AddCopy(t.Context(), local, "pg", c); err != nil {
				t.Fatal(err)
			}
		}
		d, err := e.svc.Drill(t.Context(), hugo, "pg", backup.DrillRequest{})
		if err != nil || d.State != backup.DrillPassed || d.Copy != "pitr" || len(fake.specs) != 1 {
			t.Fatalf("drill %+v, %v; specs %+v", d, err, fake.specs)
		}
		if s := fake.specs[0]; s.Kind != drill.PgBackRest || s.Location != "main" || s.ScratchRoot != scratch || s.Database != "shop" || len(s.Assertions) != 1 {
			t.Errorf("spec = %+v", s)
		}
		if _, err := e.svc.Drill(t.Context(), hugo, "pg", backup.DrillRequest{Copy: "rds"}); err == nil || !strings.Contains(err.Error(), "no restic, pg_dump or pgBackRest copy named") {
			t.Errorf("drill of the manifest copy: %v", err)
		}
	})
}
