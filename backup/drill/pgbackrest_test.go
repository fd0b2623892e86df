package drill_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsguard/opsguard/backup/drill"
	"github.com/opsguard/opsguard/store/storetest"
)

// pgbrCluster is a real PostgreSQL cluster with a pgBackRest stanza and
// one full backup, made by the test.
type pgbrCluster struct {
	config, stanza, root string // root: a scratch root its user can reach
}

// asPostgres runs a program as the postgres user when the test is root
// (initdb and postgres refuse root), as the test's user otherwise.
func asPostgres(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	if cred := pgCred(t); cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func pgCred(t testing.TB) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		storetest.Missing(t, "pgBackRest drills run as root need a postgres user (apt-get install postgresql)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// newPgBackRest makes a cluster holding 50 customers and orders whose
// newest is an hour old, a stanza for it and a full backup, and stops it.
func newPgBackRest(t testing.TB) pgbrCluster {
	t.Helper()
	if _, err := exec.LookPath("pgbackrest"); err != nil {
		storetest.Missing(t, "pgBackRest drills need pgbackrest (apt-get install pgbackrest)")
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		storetest.Missing(t, "pgBackRest drills need the PostgreSQL server (apt-get install postgresql)")
	}
	slices.Sort(bins)
	bin := filepath.Dir(bins[len(bins)-1])
	base := t.TempDir()
	os.Chmod(base, 0o711) // the postgres user passes through both
	os.Chmod(filepath.Dir(base), 0o711)
	c := pgbrCluster{config: filepath.Join(base, "pgbackrest.conf"), stanza: "main", root: filepath.Join(base, "scratch")}
	src, run := filepath.Join(base, "src"), filepath.Join(base, "run")
	port := freePort(t)
	writeFile(t, c.config, fmt.Appendf(nil, "[global]\nrepo1-path=%s\nrepo1-retention-full=2\nlog-path=%s\nlock-path=%s\nstart-fast=y\n\n[main]\npg1-path=%s\npg1-socket-path=%s\npg1-port=%d\n",
		filepath.Join(base, "repo"), filepath.Join(base, "log"), run, src, run, port))
	for _, d := range []string{"repo", "log", "run", "src", "scratch"} {
		os.Mkdir(filepath.Join(base, d), 0o700)
	}
	if cred := pgCred(t); cred != nil {
		for _, p := range []string{"repo", "log", "run", "src", "scratch", "pgbackrest.conf"} {
			os.Chown(filepath.Join(base, p), int(cred.Uid), int(cred.Gid))
		}
	}
	asPostgres(t, bin+"/initdb", "-D", src, "-A", "trust", "-U", "postgres", "--no-sync")
	f, _ := os.OpenFile(filepath.Join(src, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "archive_mode = on\narchive_command = 'pgbackrest --config=%s --stanza=main archive-push %%p'\nlisten_addresses = ''\nunix_socket_directories = '%s'\nport = %d\nfsync = off\n", c.config, run, port)
	f.Close()
	asPostgres(t, bin+"/pg_ctl", "-D", src, "-l", filepath.Join(base, "log", "pg.log"), "-w", "start")
	t.Cleanup(func() { asPostgres(t, bin+"/pg_ctl", "-D", src, "-m", "immediate", "stop") })
	psql := func(sql string) {
		asPostgres(t, bin+"/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", run, "-p", strconv.Itoa(port), "-U", "postgres", "-c", sql)
	}
	psql(`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
		CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers, created_at timestamptz NOT NULL);
		INSERT INTO customers (name) SELECT 'c' || i FROM generate_series(1, 50) i;
		INSERT INTO orders (customer, created_at) SELECT i, now() - interval '1 hour' - i * interval '1 day' FROM generate_series(1, 49) i;
		INSERT INTO orders (customer, created_at) VALUES (1, now() - interval '1 hour')`)
	asPostgres(t, "pgbackrest", "--config="+c.config, "--stanza=main", "stanza-create")
	asPostgres(t, "pgbackrest", "--config="+c.config, "--stanza=main", "--type=full", "backup")
	return c
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestPgBackRestDrill(t *testing.T) {
	c := newPgBackRest(t)
	cases := []struct {
		name       string
		snapshot   string
		assertions []drill.Assertion
		failed     string // the check that must fail, "" for a pass
		cause      string
	}{
		{"assertions pass", "latest", []drill.Assertion{
			{Name: "customers", SQL: "SELECT count(*) FROM customers", Min: 50},
			{Name: "fresh orders", Newest: "SELECT max(created_at) FROM orders", WithinHours: 2},
		}, "", ""},
		{"too few rows", "", []drill.Assertion{
			{Name: "customers", SQL: "SELECT count(*) FROM customers", Min: 51},
		}, "customers", "50"},
		{"unknown backup", "20200101-000000F", nil, "snapshot", "no backup 20200101-000000F"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := drill.Spec{Kind: drill.PgBackRest, Location: c.stanza, Config: c.config, ScratchRoot: c.root,
				Snapshot: tc.snapshot, Assertions: tc.assertions, MaxDuration: 2 * time.Minute}
			rep, err := drill.Run(context.Background(), spec, drill.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.failed == "" {
				if !rep.Passed {
					t.Fatalf("drill failed: %+v\n%s", rep.Checks, rep.Log)
				}
				for _, name := range []string{"snapshot", "pgbackrest restore", "postgres start", "customers", "fresh orders", "pg_amcheck"} {
					if ch, ok := check(rep, name); !ok || !ch.OK {
						t.Errorf("check %q: %+v (present %v)", name, ch, ok)
					}
				}
				if !strings.HasSuffix(rep.SnapshotID, "F") || time.Since(rep.SnapshotTime) > time.Hour || rep.Files == 0 || rep.BytesRestored == 0 {
					t.Errorf("backup %q of %v, %d files, %d bytes", rep.SnapshotID, rep.SnapshotTime, rep.Files, rep.BytesRestored)
				}
				if !strings.Contains(rep.Log, "restore command end: completed successfully") {
					t.Errorf("log lacks pgBackRest's own output:\n%s", rep.Log)
				}
			} else if ch, ok := check(rep, tc.failed); rep.Passed || !ok || ch.OK || !strings.Contains(ch.Actual, tc.cause) {
				t.Fatalf("check %q = %+v (present %v), passed %v; want it failed with %q\n%+v", tc.failed, ch, ok, rep.Passed, tc.cause, rep.Checks)
			}
			empty(t, c.root)
			if out, _ := exec.Command("pgrep", "-f", c.root).Output(); len(out) > 0 {
				t.Errorf("processes left running on the scratch: %s", out)
			}
		})
	}
}
