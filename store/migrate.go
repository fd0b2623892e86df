package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded migrations in order of their numbers.
// Numbers are unique but need not be consecutive, so that migrations
// written on separate branches apply whatever order they land in: a
// database records each one it applied, not only the newest.
func Migrations() ([]Migration, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return migrationsIn(sub)
}

// migrationsIn reads the *.sql migrations at the root of fsys.
func migrationsIn(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, base := range names {
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: name must start with a number from 1 and _", base)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migration %s: number %d is also %s's", base, v, other)
		}
		seen[v] = base
		body, err := fs.ReadFile(fsys, base)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: base, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// migrate applies the migrations not yet recorded, each in its own
// transaction. It first reads which are recorded, so that opening a
// database already up to date (every CLI command) takes no write lock and
// never waits for another process's write. On PostgreSQL an advisory lock
// keeps replicas that start together from racing.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	if db.opts.migrateUpTo > 0 {
		ms = slices.DeleteFunc(ms, func(m Migration) bool { return m.Version > db.opts.migrateUpTo })
	}
	pending, err := db.pending(ctx, ms)
	if err != nil || len(pending) == 0 {
		return err
	}
	if db.dialect == Postgres {
		conn, err := db.write.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7274001)"); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7274001)")
	}
	err = db.Update(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range pending {
		if err := db.Update(ctx, func(tx *Tx) error { return db.apply(ctx, tx, m) }); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// pending returns the migrations of ms that the database has not recorded,
// read without taking the write lock.
func (db *DB) pending(ctx context.Context, ms []Migration) ([]Migration, error) {
	exists := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
	if db.dialect == Postgres {
		exists = "SELECT COUNT(*) FROM (SELECT to_regclass('schema_migrations') AS t) r WHERE t IS NOT NULL"
	}
	applied := map[int]bool{}
	err := db.View(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(ctx, exists).Scan(&n); err != nil || n == 0 {
			return err
		}
		vs, err := queryAll(ctx, tx, func(r row) (v int, err error) { return v, r.Scan(&v) }, "SELECT version FROM schema_migrations")
		for _, v := range vs {
			applied[v] = true
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: read the applied migrations: %w", err)
	}
	var out []Migration
	for _, m := range ms {
		if !applied[m.Version] {
			out = append(out, m)
		}
	}
	return out, nil
}

// apply runs m in tx unless another process recorded it since pending read.
func (db *DB) apply(ctx context.Context, tx *Tx, m Migration) error {
	var n int
	if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil || n > 0 {
		return err
	}
	if _, err := tx.tx.ExecContext(ctx, db.dialectSQL(m.SQL)); err != nil {
		return err
	}
	_, err := tx.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.Version, m.Name, ts(time.Now()))
	return err
}

// SchemaVersion returns the newest applied migration.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.read.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

// dialectSQL expands the few macros that let one migration serve both
// engines.
func (db *DB) dialectSQL(q string) string {
	pk := "BIGINT PRIMARY KEY"
	if db.dialect == SQLite {
		pk = "INTEGER PRIMARY KEY" // the rowid itself: rows are stored in key order
	}
	// A finding's key within its asset, for a unique index: PostgreSQL
	// bounds an index entry (about 2.7 kB), so it indexes a digest of the
	// texts, each preceded by its length so that no two keys run together.
	key := "(asset_id, vuln_id, package, location)"
	if db.dialect == Postgres {
		key = "(asset_id, md5(length(vuln_id)::text || ':' || vuln_id || length(package)::text || ':' || package || location))"
	}
	q = db.expandSeal(q)
	q = strings.ReplaceAll(q, "{{finding_key}}", key)
	return strings.ReplaceAll(q, "{{int64_pk}}", pk)
}
