package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"modernc.org/sqlite"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
)

// Sealed tables. A migration declares a table sealed with the macro
// {{seal TABLE KEY [KEY2]}} (one or two text key columns): it adds the
// columns seal_seq and seal_hash and triggers that list every inserted,
// updated or deleted row in seal_pending. The ledger's appender, before it
// signs, calls SealRows: every listed row gets the sequence number of the
// sealing entry and the hash of its canonical content, and the entry
// records the same. A write transaction that leaves a row listed fails to
// commit, so a table cannot change without its entry.
//
// A row's canonical content is the text of its columns other than the two
// seal columns, sorted by name, NULLs left out, each as
// "name TAB tag length TAB value LF" with tag i (integers and booleans, as
// 0 or 1), r (reals), b (bytes, as lower-case hex) or t (text), length the
// value's size in bytes. Leaving NULLs out lets a migration add a nullable
// column to a sealed table without changing the hash of existing rows; a
// column added with a default changes every row's content and must be
// resealed through a service.

var (
	_ ledger.Sealer    = (*Tx)(nil)
	_ ledger.RowSource = ledgerSource{}
)

var sealMacro = regexp.MustCompile(`\{\{seal ([a-z_][a-z0-9_]*) ([a-z_][a-z0-9_]*)(?: ([a-z_][a-z0-9_]*))?\}\}`)

// sealedTable is a sealed table with what the store says of it.
type sealedTable struct {
	name string
	keys []string
	// canon and hash are SQL expressions of a row's canonical content and
	// its SHA-256, built from the table's columns when the store opens.
	canon, hash string
}

// sealedDecls returns the tables the migrations seal, by name.
func sealedDecls(ms []Migration) []sealedTable {
	var out []sealedTable
	for _, m := range ms {
		for _, g := range sealMacro.FindAllStringSubmatch(m.SQL, -1) {
			t := sealedTable{name: g[1], keys: []string{g[2]}}
			if g[3] != "" {
				t.keys = append(t.keys, g[3])
			}
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b sealedTable) int { return strings.Compare(a.name, b.name) })
	return slices.CompactFunc(out, func(a, b sealedTable) bool { return a.name == b.name })
}

// expandSeal replaces the seal macros of a migration with the engine's SQL.
func (db *DB) expandSeal(q string) string {
	return sealMacro.ReplaceAllStringFunc(q, func(m string) string {
		g := sealMacro.FindStringSubmatch(m)
		t := sealedTable{name: g[1], keys: []string{g[2]}}
		if g[3] != "" {
			t.keys = append(t.keys, g[3])
		}
		if db.dialect == Postgres {
			return t.postgresDDL()
		}
		return t.sqliteDDL()
	})
}

// pendingValues is the VALUES row of seal_pending for the row rec (NEW or
// OLD) in PostgreSQL.
func (t sealedTable) pendingValues(rec string) string {
	k2 := "''"
	if len(t.keys) > 1 {
		k2 = rec + "." + t.keys[1]
	}
	return fmt.Sprintf("(txid_current(), '%s', %s.%s, %s)", t.name, rec, t.keys[0], k2)
}

func (t sealedTable) common() string {
	return fmt.Sprintf(`ALTER TABLE %[1]s ADD COLUMN seal_seq BIGINT;
ALTER TABLE %[1]s ADD COLUMN seal_hash BYTEA;
INSERT INTO seal_upgrade (tbl) SELECT '%[1]s' WHERE EXISTS (SELECT 1 FROM %[1]s);
`, t.name)
}

// sqliteDDL: one writer at a time, so rows are listed with transaction 0
// and a write transaction starts by clearing what an outside writer left.
// A row already listed is skipped by a WHERE, not OR IGNORE, which the
// conflict clause of the statement firing the trigger would override.
func (t sealedTable) sqliteDDL() string {
	list := func(rec string) string {
		k2 := "''"
		if len(t.keys) > 1 {
			k2 = rec + "." + t.keys[1]
		}
		return fmt.Sprintf("INSERT INTO seal_pending (xid, tbl, k1, k2) SELECT 0, '%[1]s', %[2]s.%[3]s, %[4]s WHERE NOT EXISTS "+
			"(SELECT 1 FROM seal_pending WHERE xid = 0 AND tbl = '%[1]s' AND k1 = %[2]s.%[3]s AND k2 = %[4]s);", t.name, rec, t.keys[0], k2)
	}
	return t.common() + fmt.Sprintf(`CREATE TRIGGER %[1]s_seal_i AFTER INSERT ON %[1]s BEGIN %[2]s END;
CREATE TRIGGER %[1]s_seal_u AFTER UPDATE ON %[1]s WHEN NEW.seal_seq IS OLD.seal_seq BEGIN %[2]s %[3]s END;
CREATE TRIGGER %[1]s_seal_d AFTER DELETE ON %[1]s BEGIN %[3]s END;
`, t.name, list("NEW"), list("OLD"))
}

// postgresDDL: rows are listed under the transaction's id, so that what
// one transaction seals is only its own.
func (t sealedTable) postgresDDL() string {
	ins := "INSERT INTO seal_pending (xid, tbl, k1, k2) VALUES "
	return t.common() + fmt.Sprintf(`CREATE FUNCTION %[1]s_seal() RETURNS trigger LANGUAGE plpgsql AS $seal$
BEGIN
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.seal_seq IS NOT DISTINCT FROM OLD.seal_seq) THEN
        %[2]s%[3]s ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.seal_seq IS NOT DISTINCT FROM OLD.seal_seq) THEN
        %[2]s%[4]s ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$seal$;
CREATE TRIGGER %[1]s_seal AFTER INSERT OR UPDATE OR DELETE ON %[1]s FOR EACH ROW EXECUTE FUNCTION %[1]s_seal();
`, t.name, ins, t.pendingValues("NEW"), t.pendingValues("OLD"))
}

// loadSealed reads the columns of every sealed table and builds the
// expressions of their canonical content.
func (db *DB) loadSealed(ctx context.Context) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	pending, err := db.pending(ctx, ms)
	if err != nil {
		return err
	}
	ms = slices.DeleteFunc(ms, func(m Migration) bool {
		return slices.ContainsFunc(pending, func(p Migration) bool { return p.Version == m.Version })
	})
	tables := sealedDecls(ms)
	for i := range tables {
		t := &tables[i]
		cols, err := db.columns(ctx, t.name)
		if err != nil {
			return fmt.Errorf("sealed table %s: %w", t.name, err)
		}
		t.canon, t.hash = db.canonExpr(cols)
	}
	db.sealed = tables
	return nil
}

type column struct{ name, typ, tag string }

// columns returns a table's columns other than the seal columns, by name.
func (db *DB) columns(ctx context.Context, table string) ([]column, error) {
	q := "SELECT name, type FROM pragma_table_info(?)"
	if db.dialect == Postgres {
		q = "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?"
	}
	var cols []column
	err := db.View(ctx, func(tx *Tx) error {
		var err error
		cols, err = queryAll(ctx, tx, func(r row) (c column, err error) {
			err = r.Scan(&c.name, &c.typ)
			c.tag = typeTag(c.typ)
			return c, err
		}, q, table)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("no such table")
	}
	cols = slices.DeleteFunc(cols, func(c column) bool { return c.name == "seal_seq" || c.name == "seal_hash" })
	slices.SortFunc(cols, func(a, b column) int { return strings.Compare(a.name, b.name) })
	return cols, nil
}

// typeTag maps a declared column type to its tag in the canonical content;
// booleans are "i!" (an integer, cast in PostgreSQL).
func typeTag(typ string) string {
	t := strings.ToUpper(typ)
	switch {
	case strings.Contains(t, "BOOL"):
		return "i!"
	case strings.Contains(t, "INT"):
		return "i"
	case strings.Contains(t, "REAL"), strings.Contains(t, "DOUBLE"), strings.Contains(t, "FLOAT"), strings.Contains(t, "NUMERIC"):
		return "r"
	case strings.Contains(t, "BYTEA"), strings.Contains(t, "BLOB"):
		return "b"
	}
	return "t"
}

// canonExpr returns the SQL of a row's canonical content and of its hash.
func (db *DB) canonExpr(cols []column) (canon, hash string) {
	if db.dialect == Postgres {
		pieces := make([]string, len(cols))
		for i, c := range cols {
			v := c.name + "::text"
			switch c.tag {
			case "i!":
				v = "(" + c.name + "::int)::text"
			case "b":
				v = "encode(" + c.name + ", 'hex')"
			}
			pieces[i] = fmt.Sprintf("'%s' || chr(9) || '%s' || octet_length(%s) || chr(9) || %s || chr(10)", c.name, c.tag[:1], v, v)
		}
		canon = "concat(" + strings.Join(pieces, ", ") + ")"
		return canon, "sha256(convert_to(" + canon + ", 'UTF8'))"
	}
	layout, names := make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		layout[i], names[i] = c.name+":"+c.tag[:1], c.name
	}
	a := "'" + strings.Join(layout, ",") + "', " + strings.Join(names, ", ")
	return "opsguard_canon(" + a + ")", "opsguard_seal(" + a + ")"
}

func init() {
	sqlite.MustRegisterDeterministicScalarFunction("opsguard_canon", -1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		b, err := canonical(args)
		return string(b), err
	})
	sqlite.MustRegisterDeterministicScalarFunction("opsguard_seal", -1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		b, err := canonical(args)
		sum := sha256.Sum256(b)
		return sum[:], err
	})
}

// layouts caches the parsed first argument of opsguard_canon: the names
// and tags of the columns that follow, "name:tag,name:tag".
var layouts sync.Map // string → []column

func layoutOf(s string) []column {
	if v, ok := layouts.Load(s); ok {
		return v.([]column)
	}
	var cols []column
	for _, f := range strings.Split(s, ",") {
		name, tag, _ := strings.Cut(f, ":")
		cols = append(cols, column{name: name, tag: tag})
	}
	layouts.Store(s, cols)
	return cols
}

// canonical writes the canonical content of a row in SQLite, where a
// value's storage class need not be its column's type: args are the
// layout (see canonExpr) and then the columns' values.
func canonical(args []driver.Value) ([]byte, error) {
	spec, _ := args[0].(string)
	cols := layoutOf(spec)
	if len(cols) != len(args)-1 {
		return nil, fmt.Errorf("opsguard_canon: %d values for %d columns", len(args)-1, len(cols))
	}
	out := make([]byte, 0, 256)
	for i, c := range cols {
		v := args[i+1]
		if v == nil {
			continue
		}
		val := canonValue(c.tag, v)
		out = append(out, c.name...)
		out = append(out, '\t')
		out = append(out, c.tag...)
		out = strconv.AppendInt(out, int64(len(val)), 10)
		out = append(out, '\t')
		out = append(out, val...)
		out = append(out, '\n')
	}
	return out, nil
}

func canonValue(tag string, v driver.Value) string {
	switch x := v.(type) {
	case int64:
		if tag == "r" {
			return strconv.FormatFloat(float64(x), 'g', -1, 64)
		}
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "1"
		}
		return "0"
	case []byte:
		if tag == "b" {
			return hex.EncodeToString(x)
		}
		return string(x)
	case string:
		if tag == "b" {
			return hex.EncodeToString([]byte(x))
		}
		return x
	}
	return fmt.Sprint(v)
}

// pendingXID is the condition on seal_pending.xid selecting the rows of
// the current transaction.
func (tx *Tx) pendingXID() string { return tx.db.pendingXID() }

func (db *DB) pendingXID() string {
	if db.dialect == Postgres {
		return "xid = txid_current()"
	}
	return "xid = 0"
}

func (db *DB) sealedTable(name string) (sealedTable, bool) {
	i, ok := slices.BinarySearchFunc(db.sealed, name, func(t sealedTable, n string) int { return strings.Compare(t.name, n) })
	if !ok {
		return sealedTable{}, false
	}
	return db.sealed[i], true
}

// sealChunk is how many rows one statement seals: SQLite keeps a
// statement's undo journal and its RETURNING rows in memory, so an
// import's hundreds of thousands of rows are sealed a chunk at a time.
var sealChunk = 5000

// SealRows seals the rows this transaction changed as entry seq: each
// still present gets seq and the hash of its content; emit gets every
// seal, a deleted row's with a nil hash.
func (tx *Tx) SealRows(ctx context.Context, seq int64, emit func(ledger.RowSeal) error) error {
	if len(tx.db.sealed) == 0 {
		return nil
	}
	names, err := queryAll(ctx, tx, func(r row) (s string, err error) { return s, r.Scan(&s) },
		"SELECT DISTINCT tbl FROM seal_pending WHERE "+tx.pendingXID())
	if err != nil || len(names) == 0 {
		return err
	}
	for _, name := range names {
		t, ok := tx.db.sealedTable(name)
		if !ok {
			return fmt.Errorf("seal_pending names %q, which is not a sealed table", name)
		}
		if err := tx.sealPending(ctx, t, seq, emit); err != nil {
			return fmt.Errorf("seal %s: %w", name, err)
		}
	}
	_, err = tx.exec(ctx, "DELETE FROM seal_pending WHERE "+tx.pendingXID())
	return err
}

func (t sealedTable) keyList() string { return strings.Join(t.keys, ", ") }

// sealPending seals the listed rows of t, a chunk of keys at a time.
func (tx *Tx) sealPending(ctx context.Context, t sealedTable, seq int64, emit func(ledger.RowSeal) error) error {
	listed := t.listed(tx.db)
	return tx.inChunks(ctx, "seal_pending", listed, "k1, k2", func(cond string, args []any) error {
		if err := tx.emitSeals(ctx, t, emit, t.sealQuery(listed, cond), append([]any{seq}, args...)...); err != nil {
			return err
		}
		rows, err := tx.query(ctx, t.goneQuery(listed, cond), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			s := ledger.RowSeal{Table: t.name}
			if err := rows.Scan(&s.Key.K1, &s.Key.K2); err != nil {
				return err
			}
			if err := emit(s); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// listed selects the rows of seal_pending that list rows of t.
func (t sealedTable) listed(db *DB) string {
	return fmt.Sprintf("tbl = '%s' AND %s", t.name, db.pendingXID())
}

// sealQuery seals the listed rows of t within cond, returning each one's
// key and hash.
func (t sealedTable) sealQuery(listed, cond string) string {
	pk := "k1"
	if len(t.keys) > 1 {
		pk = "k1, k2"
	}
	pending := fmt.Sprintf("SELECT %s FROM seal_pending WHERE %s%s", pk, listed, cond)
	return fmt.Sprintf("UPDATE %s SET seal_seq = ?, seal_hash = %s WHERE (%s) IN (%s) RETURNING %s, seal_hash",
		t.name, t.hash, t.keyList(), pending, t.keyList())
}

// goneQuery lists the keys of the listed rows of t within cond that the
// table no longer holds (deleted).
func (t sealedTable) goneQuery(listed, cond string) string {
	match := fmt.Sprintf("x.%s = p.k1", t.keys[0])
	if len(t.keys) > 1 {
		match += fmt.Sprintf(" AND x.%s = p.k2", t.keys[1])
	}
	return fmt.Sprintf("SELECT k1, k2 FROM seal_pending p WHERE %s%s AND NOT EXISTS (SELECT 1 FROM %s x WHERE %s)", listed, cond, t.name, match)
}

// chunkQuery finds the upper bound of the chunk of table after cond.
func chunkQuery(table, where, keys, cond string) string {
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s%s ORDER BY %s LIMIT 1 OFFSET %d", keys, table, where, cond, keys, sealChunk-1)
}

// sealStatements are the statements of a write that seals fewer rows of
// a table than a chunk (most writes), prepared when the store opens:
// compiling them for each transaction was half the cost of sealing a
// host's report.
func (db *DB) sealStatements() []string {
	xid := db.pendingXID()
	qs := []string{"SELECT DISTINCT tbl FROM seal_pending WHERE " + xid, "DELETE FROM seal_pending WHERE " + xid}
	for _, t := range db.sealed {
		listed := t.listed(db)
		qs = append(qs, chunkQuery("seal_pending", listed, "k1, k2", ""), t.sealQuery(listed, ""), t.goneQuery(listed, ""))
	}
	return qs
}

// inChunks calls fn for consecutive ranges of sealChunk rows of table
// (those matching where), ordered by the key columns keys: cond is the
// range's condition (" AND (keys) > (?, …) AND (keys) <= (?, …)") and args
// its arguments.
func (tx *Tx) inChunks(ctx context.Context, table, where, keys string, fn func(cond string, args []any) error) error {
	n := strings.Count(keys, ",") + 1
	marks := "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
	var lower []any
	for {
		cond := ""
		if lower != nil {
			cond = fmt.Sprintf(" AND (%s) > %s", keys, marks)
		}
		upper := make([]any, n)
		ptrs := make([]any, n)
		for i := range upper {
			ptrs[i] = &upper[i]
		}
		err := tx.queryRow(ctx, chunkQuery(table, where, keys, cond), lower...).Scan(ptrs...)
		last := err == sql.ErrNoRows
		if err != nil && !last {
			return err
		}
		args := slices.Clone(lower)
		if !last {
			cond += fmt.Sprintf(" AND (%s) <= %s", keys, marks)
			args = append(args, upper...)
		}
		if err := fn(cond, args); err != nil || last {
			return err
		}
		lower = upper
	}
}

// emitSeals runs q, which returns the key columns of t and a hash, and
// passes each row's seal to emit.
func (tx *Tx) emitSeals(ctx context.Context, t sealedTable, emit func(ledger.RowSeal) error, q string, args ...any) error {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		s := ledger.RowSeal{Table: t.name}
		dest := []any{&s.Key.K1, &s.Hash}
		if len(t.keys) > 1 {
			dest = []any{&s.Key.K1, &s.Key.K2, &s.Hash}
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := emit(s); err != nil {
			return err
		}
	}
	return rows.Err()
}

// checkSealed refuses to commit a transaction that changed a sealed row
// without the entry that seals it.
func (tx *Tx) checkSealed(ctx context.Context) error {
	if len(tx.db.sealed) == 0 {
		return nil
	}
	var tbl, k1, k2 string
	err := tx.queryRow(ctx, "SELECT tbl, k1, k2 FROM seal_pending WHERE "+tx.pendingXID()+" LIMIT 1").Scan(&tbl, &k1, &k2)
	if err == sql.ErrNoRows {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check seals: %w", err)
	}
	return opsguard.Errorf(opsguard.EInternal, "%s row %s was changed without the ledger entry that seals it: the write is refused", tbl, ledger.RowKey{K1: k1, K2: k2})
}

// clearForeignSeals starts a SQLite write transaction: rows listed by a
// writer that went round opsguard (the sqlite3 shell) are not this
// transaction's to seal; left unsealed, verify names them.
func (tx *Tx) clearForeignSeals(ctx context.Context) error {
	if len(tx.db.sealed) == 0 || tx.db.dialect != SQLite {
		return nil
	}
	res, err := tx.exec(ctx, "DELETE FROM seal_pending")
	if err != nil {
		return fmt.Errorf("clear seals: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		tx.db.opts.Logger.Warn("rows of sealed tables were changed outside opsguard; they stay unsealed and ledger verify names them", "rows", n)
	}
	return nil
}

// SealUpgrade lists the sealed tables that held rows when they were
// sealed, which the first start after must seal (see app).
func (tx *Tx) SealUpgrade(ctx context.Context) ([]string, error) {
	if len(tx.db.sealed) == 0 {
		return nil, nil
	}
	return queryAll(ctx, tx, func(r row) (s string, err error) { return s, r.Scan(&s) }, "SELECT tbl FROM seal_upgrade ORDER BY tbl")
}

// SealTable seals every row of table as entry seq (the upgrade), passing
// each seal to emit, and takes the table off seal_upgrade.
func (tx *Tx) SealTable(ctx context.Context, table string, seq int64, emit func(ledger.RowSeal) error) error {
	t, ok := tx.db.sealedTable(table)
	if !ok {
		return fmt.Errorf("%q is not a sealed table", table)
	}
	err := tx.inChunks(ctx, t.name, "true", t.keyList(), func(cond string, args []any) error {
		q := fmt.Sprintf("UPDATE %s SET seal_seq = ?, seal_hash = %s WHERE true%s RETURNING %s, seal_hash", t.name, t.hash, cond, t.keyList())
		return tx.emitSeals(ctx, t, emit, q, append([]any{seq}, args...)...)
	})
	if err != nil {
		return fmt.Errorf("seal %s: %w", table, err)
	}
	_, err = tx.exec(ctx, "DELETE FROM seal_upgrade WHERE tbl = ?", table)
	return err
}

// LedgerHasKind reports whether any entry of kind is stored.
func (tx *Tx) LedgerHasKind(ctx context.Context, kind string) (bool, error) {
	var n int
	err := tx.queryRow(ctx, "SELECT COUNT(*) FROM (SELECT 1 FROM ledger_entries WHERE kind = ? LIMIT 1) k", kind).Scan(&n)
	return n > 0, err
}

// Rows runs fn over one snapshot of the sealed tables, for Verify.
func (s ledgerSource) Rows(ctx context.Context, fn func(ledger.RowReader) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return fn(rowReader{tx}) })
}

type rowReader struct{ tx *Tx }

func (r rowReader) SealedTables() []string {
	out := make([]string, len(r.tx.db.sealed))
	for i, t := range r.tx.db.sealed {
		out[i] = t.name
	}
	return out
}

func (r rowReader) MaxSeq(ctx context.Context) (int64, error) { return r.tx.LedgerMaxSeq(ctx) }

func (r rowReader) ScanEntries(ctx context.Context, from, to int64, fn func(*ledger.Entry) error) error {
	return r.tx.ScanEntries(ctx, from, to, fn)
}

func (r rowReader) Blob(ctx context.Context, sha string) ([]byte, error) {
	b, err := r.tx.Blob(ctx, sha)
	return b.Content, err
}

func (r rowReader) Pending(ctx context.Context) (int64, error) {
	var n int64
	err := r.tx.queryRow(ctx, "SELECT COUNT(*) FROM seal_pending").Scan(&n)
	return n, err
}

// ScanRows calls fn for every row of a sealed table with its seal and its
// canonical content. The row is reused between calls.
func (r rowReader) ScanRows(ctx context.Context, table string, fn func(*ledger.StoredRow) error) error {
	t, ok := r.tx.db.sealedTable(table)
	if !ok {
		return fmt.Errorf("%q is not a sealed table", table)
	}
	key2 := "''"
	if len(t.keys) > 1 {
		key2 = t.keys[1]
	}
	rows, err := r.tx.query(ctx, fmt.Sprintf("SELECT %s, %s, seal_seq, seal_hash, %s FROM %s", t.keys[0], key2, t.canon, t.name))
	if err != nil {
		return fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	var sr ledger.StoredRow
	var seq sql.NullInt64
	var k1, k2, hash, canon sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&k1, &k2, &seq, &hash, &canon); err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		sr.K1, sr.K2, sr.Seq, sr.Hash, sr.Canon = k1, k2, seq.Int64, hash, canon
		if err := fn(&sr); err != nil {
			return err
		}
	}
	return rows.Err()
}
