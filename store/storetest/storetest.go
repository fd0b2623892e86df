// Package storetest opens every store backend for tests, so that one suite
// runs against SQLite and PostgreSQL alike.
//
// SQLite always runs, in a temporary file. PostgreSQL runs when
// OPSGUARD_TEST_POSTGRES holds a URL (.ci/run starts a server and sets it);
// each test gets a schema of its own. Without it the PostgreSQL half skips,
// or fails when OPSGUARD_REQUIRE_INTEGRATION=1.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/internal/rawexec"
)

// Backend is one store engine a test can run on.
type Backend struct {
	Name string
	// DSN returns a fresh, empty database for t.
	DSN func(t testing.TB) string
}

// Backends lists the engines available here.
func Backends() []Backend {
	return []Backend{
		{Name: "sqlite", DSN: func(t testing.TB) string { return filepath.Join(t.TempDir(), "opsguard.db") }},
		{Name: "postgres", DSN: PostgresDSN},
	}
}

// Each runs fn once per backend as a subtest, with a freshly migrated store.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fn(t, Open(t, b.DSN(t)))
		})
	}
}

// Open opens and migrates the store at dsn and closes it when t ends.
func Open(t testing.TB, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Exec runs one statement on db outside the domain services, as someone
// tampering with the database would, and returns the rows it changed. It
// fails t when the statement does.
func Exec(t testing.TB, db *store.DB, q string, args ...any) int64 {
	t.Helper()
	n, err := rawexec.Exec(context.Background(), db, q, args...)
	if err != nil {
		t.Fatalf("exec %q: %v", q, err)
	}
	return n
}

// QueryRow reads one row of q on db into dest, failing t when it cannot.
func QueryRow(t testing.TB, db *store.DB, q string, dest ...any) {
	t.Helper()
	if err := rawexec.QueryRow(context.Background(), db, q, nil, dest...); err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
}

// RequireIntegration reports whether missing external programs must fail
// tests instead of skipping them.
func RequireIntegration() bool { return os.Getenv("OPSGUARD_REQUIRE_INTEGRATION") == "1" }

// Missing skips t with why, or fails it under OPSGUARD_REQUIRE_INTEGRATION=1.
func Missing(t testing.TB, why string) {
	t.Helper()
	if RequireIntegration() {
		t.Fatalf("%s (required: OPSGUARD_REQUIRE_INTEGRATION=1)", why)
	}
	t.Skip(why)
}

// PostgresDSN creates a schema of its own for t in the server named by
// OPSGUARD_TEST_POSTGRES and returns a URL whose search_path points at it.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("OPSGUARD_TEST_POSTGRES")
	if base == "" {
		Missing(t, "PostgreSQL tests need OPSGUARD_TEST_POSTGRES=postgres://… (set by .ci/run)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	var r [6]byte
	rand.Read(r[:])
	schema := "t_" + hex.EncodeToString(r[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("postgres at OPSGUARD_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		a.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("OPSGUARD_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

var logs sync.Map // *store.DB → *ledger.Log

// Update runs fn in a write transaction of db and then appends a ledger
// entry, so that the rows fn wrote in sealed tables are sealed as the
// domain services seal theirs. For tests of the store's queries.
func Update(t testing.TB, db *store.DB, fn func(tx *store.Tx) error) error {
	t.Helper()
	l, ok := logs.Load(db)
	if !ok {
		key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "ledger.key"))
		if err != nil {
			t.Fatalf("ledger key: %v", err)
		}
		l, _ = logs.LoadOrStore(db, ledger.New(key, ledger.Options{}))
	}
	return db.Update(context.Background(), func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := l.(*ledger.Log).Append(context.Background(), tx, ledger.Event{Actor: "test", Kind: "test.write", Subject: "test/store"})
		return err
	})
}

// ExecTx runs one statement in tx, outside the domain services but inside
// a transaction the caller seals (benchmarks that write rows in bulk).
func ExecTx(t testing.TB, tx *store.Tx, q string, args ...any) int64 {
	t.Helper()
	n, err := rawexec.ExecTx(context.Background(), tx, q, args...)
	if err != nil {
		t.Fatalf("exec %q: %v", q, err)
	}
	return n
}
