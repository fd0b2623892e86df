package main_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/store/storetest"
)

// An instance backed up while populated comes back in a fresh one (same
// ledger key, empty database) with its data, and its ledger verifies; a
// tampered archive is refused and changes nothing.
func TestBinaryAdminBackupRestore(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dir := t.TempDir()
			src := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "a"), "OPSGUARD_ADMIN_PASSWORD=" + randomPassword(t)}
			dst := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "b")}
			if b.Name == "postgres" {
				dsn := b.DSN(t)
				src = append(src, "OPSGUARD_DATABASE_URL="+dsn)
				dst = append(dst, "OPSGUARD_DATABASE_URL="+freshDatabase(t, dsn))
			}
			mustRun(t, src, "", "init")
			mustRun(t, append(src, "OPSGUARD_USER_PASSWORD="+randomPassword(t)), "", "user", "add", "bob", "--role", "engineer")
			archive := filepath.Join(dir, "backup.tar")
			mustRun(t, src, "", "admin", "backup", "--out", archive)

			// The operator keeps the private key apart and puts it back.
			key, err := os.ReadFile(filepath.Join(dir, "a", "ledger.key"))
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Join(dir, "b"), 0o700)
			if err := os.WriteFile(filepath.Join(dir, "b", "ledger.key"), key, 0o600); err != nil {
				t.Fatal(err)
			}
			tampered := filepath.Join(dir, "tampered.tar")
			raw, _ := os.ReadFile(archive)
			raw[len(raw)/2] ^= 1
			os.WriteFile(tampered, raw, 0o600)
			if r := run(t, dst, "", "admin", "restore", tampered); r.code == 0 || !strings.Contains(r.stderr, "backup") {
				t.Fatalf("a tampered archive was restored:\n%s", r)
			}
			if r := run(t, dst, "", "ledger", "verify"); r.code == 0 {
				t.Errorf("the refused restore left a ledger behind:\n%s", r)
			}

			mustRun(t, dst, "", "admin", "restore", archive)
			if v := mustRun(t, dst, "", "ledger", "verify"); !strings.Contains(strings.ToLower(v.stdout), "ok") {
				t.Errorf("ledger verify after the restore:\n%s", v)
			}
			if users := listUsers(t, dst); users["bob"] != "engineer" {
				t.Errorf("users after the restore = %v, want bob", users)
			}
			if r := run(t, dst, "", "admin", "restore", archive); r.code == 0 || !strings.Contains(r.stderr, "--force") {
				t.Errorf("a restore over a database holding a ledger was not refused:\n%s", r)
			}
			mustRun(t, dst, "", "admin", "restore", "--force", archive)
			mustRun(t, dst, "", "ledger", "verify")
		})
	}
}

// freshDatabase creates an empty database on dsn's server, dropped when
// t ends, and returns its URL with dsn's search_path (a dump restores the
// schema it was made of, by name).
func freshDatabase(t *testing.T, dsn string) string {
	t.Helper()
	u, _ := url.Parse(dsn)
	var r [6]byte
	rand.Read(r[:])
	name := "restoretest_" + hex.EncodeToString(r[:])
	admin, err := sql.Open("pgx", os.Getenv("OPSGUARD_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE " + name + " WITH (FORCE)")
		admin.Close()
	})
	u.Path = "/" + name
	return u.String()
}
