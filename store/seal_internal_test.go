package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store/internal/rawexec"
)

// The store's own tests cannot use storetest (it imports store), so they
// open the two engines themselves.
func eachBackend(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "opsguard.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresDSN(t)) })
}

func openTest(t *testing.T, dsn string, opts Options) *DB {
	t.Helper()
	db, err := OpenWith(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testLog(t *testing.T) *ledger.Log {
	t.Helper()
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "ledger.key"))
	if err != nil {
		t.Fatal(err)
	}
	return ledger.New(key, ledger.Options{})
}

// sealedWrite runs q in a transaction that the ledger seals.
func sealedWrite(ctx context.Context, db *DB, l *ledger.Log, q string, args ...any) error {
	return db.Update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, q, args...); err != nil {
			return err
		}
		_, err := l.Append(ctx, tx, ledger.Event{Actor: "test", Kind: "test.write", Subject: "test/row"})
		return err
	})
}

// rowValues returns an INSERT of one row of t whose text columns all hold
// v (a JSON string, so that JSON columns accept it, and the same in every
// table, so that foreign keys find their row).
func rowInsert(t sealedTable, cols []column, v string) (string, []any) {
	names, marks, args := make([]string, len(cols)), make([]string, len(cols)), make([]any, len(cols))
	for i, c := range cols {
		names[i], marks[i] = c.name, "?"
		switch c.tag {
		case "i":
			args[i] = 1
		case "i!":
			args[i] = false
		case "r":
			args[i] = 0.5
		case "b":
			args[i] = []byte{1}
		default:
			args[i] = v
		}
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", t.name, strings.Join(names, ", "), strings.Join(marks, ", ")), args
}

// populate writes one row with key v in every sealed table, each in a
// sealed transaction, parents before children (found by retrying), and
// returns the tables in the order written.
func populate(t *testing.T, ctx context.Context, db *DB, l *ledger.Log, v string) []string {
	t.Helper()
	var order []string
	left := slices.Clone(db.sealed)
	for len(left) > 0 {
		var next []sealedTable
		var lastErr error
		for _, st := range left {
			cols, err := db.columns(ctx, st.name)
			if err != nil {
				t.Fatal(err)
			}
			q, args := rowInsert(st, cols, v)
			if lastErr = sealedWrite(ctx, db, l, q, args...); lastErr != nil {
				next = append(next, st)
				continue
			}
			order = append(order, st.name)
		}
		if len(next) == len(left) {
			t.Fatalf("no row could be written in %d tables: %v", len(left), lastErr)
		}
		left = next
	}
	return order
}

func verifyRows(t *testing.T, ctx context.Context, db *DB, l *ledger.Log) *ledger.Report {
	t.Helper()
	rep, err := ledger.VerifyWith(ctx, LedgerSource(db), l.Verifier(), ledger.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// editable is a column of t an edit can change without breaking a key.
func editable(t sealedTable, cols []column, fks []string) (column, bool) {
	for _, c := range cols {
		if slices.Contains(t.keys, c.name) || slices.Contains(fks, c.name) || strings.Contains(strings.ToLower(c.typ), "json") {
			continue
		}
		if c.tag == "t" || c.tag == "i" {
			return c, true
		}
	}
	return column{}, false
}

func raw(t *testing.T, db *DB, q string, args ...any) {
	t.Helper()
	if _, err := rawexec.Exec(context.Background(), db, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// For every sealed table, on both engines: a row edited, a row inserted
// and a row deleted behind the server's back are each named by verify,
// with the table and the row.
func TestEverySealedTableTampered(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, dsn string) {
		db, l := openTest(t, dsn, Options{}), testLog(t)
		if len(db.sealed) < 19 {
			t.Fatalf("%d sealed tables", len(db.sealed))
		}
		order := populate(t, ctx, db, l, `"x"`)
		if rep := verifyRows(t, ctx, db, l); !rep.OK() {
			t.Fatalf("untouched: %q", rep.Problems)
		}
		expect := func(what, row, problem string) {
			t.Helper()
			rep := verifyRows(t, ctx, db, l)
			all := strings.Join(rep.Problems, "\n")
			for _, name := range order {
				st, _ := db.sealedTable(name)
				key := row
				if len(st.keys) > 1 {
					key = row + "/" + row
				}
				want := fmt.Sprintf("table %s: row %s", name, key)
				if what == "edited" {
					if _, ok := editable(st, mustColumns(t, db, name), foreignKeys(t, db, name)); !ok {
						continue
					}
				}
				if !strings.Contains(all, want) || !strings.Contains(all, problem) {
					t.Errorf("%s row of %s not named (want %q … %q) in:\n%s", what, name, want, problem, all)
				}
			}
		}

		// Edited: one column of every table's row.
		for _, name := range order {
			st, _ := db.sealedTable(name)
			if c, ok := editable(st, mustColumns(t, db, name), foreignKeys(t, db, name)); ok {
				set := c.name + " = " + c.name + " || 'e'"
				if c.tag == "i" {
					set = c.name + " = " + c.name + " + 1"
				}
				raw(t, db, "UPDATE "+name+" SET "+set)
			}
		}
		expect("edited", `"x"`, "differs from what entry")

		// Inserted: a second family of rows no entry wrote.
		for _, name := range order {
			st, _ := db.sealedTable(name)
			q, args := rowInsert(st, mustColumns(t, db, name), `"y"`)
			raw(t, db, q, args...)
		}
		expect("inserted", `"y"`, "sealed by no entry")

		// Deleted: every row, children first.
		for i := len(order) - 1; i >= 0; i-- {
			raw(t, db, "DELETE FROM "+order[i])
		}
		expect("deleted", `"x"`, "is missing: deleted")
	})
}

// foreignKeys returns the columns of table that refer to another table.
func foreignKeys(t *testing.T, db *DB, table string) []string {
	t.Helper()
	q := "SELECT \"from\" FROM pragma_foreign_key_list(?)"
	if db.dialect == Postgres {
		q = `SELECT k.column_name FROM information_schema.table_constraints c
			JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
			WHERE c.constraint_type = 'FOREIGN KEY' AND c.table_schema = current_schema() AND c.table_name = ?`
	}
	var out []string
	err := db.View(context.Background(), func(tx *Tx) error {
		var err error
		out, err = queryAll(context.Background(), tx, func(r row) (s string, err error) { return s, r.Scan(&s) }, q, table)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustColumns(t *testing.T, db *DB, table string) []column {
	t.Helper()
	cols, err := db.columns(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

// A transaction that changes a row of any sealed table without the entry
// that seals it is refused at commit, and leaves nothing behind.
func TestUnsealedWriteRefused(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, dsn string) {
		db, l := openTest(t, dsn, Options{}), testLog(t)
		order := populate(t, ctx, db, l, `"x"`)
		for _, name := range order {
			st, _ := db.sealedTable(name)
			cols := mustColumns(t, db, name)
			fks := foreignKeys(t, db, name)
			ins, args := rowInsert(st, cols, `"z"`)
			for i, c := range cols {
				if slices.Contains(fks, c.name) {
					args[i] = `"x"` // the parent row exists
				}
			}
			writes := map[string]func(tx *Tx) error{
				"update": func(tx *Tx) error { _, err := tx.exec(ctx, ins, args...); return err }, // replaced below when editable
				"insert": func(tx *Tx) error {
					if _, err := tx.exec(ctx, "DELETE FROM "+name); err != nil {
						return err
					}
					q, a := rowInsert(st, cols, `"x"`)
					_, err := tx.exec(ctx, q, a...)
					return err
				},
				"insert a new row": func(tx *Tx) error { _, err := tx.exec(ctx, ins, args...); return err },
			}
			delete(writes, "update")
			if len(st.keys) > 1 || slices.Contains(fks, st.keys[0]) {
				delete(writes, "insert a new row") // its key is its parent's: the row exists
			} else {
				delete(writes, "insert")
			}
			if c, ok := editable(st, cols, foreignKeys(t, db, name)); ok {
				writes["update"] = func(tx *Tx) error {
					_, err := tx.exec(ctx, "UPDATE "+name+" SET "+c.name+" = "+c.name)
					return err
				}
			}
			for what, write := range writes {
				if what == "delete" && hasChildren(t, db, name) {
					continue // the children's keys would refuse it first
				}
				err := db.Update(ctx, write)
				if err == nil || !strings.Contains(err.Error(), name+" row") || !strings.Contains(err.Error(), "without the ledger entry") {
					t.Errorf("%s %s without its seal: %v", what, name, err)
				}
			}
		}
		if rep := verifyRows(t, ctx, db, l); !rep.OK() {
			t.Errorf("a refused write left something behind: %q", rep.Problems)
		}
	})
}

// hasChildren reports whether a sealed table's row is referred to by
// another's.
func hasChildren(t *testing.T, db *DB, table string) bool {
	for _, st := range db.sealed {
		q := "SELECT COUNT(*) FROM pragma_foreign_key_list(?) WHERE \"table\" = ?"
		if db.dialect == Postgres {
			q = `SELECT COUNT(*) FROM information_schema.referential_constraints r
				JOIN information_schema.table_constraints c ON c.constraint_name = r.constraint_name AND c.table_schema = r.constraint_schema
				JOIN information_schema.table_constraints p ON p.constraint_name = r.unique_constraint_name AND p.table_schema = r.unique_constraint_schema
				WHERE c.table_schema = current_schema() AND c.table_name = ? AND p.table_name = ?`
		}
		var n int
		db.View(context.Background(), func(tx *Tx) error { return tx.queryRow(context.Background(), q, st.name, table).Scan(&n) })
		if n > 0 {
			return true
		}
	}
	return false
}

// A row changed outside opsguard is not sealed by the next write that
// goes through it: it stays named by verify.
func TestOutsideEditStaysUnsealed(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, dsn string) {
		db, l := openTest(t, dsn, Options{}), testLog(t)
		populate(t, ctx, db, l, `"x"`)
		raw(t, db, `UPDATE users SET role = 'admin'`)
		if err := sealedWrite(ctx, db, l, `UPDATE api_tokens SET name = 'renamed'`); err != nil {
			t.Fatal(err)
		}
		rep := verifyRows(t, ctx, db, l)
		if all := strings.Join(rep.Problems, "\n"); !strings.Contains(all, `table users: row "x" differs`) || strings.Contains(all, "api_tokens") {
			t.Errorf("problems: %s", all)
		}
	})
}

// A database written before sealing: its rows are sealed once at the next
// start, one ledger.sealed entry per table, and verify then passes; a
// table listed for that after writes began sealing rows is refused.
func TestSealExisting(t *testing.T) {
	ctx := context.Background()
	eachBackend(t, func(t *testing.T, dsn string) {
		l := testLog(t)
		old := openTest(t, dsn, Options{migrateUpTo: 19})
		if len(old.sealed) != 0 {
			t.Fatalf("sealed before 0020: %d", len(old.sealed))
		}
		for _, q := range []string{
			`INSERT INTO users (id, username, display_name, email, role, password_hash, created_at, created_by) VALUES ('usr_1', 'ann', 'Ann', '', 'admin', 'h', 't', 'cli')`,
			`INSERT INTO users (id, username, display_name, email, role, password_hash, created_at, created_by) VALUES ('usr_2', 'bob', 'Bob', '', 'engineer', 'h', 't', 'cli')`,
			`INSERT INTO assets (id, name, kind, created_at) VALUES ('ast_1', 'shop', 'image', 't')`,
		} {
			if err := sealedWrite(ctx, old, l, q); err != nil {
				t.Fatal(err)
			}
		}
		old.Close()

		db := openTest(t, dsn, Options{})
		var sealed []string
		err := db.Update(ctx, func(tx *Tx) error {
			var err error
			sealed, err = l.SealExisting(ctx, tx, "system")
			return err
		})
		if err != nil || strings.Join(sealed, ",") != "assets,users" {
			t.Fatalf("sealed %v, %v", sealed, err)
		}
		if rep := verifyRows(t, ctx, db, l); !rep.OK() {
			t.Fatalf("after the upgrade: %q", rep.Problems)
		}
		var kinds []string
		db.View(ctx, func(tx *Tx) error {
			es, err := tx.ListEntries(ctx, ledger.EntryFilter{Kind: ledger.KindSealed})
			for _, e := range es {
				kinds = append(kinds, e.Subject)
			}
			return err
		})
		if strings.Join(kinds, ",") != "table/users,table/assets" {
			t.Errorf("ledger.sealed entries: %v", kinds)
		}
		// From now on a write seals its own rows; a bulk seal asked for
		// later (a forged list) is refused and the rows stay unsealed.
		if err := sealedWrite(ctx, db, l, `UPDATE users SET display_name = 'Ann B' WHERE id = 'usr_1'`); err != nil {
			t.Fatal(err)
		}
		raw(t, db, `INSERT INTO users (id, username, display_name, email, role, password_hash, created_at, created_by) VALUES ('usr_9', 'eve', 'Eve', '', 'admin', 'h', 't', 'cli')`)
		raw(t, db, `INSERT INTO seal_upgrade (tbl) VALUES ('users')`)
		err = db.Update(ctx, func(tx *Tx) error { _, err := l.SealExisting(ctx, tx, "system"); return err })
		if err == nil || !strings.Contains(err.Error(), "not written through opsguard") {
			t.Errorf("a late bulk seal: %v", err)
		}
		if all := strings.Join(verifyRows(t, ctx, db, l).Problems, "\n"); !strings.Contains(all, "table users: row usr_9 was sealed by no entry") {
			t.Errorf("problems: %s", all)
		}
	})
}

// postgresDSN is storetest.PostgresDSN, which this package's own tests
// cannot import: a schema of its own in OPSGUARD_TEST_POSTGRES.
func postgresDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("OPSGUARD_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("OPSGUARD_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("PostgreSQL tests need OPSGUARD_TEST_POSTGRES (required: OPSGUARD_REQUIRE_INTEGRATION=1)")
		}
		t.Skip("PostgreSQL tests need OPSGUARD_TEST_POSTGRES=postgres://… (set by .ci/run)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	schema := "t_" + strings.ReplaceAll(id.New("s"), "s_", "")
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", base); err == nil {
			a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// unsealed are the tables written without a seal, on purpose: the ledger
// itself, and operational state that changes without a decision.
var unsealed = []string{"ledger_entries", "ledger_checkpoints", "evidence_blobs", "schema_migrations", "seal_pending", "seal_upgrade",
	"sessions", "sign_in_failures", "job_runs", "outbox", "notification_attempts", "policy_notices"}

// Every statement of every store method that writes names a sealed table
// (so the commit check covers it) or one of the few left unsealed on
// purpose: a new table cannot be written unsealed by forgetting it.
func TestEveryWriteIsOnASealedTable(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "o.db"), Options{})
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	write := regexp.MustCompile(`(?:INSERT INTO|UPDATE|DELETE FROM) ([a-z_]+)`)
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "seal.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range write.FindAllStringSubmatch(string(src), -1) {
			seen++
			if _, ok := db.sealedTable(m[1]); !ok && !slices.Contains(unsealed, m[1]) {
				t.Errorf("%s: %q writes %s, which is neither sealed nor listed as unsealed on purpose", f, m[0], m[1])
			}
		}
	}
	if seen < 40 {
		t.Errorf("only %d write statements found: the pattern no longer matches the store's SQL", seen)
	}
}

// insertRow inserts a row of table whose text columns hold v, but for
// those set in cols.
func insertRow(ctx context.Context, tx *Tx, table, v string, set map[string]any) error {
	st, _ := tx.db.sealedTable(table)
	cols, err := tx.db.columns(ctx, table)
	if err != nil {
		return err
	}
	q, args := rowInsert(st, cols, v)
	for i, c := range cols {
		if x, ok := set[c.name]; ok {
			args[i] = x
		}
	}
	_, err = tx.exec(ctx, q, args...)
	return err
}

// Rows are sealed a chunk at a time: with chunks of two, seven rows
// inserted, some updated and some deleted in one transaction (keys of one
// and of two columns) are each sealed and verify.
func TestSealInChunks(t *testing.T) {
	ctx := context.Background()
	defer func(n int) { sealChunk = n }(sealChunk)
	sealChunk = 2
	eachBackend(t, func(t *testing.T, dsn string) {
		db, l := openTest(t, dsn, Options{}), testLog(t)
		var sealed int
		write := func(fn func(tx *Tx) error) {
			t.Helper()
			err := db.Update(ctx, func(tx *Tx) error {
				if err := fn(tx); err != nil {
					return err
				}
				a, err := l.Begin(ctx, tx)
				if err != nil {
					return err
				}
				if _, err := a.Add(ledger.Event{Actor: "t", Kind: "t.write", Subject: "t/1"}); err != nil {
					return err
				}
				return a.Close()
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		write(func(tx *Tx) error {
			if err := insertRow(ctx, tx, "control_runs", "run", nil); err != nil {
				return err
			}
			for i := range 7 {
				if err := insertRow(ctx, tx, "vuln_texts", fmt.Sprintf("h%d", i), nil); err != nil {
					return err
				}
				if err := insertRow(ctx, tx, "control_results", "run", map[string]any{"control_id": fmt.Sprintf("C-%d", i)}); err != nil {
					return err
				}
			}
			return nil
		})
		write(func(tx *Tx) error {
			for _, q := range []string{
				`UPDATE vuln_texts SET title = 'u' WHERE hash IN ('h1', 'h4')`, `DELETE FROM vuln_texts WHERE hash IN ('h2', 'h5')`,
				`UPDATE control_results SET summary = 'u' WHERE control_id IN ('C-0', 'C-6')`, `DELETE FROM control_results WHERE control_id = 'C-3'`,
			} {
				if _, err := tx.exec(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
		db.View(ctx, func(tx *Tx) error {
			es, err := tx.ListEntries(ctx, ledger.EntryFilter{Kind: ledger.KindRows})
			for _, e := range es {
				var p struct{ Rows int }
				json.Unmarshal(e.Payload, &p)
				sealed += p.Rows
			}
			return err
		})
		if sealed != 15+7 {
			t.Errorf("%d rows sealed, want 15 written then 7 changed", sealed)
		}
		if rep := verifyRows(t, ctx, db, l); !rep.OK() {
			t.Fatalf("verify: %q", rep.Problems)
		}
		raw(t, db, `UPDATE control_results SET summary = 'v' WHERE control_id = 'C-5'`)
		if all := strings.Join(verifyRows(t, ctx, db, l).Problems, "\n"); !strings.Contains(all, "table control_results: row run/C-5 differs") {
			t.Errorf("problems: %s", all)
		}
	})
}
