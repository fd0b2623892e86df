package drill

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// Scratch databases are named opsguard_drill_<random> and carry the
// owning process in their comment, for CleanStaleDatabases.
const dbPrefix = "opsguard_drill_"

func (r *drillRun) pgdump(ctx context.Context) {
	if err := r.readDump(ctx); err != nil {
		r.fail("dump", "a readable pg_dump custom-format archive", err)
		return
	}
	db, err := newScratchDB(ctx, r.spec.DSN)
	if err != nil {
		r.fail("scratch", "a fresh scratch database", err)
		return
	}
	defer func() {
		if err := db.drop(); err != nil {
			r.fail("cleanup", "scratch database dropped", err)
		}
	}()
	limit := fmt.Sprintf("at most %d bytes", r.spec.MaxBytes)
	if !r.pgRestore(ctx, db, limit) {
		return
	}
	size := db.size(ctx)
	r.rep.BytesRestored = size
	r.check("size limit", limit, fmt.Sprintf("%d bytes", size), size <= r.spec.MaxBytes)
	for _, a := range r.spec.Assertions {
		r.assert(ctx, db, a)
	}
	r.amcheck(ctx, db)
}

// readDump hashes the archive (its identity as a snapshot) and reads the
// time pg_dump wrote in its header.
func (r *drillRun) readDump(ctx context.Context) error {
	f, err := os.Open(r.spec.Location)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read %s: %w", r.spec.Location, err)
	}
	r.rep.SnapshotID = "sha256:" + hex.EncodeToString(h.Sum(nil))
	var created time.Time
	stderr, err := r.run(ctx, tool{name: r.opts.PGRestore, args: []string{"--list", r.spec.Location}, stdout: func(rd io.Reader) error {
		sc := bufio.NewScanner(rd)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "; Archive created at "); ok {
				created, _ = time.Parse("2006-01-02 15:04:05 MST", strings.TrimSpace(v))
			}
		}
		return sc.Err()
	}})
	if err != nil {
		return fmt.Errorf("not a pg_dump custom-format archive: %v: %s", err, lastLine(stderr))
	}
	if created.IsZero() {
		return errors.New("the archive's header has no creation time")
	}
	r.rep.SnapshotTime = created
	r.check("dump", "a pg_dump custom-format archive", r.rep.SnapshotID[:19]+"… of "+created.UTC().Format(time.RFC3339), true)
	return nil
}

func (r *drillRun) pgRestore(ctx context.Context, db *scratchDB, limit string) bool {
	return r.runWatched(ctx, "pg_restore", limit, tool{name: r.opts.PGRestore, env: db.env,
		args: []string{"--no-owner", "--no-privileges", "--exit-on-error", "--dbname", db.url, r.spec.Location}}, db.size)
}

// assert runs one SQL assertion in a read-only transaction, so that a
// specification cannot change what it checks.
func (r *drillRun) assert(ctx context.Context, db *scratchDB, a Assertion) {
	name := a.Name
	if name == "" {
		name = a.SQL + a.Newest
	}
	tx, err := db.conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		r.fail(name, "a read-only transaction", err)
		return
	}
	defer tx.Rollback()
	if a.SQL != "" {
		var n sql.NullInt64
		err := tx.QueryRowContext(ctx, a.SQL).Scan(&n)
		want := fmt.Sprintf("at least %d", a.Min)
		switch {
		case err != nil:
			r.fail(name, want, fmt.Errorf("query: %w", err))
		default:
			r.check(name, want, fmt.Sprint(n.Int64), n.Valid && n.Int64 >= a.Min)
		}
		return
	}
	var t sql.NullTime
	err = tx.QueryRowContext(ctx, a.Newest).Scan(&t)
	within := time.Duration(a.WithinHours * float64(time.Hour))
	want := fmt.Sprintf("within %s of the snapshot (%s)", within, r.rep.SnapshotTime.UTC().Format(time.RFC3339))
	switch {
	case err != nil:
		r.fail(name, want, fmt.Errorf("query: %w", err))
	case !t.Valid:
		r.check(name, want, "NULL: no rows", false)
	default:
		gap := r.rep.SnapshotTime.Sub(t.Time)
		r.check(name, want, fmt.Sprintf("%s (%s before)", t.Time.UTC().Format(time.RFC3339), gap.Round(time.Second)), gap <= within)
	}
}

// amcheck runs pg_amcheck on the scratch database when it is installed
// (it comes with the server packages, off the PATH on Debian).
func (r *drillRun) amcheck(ctx context.Context, db *scratchDB) {
	bin := r.opts.PGAmcheck
	if bin == "" {
		bin = findAmcheck()
	}
	if bin == "" {
		r.rep.Notes = append(r.rep.Notes, "pg_amcheck is not installed: the restored database's heap and indexes were not checked")
		return
	}
	stderr, err := r.run(ctx, tool{name: bin, env: db.env,
		args: []string{"--install-missing", "--heapallindexed", db.url}})
	if err != nil {
		r.fail("pg_amcheck", "no corruption", fmt.Errorf("%v: %s", err, lastLine(stderr)))
		return
	}
	r.check("pg_amcheck", "no corruption", "none found", true)
}

func findAmcheck() string {
	if p, err := exec.LookPath("pg_amcheck"); err == nil {
		return p
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_amcheck")
	slices.Sort(found) // the newest major version last (two digits since 10)
	if len(found) == 0 {
		return ""
	}
	return found[len(found)-1]
}

// scratchDB is a fresh database on the drill's server.
type scratchDB struct {
	name  string
	admin *sql.DB // on the server's own database, to create and drop
	conn  *sql.DB // on the scratch database
	url   string  // of the scratch database, without the password
	env   []string
}

func newScratchDB(ctx context.Context, dsn string) (*scratchDB, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("the PostgreSQL server must be a postgres:// URL")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	d := &scratchDB{name: dbPrefix + randomID(), admin: admin}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+d.name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create scratch database: %w", err)
	}
	host, _ := os.Hostname()
	comment := fmt.Sprintf("opsguard drill\nhost %s\n%s", host, ownerText(os.Getpid()))
	if _, err := admin.ExecContext(ctx, fmt.Sprintf("COMMENT ON DATABASE %s IS '%s'", d.name, strings.ReplaceAll(comment, "'", "''"))); err != nil {
		d.drop()
		return nil, fmt.Errorf("mark scratch database: %w", err)
	}
	full := *u
	full.Path = "/" + d.name
	q := full.Query()
	q.Del("search_path")
	full.RawQuery = q.Encode()
	if d.conn, err = sql.Open("pgx", full.String()); err != nil {
		d.drop()
		return nil, err
	}
	// The password goes to the tools in their environment, not on a
	// command line that ps shows.
	if pw, ok := u.User.Password(); ok {
		d.env = []string{"PGPASSWORD=" + pw}
		full.User = url.User(u.User.Username())
	}
	d.url = full.String()
	return d, nil
}

// size is the scratch database's size on disk, 0 when unknown.
func (d *scratchDB) size(ctx context.Context) int64 {
	var n int64
	d.admin.QueryRowContext(ctx, "SELECT pg_database_size($1)", d.name).Scan(&n)
	return n
}

// drop removes the scratch database even when the drill's context is
// done: cleanup must outlive a cancel.
func (d *scratchDB) drop() error {
	if d.conn != nil {
		d.conn.Close()
	}
	defer d.admin.Close()
	return dropDatabase(d.admin, d.name)
}

func dropDatabase(admin *sql.DB, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop scratch database %s: %w", name, err)
	}
	return nil
}

// CleanStaleDatabases drops the scratch databases on the server at dsn
// that a drill of this host left when its process was killed. Those of
// another host are left to that host. It returns the names dropped.
func CleanStaleDatabases(ctx context.Context, dsn string) ([]string, error) {
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	rows, err := admin.QueryContext(ctx, `SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '')
		FROM pg_database WHERE datname LIKE 'opsguard\_drill\_%'`)
	if err != nil {
		return nil, fmt.Errorf("list scratch databases: %w", err)
	}
	type db struct{ name, comment string }
	var found []db
	for rows.Next() {
		var d db
		if err := rows.Scan(&d.name, &d.comment); err != nil {
			rows.Close()
			return nil, err
		}
		found = append(found, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	var dropped []string
	var errs []error
	for _, d := range found {
		// A database not yet commented is being created right now.
		if !strings.Contains(d.comment, "\nhost "+host+"\n") || ownerAlive(d.comment) {
			continue
		}
		if err := dropDatabase(admin, d.name); err != nil {
			errs = append(errs, err)
			continue
		}
		dropped = append(dropped, d.name)
	}
	return dropped, errors.Join(errs...)
}
