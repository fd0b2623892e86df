// Package store is opsguard's only SQL layer: it opens SQLite (the embedded
// default) or PostgreSQL, runs the embedded migrations, and holds every
// query, one file per table group. Domain packages reach it through small
// interfaces they declare themselves; store implements them on *Tx.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"modernc.org/sqlite"               // registers "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store/internal/rawexec"
)

// Dialect names the SQL engine behind a DB.
type Dialect string

// The two supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrNotFound is returned when a row asked for by key does not exist.
var ErrNotFound = &opsguard.Error{Code: opsguard.ENotFound, Message: "not found"}

// DB is an open store. For SQLite it holds two pools: one connection for
// writes (so writers in this process queue in Go instead of spinning on
// SQLITE_BUSY) and several for reads, which WAL lets run beside the writer.
type DB struct {
	dialect Dialect
	opts    Options
	write   *sql.DB
	read    *sql.DB
	rebound sync.Map      // query → query with $n placeholders (PostgreSQL)
	stmts   sync.Map      // query → *sql.Stmt prepared on the write pool
	sealed  []sealedTable // by name; empty until the migrations have run
}

// Options say how a store waits for a database that another process is
// writing. The zero value gives the defaults.
type Options struct {
	// Logger receives the reports of a write that waits for the lock.
	Logger *slog.Logger
	// LockWait bounds how long a write waits for SQLite's write lock,
	// which one process holds at a time (the server during a long import,
	// a CLI command), before it fails. Default DefaultLockWait.
	LockWait time.Duration
	// LockReport is how often a waiting write says it still waits.
	// Default 5s.
	LockReport time.Duration
	// JobLockCheck is how often a job holding its lock on PostgreSQL
	// checks that the lock's connection is alive. Default 10s.
	JobLockCheck time.Duration
	// migrateUpTo, for tests, stops the migrations after that version.
	migrateUpTo int
}

// DefaultLockWait is how long a write waits for the write lock unless told.
const DefaultLockWait = 5 * time.Minute

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LockWait <= 0 {
		o.LockWait = DefaultLockWait
	}
	if o.LockReport <= 0 {
		o.LockReport = 5 * time.Second
	}
	o.LockReport = min(o.LockReport, o.LockWait)
	if o.JobLockCheck <= 0 {
		o.JobLockCheck = 10 * time.Second
	}
	return o
}

// Open opens the database named by dsn with the default Options.
func Open(ctx context.Context, dsn string) (*DB, error) {
	return OpenWith(ctx, dsn, Options{})
}

// OpenWith opens the database named by dsn: a postgres:// URL, or else the
// path of a SQLite file (its directory is created). Pending migrations run
// before it returns; a database already up to date is only read, so that
// opening it never waits for another process's write.
func OpenWith(ctx context.Context, dsn string, opts Options) (*DB, error) {
	opts = opts.withDefaults()
	var db *DB
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err = openPostgres(ctx, dsn)
	} else {
		db, err = openSQLite(ctx, dsn, opts)
	}
	if err != nil {
		return nil, err
	}
	db.opts = opts
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.loadSealed(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.prepareHot(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := createSQLite(ctx, path); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// A 64 MiB page cache and memory-mapped reads keep the ledger's hot
	// pages in memory; without them each insert and scan is a system call.
	// Temporary data in memory: a multi-row INSERT keeps a statement journal
	// to undo itself, which otherwise goes to a temporary file page by page.
	pragmas := "_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)" +
		"&_pragma=cache_size(-65536)&_pragma=mmap_size(1073741824)&_pragma=temp_store(MEMORY)"
	// BEGIN IMMEDIATE takes the write lock up front: a deferred transaction
	// that reads then writes can fail with SQLITE_BUSY that no timeout cures.
	// Each attempt waits one LockReport for it (busy_timeout), then
	// beginWrite reports the wait and tries again, up to LockWait.
	w, err := sql.Open("sqlite", fmt.Sprintf("file:%s?%s&_pragma=busy_timeout(%d)&_txlock=immediate", path, pragmas, opts.LockReport.Milliseconds()))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	// Readers under WAL wait for nobody but a checkpoint's brief locks.
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{dialect: SQLite, write: w, read: r}, nil
}

// sqlitePageSize is the page size of new databases. Findings rows with
// their texts are near a kilobyte: 8 KiB pages halve the pages a large
// import writes, splits and checkpoints. It takes effect only on creation
// (the journal_mode pragma of the pools writes the first page), so an
// existing database keeps its size.
const sqlitePageSize = 8192

// createSQLite gives a database that does not exist yet its page size.
func createSQLite(ctx context.Context, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 || err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil // an existing database, or one Open will report on
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d; PRAGMA journal_mode = WAL", sqlitePageSize))
	return err
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	d, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	d.SetMaxOpenConns(16)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.PingContext(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(url), err)
	}
	return &DB{dialect: Postgres, write: d, read: d}, nil
}

// redact hides the password of a database URL for messages, whether it is
// in the user information or in a password query parameter.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "the database URL (unparsable, not shown)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Dialect reports the engine.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes both pools.
func (db *DB) Close() error {
	db.stmts.Range(func(_, s any) bool { s.(*sql.Stmt).Close(); return true })
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	return db.read.PingContext(ctx)
}

// Tx is one transaction. Every domain write happens inside one, together
// with the ledger entries that record it.
type Tx struct {
	db          *DB
	tx          *sql.Tx
	readOnly    bool
	afterCommit []func()
	texts       map[textKey]string // vulnerability texts stored by this transaction, by title and description
}

// Update runs fn in a read-write transaction and commits when fn returns nil.
// Functions registered with AfterCommit run after a successful commit.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	stx, err := db.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return db.run(ctx, stx, false, fn)
}

// View runs fn in a read-only transaction: one consistent snapshot.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	opts := &sql.TxOptions{}
	if db.dialect == Postgres {
		// REPEATABLE READ gives one snapshot for the whole read, as WAL does in SQLite.
		opts = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	stx, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return db.run(ctx, stx, true, fn)
}

// beginWrite begins a write transaction. SQLite lets one process write at
// a time: while another holds the lock (the server importing a large
// report, a CLI command), the write waits, says so every LockReport, and
// gives up after LockWait.
func (db *DB) beginWrite(ctx context.Context) (*sql.Tx, error) {
	start := time.Now()
	for {
		stx, err := db.write.BeginTx(ctx, nil)
		if err == nil || db.dialect != SQLite || !isBusy(err) {
			return stx, err
		}
		waited := time.Since(start)
		if waited >= db.opts.LockWait {
			return nil, fmt.Errorf("another process held the database's write lock for %s, the longest a write waits (server.database_lock_wait): %w",
				waited.Round(time.Second), err)
		}
		db.opts.Logger.Warn("waiting for the database write lock (held by another process)",
			"waited", waited.Round(100*time.Millisecond).String(), "gives_up_after", db.opts.LockWait.String())
	}
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

func (db *DB) run(ctx context.Context, stx *sql.Tx, readOnly bool, fn func(*Tx) error) error {
	tx := &Tx{db: db, tx: stx, readOnly: readOnly}
	var err error
	if !readOnly {
		err = tx.clearForeignSeals(ctx)
	}
	if err == nil {
		err = fn(tx)
	}
	if err == nil && !readOnly {
		err = tx.checkSealed(ctx)
	}
	if err != nil {
		stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, f := range tx.afterCommit {
		f()
	}
	return nil
}

// AfterCommit registers f to run once the transaction has committed.
func (tx *Tx) AfterCommit(f func()) { tx.afterCommit = append(tx.afterCommit, f) }

// Dialect reports the engine of the transaction's database.
func (tx *Tx) Dialect() Dialect { return tx.db.dialect }

// exec, query and queryRow run q in tx, as the statement prepared at Open
// when q is one of those.
func (tx *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if s := tx.prepared(ctx, q); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return tx.tx.ExecContext(ctx, tx.db.bind(q), args...)
}

func (tx *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s := tx.prepared(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return tx.tx.QueryContext(ctx, tx.db.bind(q), args...)
}

func (tx *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if s := tx.prepared(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, tx.db.bind(q), args...)
}

// prepared is q prepared at Open, within tx; nil when q is not one of those.
func (tx *Tx) prepared(ctx context.Context, q string) *sql.Stmt {
	if s, ok := tx.db.stmts.Load(q); ok {
		return tx.tx.StmtContext(ctx, s.(*sql.Stmt))
	}
	return nil
}

func (tx *Tx) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	return tx.tx.PrepareContext(ctx, tx.db.bind(q))
}

// stmt returns the statement q within tx: one of the hot statements
// prepared at Open, so it is compiled once per connection rather than once
// per transaction, or else a statement prepared for this transaction. (It
// cannot prepare on the pool here: SQLite's one write connection is the
// transaction's.)
func (tx *Tx) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s := tx.prepared(ctx, q); s != nil {
		return s, nil
	}
	return tx.prepare(ctx, q)
}

// prepareHot prepares the statements of the hot paths on the write pool.
func (db *DB) prepareHot(ctx context.Context) error {
	for _, q := range hotStatements() {
		s, err := db.write.PrepareContext(ctx, db.bind(q))
		if err != nil {
			return fmt.Errorf("prepare %.60s…: %w", q, err)
		}
		db.stmts.Store(q, s)
	}
	// The events' inserts and the hosts' hot statements, where their
	// tables exist (a store opened with only some migrations, in the
	// store's own tests, lacks them): else prepared per transaction.
	optional := append(slices.Clone(hostHotStatements), db.sealStatements()...)
	for _, n := range eventChunks {
		optional = append(optional, insertEventsQuery(n))
	}
	for _, q := range optional {
		if s, err := db.write.PrepareContext(ctx, db.bind(q)); err == nil {
			db.stmts.Store(q, s)
		}
	}
	return nil
}

// bind rewrites ? placeholders to $1, $2, … for PostgreSQL. Queries in this
// package never hold a literal question mark.
func (db *DB) bind(q string) string {
	if db.dialect != Postgres {
		return q
	}
	if v, ok := db.rebound.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	db.rebound.Store(q, b.String())
	return b.String()
}

// TimeFormat is how times are stored: UTC, microseconds, fixed width so
// that text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// ts formats t with the ledger's formatter, which writes TimeFormat ten
// times as fast as time.Format: an import stores hundreds of thousands.
func ts(t time.Time) string {
	var b [len(TimeFormat)]byte
	return string(ledger.AppendTime(b[:0], t))
}

func nowUTC() time.Time { return time.Now().UTC() }

func nullTS(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return ts(*t)
}

func parseTS(s string) (time.Time, error) {
	t, err := ledger.ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

func parseNullTS(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTS(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// isUniqueViolation reports whether err is a unique-constraint failure in
// either engine.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// conflict turns a unique-constraint failure of an insert into a conflict
// (409) saying what already exists: it happens when another transaction
// stored the same key between this one's check and its insert.
func conflict(err error, format string, args ...any) error {
	if isUniqueViolation(err) {
		return opsguard.Errorf(opsguard.EConflict, format, args...)
	}
	return err
}

func init() {
	rawexec.ExecTx = func(ctx context.Context, t any, q string, args ...any) (int64, error) {
		res, err := t.(*Tx).exec(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	rawexec.Exec = func(ctx context.Context, d any, q string, args ...any) (int64, error) {
		db := d.(*DB)
		res, err := db.write.ExecContext(ctx, db.bind(q), args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	rawexec.QueryRow = func(ctx context.Context, d any, q string, args []any, dest ...any) error {
		db := d.(*DB)
		return db.read.QueryRowContext(ctx, db.bind(q), args...).Scan(dest...)
	}
}

// row is what a scan function reads one record from: *sql.Row or *sql.Rows.
type row = interface{ Scan(...any) error }

// queryAll runs q and reads every row with scan.
func queryAll[T any](ctx context.Context, tx *Tx, scan func(row) (T, error), q string, args ...any) ([]T, error) {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
