package ledger

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/opsguard/opsguard"
)

// Sealed rows. The store keeps the rows that controls, pages and exports
// read (users, findings, changes, …) in sealed tables: each row carries the
// sequence number of the entry that last sealed it and the SHA-256 of its
// canonical content, and that entry records the same hash, so that a row
// edited, deleted or inserted behind the server's back is found by Verify.
// The appender seals every row its transaction changed with one KindRows
// entry, added last, before the checkpoint is signed.

// The kinds of the entries that seal rows.
const (
	// KindRows seals the rows one write transaction changed.
	KindRows = "ledger.rows"
	// KindSealed seals the rows a table held when sealing began (the
	// upgrade of a database written before it), one entry per table.
	KindSealed = "ledger.sealed"
)

// inlineSeals is how many seals an entry's payload holds; more go to an
// evidence blob it refers to.
const inlineSeals = 64

// SealsMediaType is the media type of a blob of seals: one line per row,
// "table TAB key TAB key2 TAB hex-hash" ("-" for a deleted row).
const SealsMediaType = "text/vnd.opsguard.seals"

// RowKey names a row within its table: its primary key, K2 set only for a
// table keyed by two columns.
type RowKey struct{ K1, K2 string }

func (k RowKey) String() string {
	if k.K2 == "" {
		return k.K1
	}
	return k.K1 + "/" + k.K2
}

// RowSeal is the sealed state of one row: the SHA-256 of its canonical
// content, nil when the row was deleted.
type RowSeal struct {
	Table string
	Key   RowKey
	Hash  []byte
}

// Sealer is what a transaction with sealed tables adds to Tx. SealRows
// marks every row the transaction changed since its last call as sealed
// by entry seq and passes each row's seal to emit, for that entry to
// record (a write of many rows streams them: an import seals hundreds of
// thousands).
type Sealer interface {
	SealRows(ctx context.Context, seq int64, emit func(RowSeal) error) error
}

// rowsPayload is the payload of a KindRows or KindSealed entry.
type rowsPayload struct {
	Table    string         `json:"table,omitempty"` // KindSealed: the table sealed
	Rows     int            `json:"rows"`
	Tables   map[string]int `json:"tables,omitempty"`
	Seals    [][4]string    `json:"seals,omitempty"`    // table, key, key2, hex hash ("" deleted)
	Evidence []string       `json:"evidence,omitempty"` // the blob of seals, when more than inlineSeals
}

// sealCollector gathers the seals of one entry: the first inlineSeals in
// its payload; beyond that all of them, formatted, in a blob spooled to a
// temporary file (an import seals hundreds of thousands of rows).
type sealCollector struct {
	rows   int
	tables map[string]int
	inline []RowSeal
	spool  *os.File
	w      *bufio.Writer
	sum    hash.Hash
	size   int64
	line   []byte
}

func (c *sealCollector) add(s RowSeal) error {
	if c.tables == nil {
		c.tables = map[string]int{}
	}
	c.rows++
	c.tables[s.Table]++
	if c.spool == nil && len(c.inline) < inlineSeals {
		c.inline = append(c.inline, s)
		return nil
	}
	if c.spool == nil {
		f, err := os.CreateTemp("", "opsguard-seals-*")
		if err != nil {
			return fmt.Errorf("spool the seals: %w", err)
		}
		c.spool, c.w, c.sum = f, bufio.NewWriterSize(f, 64<<10), sha256.New()
		for _, in := range c.inline {
			if err := c.write(in); err != nil {
				return err
			}
		}
		c.inline = nil
	}
	return c.write(s)
}

func (c *sealCollector) write(s RowSeal) error {
	c.line = appendSeal(c.line[:0], s)
	c.sum.Write(c.line)
	c.size += int64(len(c.line))
	if _, err := c.w.Write(c.line); err != nil {
		return fmt.Errorf("spool the seals: %w", err)
	}
	return nil
}

// event returns the entry's event and, for many rows, the blob its
// payload refers to, which the caller stores in the same transaction and
// then releases with close.
func (c *sealCollector) event(kind, actor, subject string) (Event, *Blob, error) {
	p := rowsPayload{Rows: c.rows, Tables: c.tables}
	var blob *Blob
	if c.spool != nil {
		if err := c.w.Flush(); err != nil {
			return Event{}, nil, fmt.Errorf("spool the seals: %w", err)
		}
		blob = &Blob{SHA256: hex.EncodeToString(c.sum.Sum(nil)), MediaType: SealsMediaType, Source: c.spool, Size: c.size}
		p.Evidence = []string{blob.Ref()}
	}
	for _, s := range c.inline {
		p.Seals = append(p.Seals, [4]string{s.Table, s.Key.K1, s.Key.K2, hex.EncodeToString(s.Hash)})
	}
	return Event{Actor: actor, Kind: kind, Subject: subject, Payload: p}, blob, nil
}

// subject names the tables a KindRows entry seals rows of: "rows/findings,scans".
func (c *sealCollector) subject() string {
	names := make([]string, 0, len(c.tables))
	for t := range c.tables {
		names = append(names, t)
	}
	slices.Sort(names)
	return "rows/" + strings.Join(names, ",")
}

// close removes the spooled blob.
func (c *sealCollector) close() {
	if c.spool != nil {
		c.spool.Close()
		os.Remove(c.spool.Name())
	}
}

// record stores the collected seals as the next entry of a: the blob,
// then the entry that refers to it.
func (c *sealCollector) record(a *Appender, kind, actor, subject string, edit func(*rowsPayload)) error {
	defer c.close()
	ev, blob, err := c.event(kind, actor, subject)
	if err != nil {
		return err
	}
	if edit != nil {
		p := ev.Payload.(rowsPayload)
		edit(&p)
		ev.Payload = p
	}
	if blob != nil {
		if err := a.tx.PutBlob(a.ctx, *blob); err != nil {
			return fmt.Errorf("seal rows: %w", err)
		}
	}
	_, err = a.Add(ev)
	return err
}

// FormatSeals writes seals one per line. A field holding a tab, a newline,
// a backslash or a leading quote is written Go-quoted.
func FormatSeals(seals []RowSeal) []byte {
	var b []byte
	for _, s := range seals {
		b = appendSeal(b, s)
	}
	return b
}

func appendSeal(b []byte, s RowSeal) []byte {
	for _, f := range []string{s.Table, s.Key.K1, s.Key.K2} {
		if strings.ContainsAny(f, "\t\n\\") || strings.HasPrefix(f, `"`) {
			b = strconv.AppendQuote(b, f)
		} else {
			b = append(b, f...)
		}
		b = append(b, '\t')
	}
	if s.Hash == nil {
		b = append(b, '-')
	} else {
		b = hex.AppendEncode(b, s.Hash)
	}
	return append(b, '\n')
}

// maxSealLine bounds one line of a blob of seals.
const maxSealLine = 64 << 10

// ParseSeals reads what FormatSeals wrote, calling fn for each seal; an
// error names the line.
func ParseSeals(data []byte, fn func(RowSeal) error) error {
	for n := 1; len(data) > 0; n++ {
		line, rest, ok := bytes.Cut(data, []byte{'\n'})
		if !ok {
			return fmt.Errorf("line %d: no newline at the end", n)
		}
		data = rest
		if len(line) > maxSealLine {
			return fmt.Errorf("line %d: longer than %d bytes", n, maxSealLine)
		}
		s, err := parseSealLine(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

func parseSealLine(line []byte) (RowSeal, error) {
	fs := strings.Split(string(line), "\t")
	if len(fs) != 4 {
		return RowSeal{}, fmt.Errorf("%d fields, want 4 (table, key, key2, hash)", len(fs))
	}
	for i, f := range fs[:3] {
		if strings.HasPrefix(f, `"`) {
			u, err := strconv.Unquote(f)
			if err != nil {
				return RowSeal{}, fmt.Errorf("field %d: %w", i+1, err)
			}
			fs[i] = u
		}
	}
	s := RowSeal{Table: fs[0], Key: RowKey{fs[1], fs[2]}}
	if s.Table == "" || s.Key.K1 == "" {
		return RowSeal{}, fmt.Errorf("the table or the key is empty")
	}
	if fs[3] != "-" {
		h, err := hex.DecodeString(fs[3])
		if err != nil || len(h) != 32 {
			return RowSeal{}, fmt.Errorf("hash %.80q is not 64 hex digits", fs[3])
		}
		s.Hash = h
	}
	return s, nil
}

// sealEntry is a KindRows or KindSealed entry met while folding.
type sealEntry struct {
	seq     int64
	kind    string
	payload []byte
}

// decodeSeals returns the seals an entry records, reading its blob through
// blob when it has one.
func (e sealEntry) decodeSeals(ctx context.Context, blob func(ctx context.Context, ref string) ([]byte, error), fn func(RowSeal) error) error {
	var p rowsPayload
	if err := json.Unmarshal(e.payload, &p); err != nil {
		return fmt.Errorf("entry %d (%s): payload: %w", e.seq, e.kind, err)
	}
	for i, s := range p.Seals {
		rs := RowSeal{Table: s[0], Key: RowKey{s[1], s[2]}}
		if s[3] != "" {
			h, err := hex.DecodeString(s[3])
			if err != nil || len(h) != 32 {
				return fmt.Errorf("entry %d (%s): seals[%d]: hash is not 64 hex digits", e.seq, e.kind, i)
			}
			rs.Hash = h
		}
		if err := fn(rs); err != nil {
			return err
		}
	}
	for _, ref := range p.Evidence {
		data, err := blob(ctx, ref)
		if err != nil {
			return fmt.Errorf("entry %d (%s): evidence %s: %w", e.seq, e.kind, ref, err)
		}
		if err := ParseSeals(data, fn); err != nil {
			return fmt.Errorf("entry %d (%s): evidence %s: %w", e.seq, e.kind, ref, err)
		}
	}
	return nil
}

// Upgrader is what sealing the rows written before sealing began needs of
// the caller's transaction.
type Upgrader interface {
	Tx
	// SealUpgrade names the tables that held rows when they were declared
	// sealed.
	SealUpgrade(ctx context.Context) ([]string, error)
	// SealTable seals every row of table as entry seq, passing each seal
	// to emit, and takes the table off the list.
	SealTable(ctx context.Context, table string, seq int64, emit func(RowSeal) error) error
	// LedgerHasKind reports whether an entry of kind is stored.
	LedgerHasKind(ctx context.Context, kind string) (bool, error)
}

// SealExisting seals the rows that tables held when they were declared
// sealed (a database written before sealing existed), with one KindSealed
// entry per table whose evidence lists their hashes. It runs once, before
// any write seals rows of its own: a table listed after that would seal
// in bulk rows no one wrote through opsguard, so it is refused (and Verify
// reports a KindSealed entry after a KindRows one). It returns the tables
// sealed.
func (l *Log) SealExisting(ctx context.Context, tx Upgrader, actor string) ([]string, error) {
	tables, err := tx.SealUpgrade(ctx)
	if err != nil || len(tables) == 0 {
		return nil, err
	}
	began, err := tx.LedgerHasKind(ctx, KindRows)
	if err != nil {
		return nil, err
	}
	if began {
		return nil, opsguard.Errorf(opsguard.EConflict, "tables %s are listed for sealing in bulk, but rows have been sealed one write at a time since: their rows were not written through opsguard, so they are left unsealed for ledger verify to name", strings.Join(tables, ", "))
	}
	a, err := l.Begin(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		var c sealCollector
		if err := tx.SealTable(ctx, t, int64(a.rng.End())+1, c.add); err != nil {
			c.close()
			return nil, err
		}
		err := c.record(a, KindSealed, actor, "table/"+t, func(p *rowsPayload) { p.Table, p.Tables = t, nil })
		if err != nil {
			return nil, err
		}
	}
	return tables, a.Close()
}
