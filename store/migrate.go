package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
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

// Migrations lists the embedded migrations in order.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", base)
		}
		body, err := migrations.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: base, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	// Numbers are handed out to branches ahead of their merge, so one may
	// be missing for a while; each is applied by its number, whenever it
	// comes. Two of one number are a mistake.
	for i, m := range out {
		if m.Version < 1 || i > 0 && m.Version == out[i-1].Version {
			return nil, fmt.Errorf("migration %s: number %d is not unique and positive", m.Name, m.Version)
		}
	}
	return out, nil
}

// migrate applies every migration not yet recorded, each in its own
// transaction. On PostgreSQL an advisory lock keeps replicas that start
// together from racing.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
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
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		err := db.Update(ctx, func(tx *Tx) error {
			var n int
			if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.tx.ExecContext(ctx, db.dialectSQL(m.SQL)); err != nil {
				return err
			}
			_, err := tx.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.Version, m.Name, ts(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
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
	q = strings.ReplaceAll(q, "{{finding_key}}", key)
	return strings.ReplaceAll(q, "{{int64_pk}}", pk)
}
