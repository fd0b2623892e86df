package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// holdWriteLock takes SQLite's write lock on the database at path from
// another connection, as another process would, until t ends or release
// is called.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			conn.ExecContext(ctx, "ROLLBACK")
			conn.Close()
			other.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// logBuffer collects a logger's text output while a test reads it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Opening a database that is up to date only reads it: it succeeds at
// once while another process holds the write lock (SQLite) or the
// migration lock (PostgreSQL, a replica migrating).
func TestOpenUpToDateTakesNoWriteLock(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			storetest.Open(t, dsn) // migrated
			if b.Name == "sqlite" {
				holdWriteLock(t, dsn)
			} else {
				holdMigrationLock(t, dsn)
			}
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			start := time.Now()
			db, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatalf("open with the lock held elsewhere: %v (after %v)", err, time.Since(start))
			}
			defer db.Close()
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("open took %v: it waited for the lock", d)
			}
			if _, err := db.SchemaVersion(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

// holdMigrationLock takes the advisory lock that a PostgreSQL replica
// holds while it migrates.
func holdMigrationLock(t *testing.T, dsn string) {
	t.Helper()
	other, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7274001)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.ExecContext(ctx, "SELECT pg_advisory_unlock(7274001)") })
}

const waitReport = "waiting for the database write lock (held by another process)"

// A write that finds SQLite's write lock taken by another process waits
// for it, past its busy timeout, saying so every LockReport, and goes on
// once the lock is free.
func TestWriteWaitsForTheLockAndReports(t *testing.T) {
	path := filepath.Join(t.TempDir(), "opsguard.db")
	var logs logBuffer
	db, err := store.OpenWith(ctx, path, store.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), LockWait: time.Minute, LockReport: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	release := holdWriteLock(t, path)

	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- db.Update(ctx, func(*store.Tx) error { return nil }) }()
	// Several reports: it waits well past one attempt's timeout.
	for deadline := time.Now().Add(10 * time.Second); strings.Count(logs.String(), waitReport) < 5; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("the write ended while the lock was held elsewhere: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report of the wait after 10s:\n%s", logs.String())
		}
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the write after the lock was released: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the write still waits after the lock was released")
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("the write ended after %v, before five reports", d)
	}
}

// The wait is bounded: past LockWait the write fails and says why.
func TestWriteGivesUpAfterLockWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "opsguard.db")
	var logs logBuffer
	db, err := store.OpenWith(ctx, path, store.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), LockWait: 500 * time.Millisecond, LockReport: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holdWriteLock(t, path)
	start := time.Now()
	err = db.Update(ctx, func(*store.Tx) error { return nil })
	d := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "write lock") || !strings.Contains(err.Error(), "database_lock_wait") {
		t.Fatalf("error %v: want it to name the write lock and the setting", err)
	}
	if d < 500*time.Millisecond || d > 3*time.Second {
		t.Errorf("gave up after %v, want about 500ms", d)
	}
	if !strings.Contains(logs.String(), waitReport) {
		t.Errorf("the wait was not reported:\n%s", logs.String())
	}
}
