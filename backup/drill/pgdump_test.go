package drill_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/opsguard/opsguard/backup/drill"
	"github.com/opsguard/opsguard/store/storetest"
)

// postgres returns the test server's URL, or skips (fails under
// OPSGUARD_REQUIRE_INTEGRATION=1) without one or without pg_dump.
func postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("OPSGUARD_TEST_POSTGRES")
	if base == "" {
		storetest.Missing(t, "pg_dump drills need OPSGUARD_TEST_POSTGRES=postgres://… (set by .ci/run)")
	}
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			storetest.Missing(t, "pg_dump drills need "+tool+" (apt-get install postgresql-client)")
		}
	}
	return base
}

// dumpOf creates a database holding 50 customers and orders whose newest
// is an hour old, dumps it with the real pg_dump -Fc, and drops it.
func dumpOf(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := "drilltest_" + hex.EncodeToString(random(6))
	mustExec(t, admin, "CREATE DATABASE "+name)
	defer mustExec(t, admin, "DROP DATABASE "+name+" WITH (FORCE)")
	u, _ := url.Parse(base)
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL)`)
	mustExec(t, db, `CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers, created_at timestamptz NOT NULL)`)
	mustExec(t, db, `INSERT INTO customers (name) SELECT 'c' || i FROM generate_series(1, 50) i`)
	mustExec(t, db, `INSERT INTO orders (customer, created_at) SELECT i, now() - interval '1 hour' - i * interval '1 day' FROM generate_series(0, 49) i WHERE i > 0`)
	mustExec(t, db, `INSERT INTO orders (customer, created_at) VALUES (1, now() - interval '1 hour')`)
	db.Close()
	file := filepath.Join(t.TempDir(), name+".dump")
	if out, err := exec.Command("pg_dump", "-Fc", "-f", file, "--dbname", u.String()).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	return file
}

func mustExec(t testing.TB, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// scratchDatabases lists the drills' scratch databases on the server.
func scratchDatabases(t *testing.T, base string) []string {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	rows, err := admin.Query(`SELECT datname FROM pg_database WHERE datname LIKE 'opsguard\_drill\_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	return names
}

func TestPGDumpDrill(t *testing.T) {
	base := postgres(t)
	dump := dumpOf(t, base)
	before := len(scratchDatabases(t, base))
	cases := []struct {
		name       string
		assertions []drill.Assertion
		failed     string // the check that must fail, "" for a pass
	}{
		{"assertions pass", []drill.Assertion{
			{Name: "customers", SQL: "SELECT count(*) FROM customers", Min: 50},
			{Name: "fresh orders", Newest: "SELECT max(created_at) FROM orders", WithinHours: 2},
		}, ""},
		{"too few rows", []drill.Assertion{
			{Name: "customers", SQL: "SELECT count(*) FROM customers", Min: 51},
		}, "customers"},
		{"newest row too old", []drill.Assertion{
			{Name: "fresh orders", Newest: "SELECT max(created_at) FROM orders", WithinHours: 0.5},
		}, "fresh orders"},
		{"no such table", []drill.Assertion{
			{Name: "invoices", SQL: "SELECT count(*) FROM invoices", Min: 1},
		}, "invoices"},
		{"an assertion cannot write", []drill.Assertion{
			{Name: "write", SQL: "WITH d AS (DELETE FROM orders RETURNING 1) SELECT count(*) FROM d", Min: 0},
		}, "write"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := drill.Spec{Kind: drill.PGDump, Location: dump, DSN: base, Assertions: tc.assertions}
			rep, err := drill.Run(context.Background(), spec, drill.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.failed == "" && !rep.Passed {
				t.Fatalf("drill failed: %+v\n%s", rep.Checks, rep.Log)
			}
			if tc.failed != "" {
				if c, ok := check(rep, tc.failed); rep.Passed || !ok || c.OK {
					t.Fatalf("check %q = %+v (present %v), passed %v; want it failed", tc.failed, c, ok, rep.Passed)
				}
			}
			if !strings.HasPrefix(rep.SnapshotID, "sha256:") || time.Since(rep.SnapshotTime) > time.Hour || rep.BytesRestored == 0 {
				t.Errorf("snapshot %q of %v, %d bytes", rep.SnapshotID, rep.SnapshotTime, rep.BytesRestored)
			}
			if _, ok := check(rep, "pg_amcheck"); !ok && len(rep.Notes) == 0 {
				t.Errorf("neither pg_amcheck ran nor a note says why: %+v", rep)
			}
			if after := scratchDatabases(t, base); len(after) != before {
				t.Errorf("scratch databases %v left behind", after)
			}
		})
	}
}

func TestPGDumpDrillRefusesGarbage(t *testing.T) {
	base := postgres(t)
	bad := filepath.Join(t.TempDir(), "x.dump")
	writeFile(t, bad, []byte("not a dump"))
	rep, err := drill.Run(context.Background(), drill.Spec{Kind: drill.PGDump, Location: bad, DSN: base}, drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := check(rep, "dump"); rep.Passed || !ok || c.OK {
		t.Errorf("dump check %+v, passed %v", c, rep.Passed)
	}
}
