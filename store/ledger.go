package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/opsguard/opsguard/ledger"
)

// The ledger's queries. *Tx implements ledger.Tx (the appender's),
// ledger.ProofReader and ledger.ExportReader (the read side's);
// ledgerSource implements ledger.Source.

var (
	_ ledger.Tx           = (*Tx)(nil)
	_ ledger.ProofReader  = (*Tx)(nil)
	_ ledger.ExportReader = (*Tx)(nil)
	_ ledger.Source       = ledgerSource{}
)

// LockLedger serialises appenders: PostgreSQL replicas take a transaction
// advisory lock; SQLite's BEGIN IMMEDIATE already holds the write lock.
func (tx *Tx) LockLedger(ctx context.Context) error {
	if tx.db.dialect != Postgres {
		return nil
	}
	_, err := tx.exec(ctx, "SELECT pg_advisory_xact_lock(7274002)")
	return err
}

// LedgerHead returns the newest checkpoint with its frontier.
func (tx *Tx) LedgerHead(ctx context.Context) (ledger.Checkpoint, bool, error) {
	cps, err := tx.checkpoints(ctx, "SELECT size, root_hash, note, frontier, created_at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
	if err != nil || len(cps) == 0 {
		return ledger.Checkpoint{}, false, err
	}
	return cps[0], true, nil
}

// LedgerMaxSeq is the highest stored sequence number, 0 when none.
func (tx *Tx) LedgerMaxSeq(ctx context.Context) (int64, error) {
	var n int64
	err := tx.queryRow(ctx, "SELECT COALESCE(MAX(seq), 0) FROM ledger_entries").Scan(&n)
	return n, err
}

// Checkpoints returns every checkpoint by size.
func (tx *Tx) Checkpoints(ctx context.Context) ([]ledger.Checkpoint, error) {
	return tx.checkpoints(ctx, "SELECT size, root_hash, note, '', created_at FROM ledger_checkpoints ORDER BY size")
}

// Checkpoint returns the checkpoint of the given size.
func (tx *Tx) Checkpoint(ctx context.Context, size int64) (ledger.Checkpoint, error) {
	cps, err := tx.checkpoints(ctx, "SELECT size, root_hash, note, '', created_at FROM ledger_checkpoints WHERE size = ?", size)
	if err != nil {
		return ledger.Checkpoint{}, err
	}
	if len(cps) == 0 {
		return ledger.Checkpoint{}, fmt.Errorf("checkpoint of size %d: %w", size, ErrNotFound)
	}
	return cps[0], nil
}

func (tx *Tx) checkpoints(ctx context.Context, q string, args ...any) ([]ledger.Checkpoint, error) {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Checkpoint
	for rows.Next() {
		var cp ledger.Checkpoint
		var noteText, created string
		var frontier []byte
		if err := rows.Scan(&cp.Size, &cp.Root, &noteText, &frontier, &created); err != nil {
			return nil, err
		}
		cp.Note = []byte(noteText)
		if len(frontier)%32 != 0 {
			return nil, fmt.Errorf("checkpoint %d: frontier of %d bytes", cp.Size, len(frontier))
		}
		for i := 0; i < len(frontier); i += 32 {
			cp.Frontier = append(cp.Frontier, frontier[i:i+32])
		}
		if cp.Time, err = parseTS(created); err != nil {
			return nil, err
		}
		out = append(out, cp)
	}
	return out, rows.Err()
}

// InsertCheckpoint stores a signed checkpoint.
func (tx *Tx) InsertCheckpoint(ctx context.Context, cp ledger.Checkpoint) error {
	var frontier []byte
	for _, h := range cp.Frontier {
		frontier = append(frontier, h...)
	}
	if frontier == nil {
		frontier = []byte{}
	}
	_, err := tx.exec(ctx, "INSERT INTO ledger_checkpoints (size, root_hash, note, frontier, created_at) VALUES (?, ?, ?, ?, ?)",
		cp.Size, cp.Root, string(cp.Note), frontier, ts(cp.Time))
	return err
}

// insertChunks are the row counts of the multi-row INSERTs entries are
// written with, largest first: few round trips to PostgreSQL, far below
// SQLite's limit of bound parameters, and few distinct statements so that
// each is compiled once per connection and reused.
var insertChunks = []int{200, 50, 10, 1}

func insertEntriesQuery(n int) string {
	const head = "INSERT INTO ledger_entries (seq, time, actor, kind, subject, payload, payload_hash, leaf_hash) VALUES "
	const row = "(?, ?, ?, ?, ?, ?, ?, ?)"
	return head + strings.Repeat(row+", ", n-1) + row
}

// hotStatements are prepared once when the store opens.
func hotStatements() []string {
	var qs []string
	for _, n := range insertChunks {
		qs = append(qs, insertEntriesQuery(n))
	}
	return qs
}

// InsertLedgerEntries stores entries.
func (tx *Tx) InsertLedgerEntries(ctx context.Context, es []ledger.Entry) error {
	args := make([]any, 0, 8*insertChunks[0])
	for len(es) > 0 {
		n := insertChunks[len(insertChunks)-1]
		for _, c := range insertChunks {
			if c <= len(es) {
				n = c
				break
			}
		}
		chunk := es[:n]
		es = es[n:]
		args = args[:0]
		for i := range chunk {
			e := &chunk[i]
			args = append(args, e.Seq, ts(e.Time), e.Actor, e.Kind, e.Subject, string(e.Payload), e.PayloadHash, e.LeafHash)
		}
		stmt, err := tx.stmt(ctx, insertEntriesQuery(n))
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert entries %d..%d: %w", chunk[0].Seq, chunk[n-1].Seq, err)
		}
	}
	return nil
}

const entryColumns = "seq, time, actor, kind, subject, payload, payload_hash, leaf_hash"

func scanEntry(rows *sql.Rows, e *ledger.Entry, payload *[]byte, tbuf *string) error {
	if err := rows.Scan(&e.Seq, tbuf, &e.Actor, &e.Kind, &e.Subject, payload, &e.PayloadHash, &e.LeafHash); err != nil {
		return err
	}
	e.Payload = *payload
	t, err := parseTS(*tbuf)
	e.Time = t
	return err
}

// ScanEntries calls fn for every entry with from <= seq <= to (to 0: no
// upper bound) in sequence order. The entry is reused between calls and its
// byte slices are valid only during fn: this is the hot path of verify, so
// the driver's buffers are lent, not copied.
func (tx *Tx) ScanEntries(ctx context.Context, from, to int64, fn func(*ledger.Entry) error) error {
	if to <= 0 {
		to = 1<<63 - 1
	}
	rows, err := tx.query(ctx, "SELECT "+entryColumns+" FROM ledger_entries WHERE seq >= ? AND seq <= ? ORDER BY seq", from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	var e ledger.Entry
	var payload, payloadHash, leafHash, t sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&e.Seq, &t, &e.Actor, &e.Kind, &e.Subject, &payload, &payloadHash, &leafHash); err != nil {
			return err
		}
		e.Payload, e.PayloadHash, e.LeafHash = []byte(payload), []byte(payloadHash), []byte(leafHash)
		if e.Time, err = parseTS(string(t)); err != nil {
			return err
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ListEntries returns entries newest first.
func (tx *Tx) ListEntries(ctx context.Context, f ledger.EntryFilter) ([]ledger.Entry, error) {
	var where []string
	var args []any
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, f.Kind)
	}
	if f.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, f.Subject)
	}
	if f.Actor != "" {
		// A user's entries made with a token read "user via tok_…".
		where, args = append(where, `(actor = ? OR actor LIKE ? ESCAPE '\')`), append(args, f.Actor, likeEscape(f.Actor)+" via %")
	}
	if f.Before > 0 {
		where, args = append(where, "seq < ?"), append(args, f.Before)
	}
	if f.NoSeals {
		where, args = append(where, "kind NOT IN (?, ?)"), append(args, ledger.KindRows, ledger.KindSealed)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := "SELECT " + entryColumns + " FROM ledger_entries"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Entry
	var t string
	for rows.Next() {
		var e ledger.Entry
		var payload []byte
		if err := scanEntry(rows, &e, &payload, &t); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Entry returns the entry with sequence number seq.
func (tx *Tx) Entry(ctx context.Context, seq int64) (ledger.Entry, error) {
	rows, err := tx.query(ctx, "SELECT "+entryColumns+" FROM ledger_entries WHERE seq = ?", seq)
	if err != nil {
		return ledger.Entry{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return ledger.Entry{}, err
		}
		return ledger.Entry{}, fmt.Errorf("ledger entry %d: %w", seq, ErrNotFound)
	}
	var e ledger.Entry
	var payload []byte
	var t string
	err = scanEntry(rows, &e, &payload, &t)
	return e, err
}

// LedgerSize is the number of stored entries.
func (tx *Tx) LedgerSize(ctx context.Context) (int64, error) {
	var n int64
	err := tx.queryRow(ctx, "SELECT COUNT(*) FROM ledger_entries").Scan(&n)
	return n, err
}

// LeafHashes returns the stored leaf hashes of the first size entries, for
// proofs. It fails when the stored entries are not contiguous.
func (tx *Tx) LeafHashes(ctx context.Context, size int64) ([][]byte, error) {
	rows, err := tx.query(ctx, "SELECT seq, leaf_hash FROM ledger_entries WHERE seq <= ? ORDER BY seq", size)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([][]byte, 0, size)
	for rows.Next() {
		var seq int64
		var h []byte
		if err := rows.Scan(&seq, &h); err != nil {
			return nil, err
		}
		if seq != int64(len(out))+1 {
			return nil, fmt.Errorf("ledger entry %d is missing; run opsguard ledger verify", len(out)+1)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// PutBlob stores evidence once by content hash. A blob already stored is
// not sent again: a re-imported report can be hundreds of megabytes. Large
// blobs are stored compressed (see packBlob); sha256 and size_bytes remain
// those of the raw bytes.
func (tx *Tx) PutBlob(ctx context.Context, b ledger.Blob) error {
	var n int
	if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM evidence_blobs WHERE sha256 = ?", b.SHA256).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	content, encoding := packBlob(b.Content)
	if b.Content == nil && b.Source != nil {
		var err error
		if content, encoding, err = packBlobFrom(b.Source, b.Size); err != nil {
			return fmt.Errorf("evidence sha256:%s: %w", b.SHA256, err)
		}
	}
	_, err := tx.exec(ctx, `INSERT INTO evidence_blobs (sha256, size_bytes, media_type, content, encoding, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`, b.SHA256, b.Len(), b.MediaType, content, encoding, ts(nowUTC()))
	return err
}

// Blob returns the evidence with the given hex SHA-256, as it was stored
// (decompressed).
func (tx *Tx) Blob(ctx context.Context, sha string) (ledger.Blob, error) {
	b := ledger.Blob{SHA256: sha}
	var encoding string
	var size int64
	err := tx.queryRow(ctx, "SELECT media_type, content, encoding, size_bytes FROM evidence_blobs WHERE sha256 = ?", sha).Scan(&b.MediaType, &b.Content, &encoding, &size)
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("evidence sha256:%s: %w", sha, ErrNotFound)
	}
	if err != nil {
		return b, err
	}
	if b.Content, err = unpackBlob(b.Content, encoding, size); err != nil {
		return b, fmt.Errorf("evidence sha256:%s: stored content: %w; run opsguard ledger verify", sha, err)
	}
	return b, nil
}

// ScanBlobs calls fn for every evidence blob, decompressed. A blob that
// does not decompress is handed over as stored, so that its hash check
// fails and ledger verify reports it as edited instead of stopping.
func (tx *Tx) ScanBlobs(ctx context.Context, fn func(ledger.Blob) error) error {
	rows, err := tx.query(ctx, "SELECT sha256, media_type, content, encoding, size_bytes FROM evidence_blobs ORDER BY sha256")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b ledger.Blob
		var encoding string
		var size int64
		if err := rows.Scan(&b.SHA256, &b.MediaType, &b.Content, &encoding, &size); err != nil {
			return err
		}
		if raw, err := unpackBlob(b.Content, encoding, size); err == nil {
			b.Content = raw
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Evidence is stored compressed with zstd when that saves space: reports
// are JSON that shrinks tenfold or more, and a large one written raw costs
// its size twice more (the WAL, then the checkpoint). The fastest level
// compresses at several hundred MB/s, far less than writing the bytes.
const (
	blobRaw  = ""
	blobZstd = "zstd"
	// packMin is the size below which compression is not worth a frame.
	packMin = 4 << 10
)

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
)

// zstdOptions are the encoders' options, shared by the one for blobs in
// memory and those for blobs read from a file: the fastest level, as
// evidence is written on the import's path and read seldom.
var zstdOptions = []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1)}

func zstdCodec() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		var err error
		// Both are safe for concurrent EncodeAll/DecodeAll; the options are
		// valid, so the errors cannot happen.
		if zstdEnc, err = zstd.NewWriter(nil, zstdOptions...); err != nil {
			panic(err)
		}
		if zstdDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0)); err != nil {
			panic(err)
		}
	})
	return zstdEnc, zstdDec
}

// packBlob returns the stored form of content and its encoding.
func packBlob(content []byte) ([]byte, string) {
	if len(content) < packMin {
		return content, blobRaw
	}
	enc, _ := zstdCodec()
	packed := enc.EncodeAll(content, make([]byte, 0, len(content)/8))
	if len(packed) >= len(content) {
		return content, blobRaw // already compressed, or random
	}
	return packed, blobZstd
}

// packInMemory is the largest blob packBlobFrom reads whole.
const packInMemory = 4 << 20

// packBlobFrom is packBlob for content read from src, compressed as it is
// read, so that only the compressed form is held in memory.
func packBlobFrom(src io.ReaderAt, size int64) ([]byte, string, error) {
	in := io.NewSectionReader(src, 0, size)
	if size <= packInMemory {
		// A new encoder costs more than compressing a small blob (the
		// seals of one write): read it and use the shared one.
		raw, err := io.ReadAll(in)
		if err != nil {
			return nil, "", err
		}
		packed, enc := packBlob(raw)
		return packed, enc, nil
	}
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out, zstdOptions...)
	if err != nil {
		return nil, "", err
	}
	if _, err := io.Copy(enc, in); err != nil {
		return nil, "", err
	}
	if err := enc.Close(); err != nil {
		return nil, "", err
	}
	if int64(out.Len()) >= size { // already compressed, or random
		raw, err := io.ReadAll(io.NewSectionReader(src, 0, size))
		return raw, blobRaw, err
	}
	return out.Bytes(), blobZstd, nil
}

// unpackBlob returns the raw bytes of a stored blob of size raw bytes.
func unpackBlob(stored []byte, encoding string, size int64) ([]byte, error) {
	switch encoding {
	case blobRaw:
		return stored, nil
	case blobZstd:
		_, dec := zstdCodec()
		return dec.DecodeAll(stored, make([]byte, 0, max(0, min(size, 1<<30))))
	}
	return nil, fmt.Errorf("unknown encoding %q", encoding)
}

// LedgerSubjects returns, for entries of kind, each subject with the
// sequence number of its first such entry.
func (tx *Tx) LedgerSubjects(ctx context.Context, kind string) (map[string]int64, error) {
	rows, err := tx.query(ctx, "SELECT subject, MIN(seq) FROM ledger_entries WHERE kind = ? GROUP BY subject", kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var seq int64
		if err := rows.Scan(&s, &seq); err != nil {
			return nil, err
		}
		out[s] = seq
	}
	return out, rows.Err()
}

// LedgerSource is the ledger of db as ledger.Verify reads it: ranges of
// entries are scanned concurrently, each in a read transaction of its own.
// Entries up to the snapshot's highest sequence number never change in
// normal operation, so separate snapshots see the same rows.
func LedgerSource(db *DB) ledger.Source { return ledgerSource{db} }

type ledgerSource struct{ db *DB }

// Snapshot reads the checkpoints and the range of sequence numbers together;
// the newest checkpoint comes with its stored frontier, which the appender
// extends and Verify checks.
func (s ledgerSource) Snapshot(ctx context.Context) ([]ledger.Checkpoint, int64, int64, error) {
	var cps []ledger.Checkpoint
	var lo, hi int64
	err := s.db.View(ctx, func(tx *Tx) error {
		var err error
		if cps, err = tx.Checkpoints(ctx); err != nil {
			return err
		}
		if head, ok, err := tx.LedgerHead(ctx); err != nil {
			return err
		} else if ok && len(cps) > 0 && cps[len(cps)-1].Size == head.Size {
			cps[len(cps)-1].Frontier = head.Frontier
		}
		return tx.queryRow(ctx, "SELECT COALESCE(MIN(seq), 1), COALESCE(MAX(seq), 0) FROM ledger_entries").Scan(&lo, &hi)
	})
	return cps, lo, hi, err
}

func (s ledgerSource) ScanEntries(ctx context.Context, from, to int64, fn func(*ledger.Entry) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return tx.ScanEntries(ctx, from, to, fn) })
}

func (s ledgerSource) ScanBlobs(ctx context.Context, fn func(ledger.Blob) error) error {
	return s.db.View(ctx, func(tx *Tx) error { return tx.ScanBlobs(ctx, fn) })
}

// likeEscape escapes the wildcards of LIKE (with ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ScanLeafHashes calls fn for the leaf hash of every entry with from <=
// seq <= to, in order, without reading payloads (the audit bundle's
// proofs read a million). The hash is lent only during fn.
func (tx *Tx) ScanLeafHashes(ctx context.Context, from, to int64, fn func(seq int64, leaf []byte) error) error {
	rows, err := tx.query(ctx, "SELECT seq, leaf_hash FROM ledger_entries WHERE seq >= ? AND seq <= ? ORDER BY seq", from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	var seq int64
	var h sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&seq, &h); err != nil {
			return err
		}
		if err := fn(seq, h); err != nil {
			return err
		}
	}
	return rows.Err()
}

// LedgerSeqRange returns the first and last sequence numbers of the
// entries written at from or later and before to; ok false when none was.
func (tx *Tx) LedgerSeqRange(ctx context.Context, from, to time.Time) (first, last int64, ok bool, err error) {
	var lo, hi sql.NullInt64
	err = tx.queryRow(ctx, "SELECT MIN(seq), MAX(seq) FROM ledger_entries WHERE time >= ? AND time < ?", ts(from), ts(to)).Scan(&lo, &hi)
	if err != nil || !lo.Valid {
		return 0, 0, false, err
	}
	return lo.Int64, hi.Int64, true, nil
}

// ScanCheckpoints calls fn for every checkpoint signed at from or later
// and before to, by size, without their frontiers.
func (tx *Tx) ScanCheckpoints(ctx context.Context, from, to time.Time, fn func(ledger.Checkpoint) error) error {
	rows, err := tx.query(ctx, "SELECT size, root_hash, note, created_at FROM ledger_checkpoints WHERE created_at >= ? AND created_at < ? ORDER BY size", ts(from), ts(to))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var cp ledger.Checkpoint
		var noteText, created string
		if err := rows.Scan(&cp.Size, &cp.Root, &noteText, &created); err != nil {
			return err
		}
		cp.Note = []byte(noteText)
		if cp.Time, err = parseTS(created); err != nil {
			return err
		}
		if err := fn(cp); err != nil {
			return err
		}
	}
	return rows.Err()
}
