package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/fixture"
)

// cli runs the opsguard command in-process with args and returns its
// standard output, or its error.
func cli(ctx context.Context, stdin string, args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// The reading commands work while another process holds SQLite's write
// lock (a long import on the server): they read under WAL, and opening an
// up-to-date store asks for no write lock at all.
func TestReadingCommandsDuringAnotherProcesssWrite(t *testing.T) {
	t.Setenv("OPSGUARD_DATABASE_URL", "")
	t.Setenv("OPSGUARD_CONFIG", "")
	data := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := cli(ctx, stdin, append(args, "--data-dir", data)...)
		if err != nil {
			t.Fatalf("opsguard %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must("", "init", "--password", "correct horse battery")
	must("", "vuln", "import", fixture.Path(t, "vuln/trivy/scheme_2_many_vulns.json"), "--asset", "shop", "--kind", "image")
	must("an agent's password\n", "user", "add", "ci", "--role", "agent")
	must("", "token", "create", "--user", "ci", "--name", "ci")

	// Another process's write transaction, held for the whole test.
	other, err := sql.Open("sqlite", "file:"+filepath.Join(data, "opsguard.db")+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "ROLLBACK")
	if _, err := conn.ExecContext(ctx, "UPDATE users SET username = username"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ledger", "verify"}, "OK"},
		{[]string{"user", "list"}, "admin"},
		{[]string{"vuln", "list", "--asset", "shop"}, "CVE-"},
		{[]string{"token", "list"}, "ci"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			// Well under the 10 s a write would wait before failing.
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			start := time.Now()
			out, err := cli(ctx, "", append(tc.args, "--data-dir", data)...)
			if err != nil {
				t.Fatalf("with the write lock held elsewhere: %v (after %v)\n%s", err, time.Since(start), out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v: it waited for the write lock", d)
			}
		})
	}
}
