package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// RowSource is a Source whose database has sealed tables: Verify then also
// checks every row against the entry that sealed it.
type RowSource interface {
	// Rows runs fn over one read snapshot of the sealed tables.
	Rows(ctx context.Context, fn func(RowReader) error) error
}

// RowReader reads one snapshot of the sealed tables.
type RowReader interface {
	SealedTables() []string
	// ScanRows calls fn for every row of table; the row is reused.
	ScanRows(ctx context.Context, table string, fn func(*StoredRow) error) error
	// MaxSeq and ScanEntries read the entries of the same snapshot, for
	// the seals written since the entries were verified.
	MaxSeq(ctx context.Context) (int64, error)
	ScanEntries(ctx context.Context, from, to int64, fn func(*Entry) error) error
	// Blob returns the content of the evidence with the hex SHA-256.
	Blob(ctx context.Context, sha string) ([]byte, error)
}

// StoredRow is a row of a sealed table as stored: its key, its seal
// columns (Seq 0 when unsealed) and its canonical content. Its byte
// slices are valid only during the call it is passed to.
type StoredRow struct {
	K1, K2 []byte
	Seq    int64
	Hash   []byte
	Canon  []byte
}

func (r *StoredRow) key() RowKey { return RowKey{string(r.K1), string(r.K2)} }

// maxRowProblems bounds the problems named per table; the rest are counted.
const maxRowProblems = 20

// sealRec is what the ledger last recorded of a row.
type sealRec struct {
	seq     int64
	hash    [32]byte
	deleted bool
	seen    bool // a row of the table was found for it
}

// seals is the last seal of every row, by its id (see rowID): an index
// into recs, so that looking a row up allocates nothing.
type seals struct {
	index map[string]int32
	recs  []sealRec
}

func rowID(table string, k RowKey) string { return table + "\x00" + k.K1 + "\x00" + k.K2 }

func appendRowID(b []byte, table string, k1, k2 []byte) []byte {
	b = append(b, table...)
	b = append(b, 0)
	b = append(b, k1...)
	b = append(b, 0)
	return append(b, k2...)
}

// checkRows compares every row of the sealed tables with the seal the
// ledger last recorded of it: the seal entries met while folding (up to
// maxSeq), then those written since, read in the rows' snapshot.
func checkRows(ctx context.Context, src RowSource, seals []sealEntry, maxSeq int64, rep *Report) error {
	return src.Rows(ctx, func(r RowReader) error {
		newest, err := r.MaxSeq(ctx)
		if err != nil {
			return fmt.Errorf("read the sealed rows: %w", err)
		}
		if newest > maxSeq {
			if seals, err = sealsSince(ctx, r, seals, maxSeq, newest, rep); err != nil {
				return err
			}
		}
		state, err := recordedSeals(ctx, r, seals, rep)
		if err != nil {
			return err
		}
		tables := r.SealedTables()
		for _, t := range tables {
			if err := checkTable(ctx, r, t, state, newest, rep); err != nil {
				return err
			}
		}
		missingRows(state, tables, rep)
		return nil
	})
}

// sealsSince adds the seal entries written after the verified ones, each
// checked against its own hashes (a later verify checks their tree).
func sealsSince(ctx context.Context, r RowReader, seals []sealEntry, from, to int64, rep *Report) ([]sealEntry, error) {
	err := r.ScanEntries(ctx, from+1, to, func(e *Entry) error {
		if e.Kind != KindRows && e.Kind != KindSealed {
			return nil
		}
		if !bytes.Equal(e.ComputeLeafHash(), e.LeafHash) || !bytes.Equal(PayloadHashOf(e.Payload), e.PayloadHash) {
			rep.bad(e.Seq, "entry %d: fields do not match its hashes: edited", e.Seq)
			return nil
		}
		seals = append(seals, sealEntry{e.Seq, e.Kind, bytes.Clone(e.Payload)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the entries since the check: %w", err)
	}
	return seals, nil
}

// recordedSeals replays the seal entries in order: the last seal of each
// row is what the row must be. A bulk seal (KindSealed) is the upgrade of
// rows written before sealing began, so it must come before any KindRows.
func recordedSeals(ctx context.Context, r RowReader, entries []sealEntry, rep *Report) (*seals, error) {
	state := &seals{index: map[string]int32{}}
	blob := func(ctx context.Context, ref string) ([]byte, error) {
		sha, ok := strings.CutPrefix(ref, "sha256:")
		if !ok {
			return nil, fmt.Errorf("not a sha256: reference")
		}
		data, err := r.Blob(ctx, sha)
		if err != nil {
			return nil, err
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != sha {
			return nil, fmt.Errorf("content does not match its hash: edited")
		}
		return data, nil
	}
	firstRows := int64(0)
	for _, e := range entries {
		if e.kind == KindRows && firstRows == 0 {
			firstRows = e.seq
		}
		if e.kind == KindSealed && firstRows != 0 {
			rep.bad(e.seq, "entry %d seals a table in bulk after sealing began at entry %d: the rows it covers were not written through opsguard", e.seq, firstRows)
		}
		err := e.decodeSeals(ctx, blob, func(s RowSeal) error {
			rec := sealRec{seq: e.seq, deleted: s.Hash == nil}
			copy(rec.hash[:], s.Hash)
			id := rowID(s.Table, s.Key)
			if i, ok := state.index[id]; ok {
				state.recs[i] = rec
				return nil
			}
			state.index[id] = int32(len(state.recs))
			state.recs = append(state.recs, rec)
			return nil
		})
		if err != nil {
			rep.bad(e.seq, "%v", err)
		}
	}
	return state, nil
}

// checkTable checks each row of table against its recorded seal and takes
// it off state. Rows sealed after newest were written after the snapshot.
func checkTable(ctx context.Context, r RowReader, table string, state *seals, newest int64, rep *Report) error {
	problems := 0
	bad := func(format string, args ...any) {
		if problems++; problems <= maxRowProblems {
			rep.bad(0, "table %s: "+format, append([]any{table}, args...)...)
		}
	}
	var id []byte
	err := r.ScanRows(ctx, table, func(row *StoredRow) error {
		id = appendRowID(id[:0], table, row.K1, row.K2)
		i, ok := state.index[string(id)]
		var rec *sealRec
		if ok {
			rec = &state.recs[i]
			rec.seen = true
		}
		sum := sha256.Sum256(row.Canon)
		switch {
		case !ok && row.Seq > newest:
		case !ok:
			bad("row %s was sealed by no entry: inserted behind the server's back", row.key())
		case rec.deleted:
			bad("row %s was deleted by entry %d but is present: inserted behind the server's back", row.key(), rec.seq)
		case sum != rec.hash:
			bad("row %s differs from what entry %d sealed: edited", row.key(), rec.seq)
		case row.Seq != rec.seq || !bytes.Equal(row.Hash, rec.hash[:]):
			bad("row %s: its seal columns do not name entry %d, which sealed it last: edited", row.key(), rec.seq)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the sealed rows: %w", err)
	}
	if problems > maxRowProblems {
		rep.bad(0, "table %s: %d more rows are wrong", table, problems-maxRowProblems)
	}
	return nil
}

// missingRows reports the rows the ledger says exist that no table holds.
func missingRows(state *seals, tables []string, rep *Report) {
	var ids []string
	for id, i := range state.index {
		if rec := state.recs[i]; !rec.deleted && !rec.seen {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	count := map[string]int{}
	for _, id := range ids {
		parts := strings.SplitN(id, "\x00", 3)
		table, key, rec := parts[0], RowKey{parts[1], parts[2]}, state.recs[state.index[id]]
		if count[table]++; count[table] > maxRowProblems {
			continue
		}
		if !slices.Contains(tables, table) {
			rep.bad(0, "table %s: row %s sealed by entry %d, but %s is not a sealed table of this database", table, key, rec.seq, table)
			continue
		}
		rep.bad(0, "table %s: row %s, sealed by entry %d, is missing: deleted behind the server's back", table, key, rec.seq)
	}
	for table, n := range count {
		if n > maxRowProblems {
			rep.bad(0, "table %s: %d more rows are missing", table, n-maxRowProblems)
		}
	}
}
