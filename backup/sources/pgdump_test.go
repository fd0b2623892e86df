package sources_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/backup/sources"
	"github.com/opsguard/opsguard/store/storetest"
)

// testDatabase creates a small database on OPSGUARD_TEST_POSTGRES (skips,
// or fails under OPSGUARD_REQUIRE_INTEGRATION=1, without it or pg_dump)
// and returns its URL; it is dropped when the test ends.
func testDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("OPSGUARD_TEST_POSTGRES")
	if base == "" {
		storetest.Missing(t, "the pg_dump source test needs OPSGUARD_TEST_POSTGRES=postgres://… (set by .ci/run)")
	}
	if _, err := exec.LookPath("pg_dump"); err != nil {
		storetest.Missing(t, "the pg_dump source test needs pg_dump (apt-get install postgresql-client)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "sourcetest_" + hex.EncodeToString([]byte(rand.Text()[:6]))
	exec1(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { exec1(t, admin, "DROP DATABASE "+name+" WITH (FORCE)") })
	u, _ := url.Parse(base)
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec1(t, db, `CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL)`)
	exec1(t, db, `INSERT INTO orders (note) SELECT md5(i::text) FROM generate_series(1, 2000) i`)
	return u.String()
}

func exec1(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func pgDump(t *testing.T, dsn, file string, format string) {
	t.Helper()
	if out, err := exec.Command("pg_dump", "-F"+format, "-f", file, "--dbname", dsn).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump -F%s: %v\n%s", format, err, out)
	}
}

// TestPgDumpDirectoryOfRealDumps lists what the real pg_dump writes: its
// custom-format files, named with a time or not, and none of its plain
// SQL or directory formats (which the source cannot restore).
func TestPgDumpDirectoryOfRealDumps(t *testing.T) {
	dsn := testDatabase(t)
	dir := t.TempDir()
	named := "shop-20260102T030405Z.dump"
	before := time.Now().Add(-time.Second)
	pgDump(t, dsn, filepath.Join(dir, named), "c")
	pgDump(t, dsn, filepath.Join(dir, "shop-latest.dump"), "c")
	after := time.Now().Add(time.Second)
	pgDump(t, dsn, filepath.Join(dir, "shop-2026-01-03.sql"), "p")
	pgDump(t, dsn, filepath.Join(dir, "shop-2026-01-04.dir"), "d")

	l, err := (&sources.PgDump{}).List(t.Context(), backup.ListRequest{Copy: backup.Copy{Location: dir}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]backup.Snapshot{}
	for _, s := range l.Snapshots {
		got[s.ID] = s
	}
	if len(got) != 2 {
		t.Fatalf("listed %v, want the two custom-format dumps only", l.Snapshots)
	}
	for name, inTime := range map[string]bool{named: true, "shop-latest.dump": false} {
		s, ok := got[name]
		fi, err := os.Stat(filepath.Join(dir, name))
		if !ok || err != nil {
			t.Fatalf("%s not listed (%v)", name, err)
		}
		if s.SizeBytes != fi.Size() || s.SizeBytes < 10_000 || s.Type != backup.Full {
			t.Errorf("%s: size %d type %s, want the file's %d bytes (a real dump of 2000 rows) and full", name, s.SizeBytes, s.Type, fi.Size())
		}
		switch {
		case inTime && !s.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)):
			t.Errorf("%s: time %s, want the one its name carries", name, s.Time)
		case !inTime && (s.Time.Before(before) || s.Time.After(after) || !s.Time.Equal(fi.ModTime().UTC())):
			t.Errorf("%s: time %s, want its modification time %s (between %s and %s)", name, s.Time, fi.ModTime().UTC(), before, after)
		}
	}
}
