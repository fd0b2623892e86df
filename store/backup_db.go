package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/opsguard/opsguard"
)

// DialectOf names the engine of the database at dsn (see OpenWith).
func DialectOf(dsn string) Dialect {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// Backup writes a consistent copy of the database at dsn to w while it is
// in use: SQLite's VACUUM INTO (one read transaction), or pg_dump's
// custom format (one snapshot) of the schema the URL's search_path names.
func Backup(ctx context.Context, dsn string, w io.Writer) error {
	if DialectOf(dsn) == Postgres {
		args := append([]string{"--format=custom", "--no-owner", "--no-privileges"}, schemaArgs(dsn)...)
		return pgTool(ctx, "pg_dump", dsn, args, nil, w)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dsn), ".backup-")
	if err != nil {
		return fmt.Errorf("backup %s: %w", dsn, err)
	}
	defer os.RemoveAll(tmp)
	// VACUUM INTO writes only the copy, but query_only refuses it.
	db, err := sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("backup %s: %w", dsn, err)
	}
	defer db.Close()
	copyPath := filepath.Join(tmp, "opsguard.db")
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", copyPath); err != nil {
		return fmt.Errorf("backup %s: %w", dsn, err)
	}
	f, err := os.Open(copyPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("backup %s: %w", dsn, err)
	}
	return nil
}

// Restore loads a copy made by Backup into the database at dsn. A database
// holding ledger entries is refused unless force, which replaces it. The
// server must not be running on it.
func Restore(ctx context.Context, dsn string, r io.Reader, force bool) error {
	empty, err := emptyDatabase(ctx, dsn)
	if err != nil {
		return err
	}
	if !empty && !force {
		return opsguard.Errorf(opsguard.EConflict, "the database %s holds a ledger: restore refuses to overwrite it without --force", redact(dsn))
	}
	if DialectOf(dsn) == Postgres {
		// The dump holds the one schema it was made of, created by name:
		// the URL's search_path must name the same schema to use it.
		args := []string{"--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--clean", "--if-exists"}
		return pgTool(ctx, "pg_restore", dsn, args, r, io.Discard)
	}
	// Written beside, then renamed over: a failed restore leaves the old
	// database as it was.
	if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dsn), ".restore-*")
	if err != nil {
		return fmt.Errorf("restore %s: %w", dsn, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return fmt.Errorf("restore %s: %w", dsn, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	if err := checkSQLite(ctx, tmp.Name()); err != nil {
		return err
	}
	for _, side := range []string{"-wal", "-shm"} {
		if err := os.Remove(dsn + side); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore %s: %w", dsn, err)
		}
	}
	return os.Rename(tmp.Name(), dsn)
}

// checkSQLite refuses a file that is not a sound SQLite database.
func checkSQLite(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		return opsguard.Errorf(opsguard.EInvalid, "the backup's database is not a sound SQLite database: %v%s", err, res)
	}
	return nil
}

// emptyDatabase reports whether dsn holds no ledger entry (no database at
// all, or one without the table or its rows).
func emptyDatabase(ctx context.Context, dsn string) (bool, error) {
	if DialectOf(dsn) == SQLite {
		if fi, err := os.Stat(dsn); errors.Is(err, fs.ErrNotExist) || err == nil && fi.Size() == 0 {
			return true, nil
		}
	}
	driver, src := "pgx", dsn
	if DialectOf(dsn) == SQLite {
		driver, src = "sqlite", "file:"+dsn+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)"
	}
	db, err := sql.Open(driver, src)
	if err != nil {
		return false, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM ledger_entries LIMIT 1) x").Scan(&n)
	if err != nil && strings.Contains(err.Error(), "ledger_entries") {
		return true, nil // no such table: never migrated
	}
	if err != nil {
		return false, fmt.Errorf("look into %s: %w", redact(dsn), err)
	}
	return n == 0, nil
}

// schemaArgs limits pg_dump and pg_restore to the schema of the URL's
// search_path, when it names one.
func schemaArgs(dsn string) []string {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil
	}
	if s := u.Query().Get("search_path"); s != "" {
		return []string{"--schema=" + strings.Split(s, ",")[0]}
	}
	return nil
}

// pgTool runs pg_dump or pg_restore on the database at dsn, the password
// in the environment (not on the command line that ps shows).
func pgTool(ctx context.Context, name, dsn string, args []string, in io.Reader, out io.Writer) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("%s: bad database URL", name)
	}
	env := os.Environ()
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	q.Del("search_path") // libpq does not know it
	u.RawQuery = q.Encode()
	cmd := exec.CommandContext(ctx, name, append(args, "--dbname="+u.String())...)
	cmd.Env, cmd.Stdin, cmd.Stdout = env, in, out
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s is not installed (PostgreSQL client tools)", name)
		}
		return fmt.Errorf("%s %s: %v: %s", name, redact(dsn), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
