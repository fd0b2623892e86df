package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/opsguard/opsguard"
)

// Tx is what Append needs from the caller's open transaction.
type Tx interface {
	// LockLedger serialises appenders until the transaction ends.
	LockLedger(ctx context.Context) error
	// LedgerHead returns the newest checkpoint, ok false on an empty ledger.
	LedgerHead(ctx context.Context) (cp Checkpoint, ok bool, err error)
	// LedgerMaxSeq is the highest stored sequence number, 0 when none.
	LedgerMaxSeq(ctx context.Context) (int64, error)
	InsertLedgerEntries(ctx context.Context, es []Entry) error
	InsertCheckpoint(ctx context.Context, cp Checkpoint) error
	PutBlob(ctx context.Context, b Blob) error
	AfterCommit(f func())
	// Sealer: the appender seals the rows the transaction changed.
	Sealer
}

// Blob is a piece of evidence (a report, a log), stored once by content.
type Blob struct {
	SHA256    string `json:"sha256"` // hex
	MediaType string `json:"media_type"`
	Content   []byte `json:"content"`
	// Source holds the content in place of Content when it is too large
	// to hold in memory (a report of hundreds of megabytes spooled to a
	// file): Size bytes, read as the blob is stored.
	Source io.ReaderAt `json:"-"`
	Size   int64       `json:"-"`
}

// Ref is how entries refer to a blob: "sha256:<hex>".
func (b Blob) Ref() string { return "sha256:" + b.SHA256 }

var factory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// Log appends to the ledger and signs its checkpoints.
type Log struct {
	key    *Key
	now    func() time.Time
	logger *slog.Logger
	client *http.Client
	// witness, when set, receives every new checkpoint (see witness.go).
	witness string
	proofs  func(ctx context.Context, from, to int64) ([][]byte, error)

	mu  sync.Mutex // orders writes of the checkpoint file
	wmu sync.Mutex // orders posts to the witness
	// witnessed is the size the witness is known to hold, -1 unknown.
	witnessed int64

	failed atomic.Pointer[error]
}

// Options tune a Log.
type Options struct {
	Now        func() time.Time
	Logger     *slog.Logger
	WitnessURL string
	HTTPClient *http.Client
	// Proofs returns the consistency proof between two sizes, for a witness
	// that is behind (missed checkpoints); nil when there is no database.
	Proofs func(ctx context.Context, from, to int64) ([][]byte, error)
}

// New returns a Log signing with key.
func New(key *Key, opts Options) *Log {
	l := &Log{key: key, now: opts.Now, logger: opts.Logger, witness: opts.WitnessURL, client: opts.HTTPClient, proofs: opts.Proofs, witnessed: -1}
	if l.now == nil {
		l.now = time.Now
	}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.client == nil {
		l.client = &http.Client{Timeout: 10 * time.Second}
	}
	return l
}

// Key returns the signing key.
func (l *Log) Key() *Key { return l.key }

// Verifier returns the public key's verifier.
func (l *Log) Verifier() note.Verifier { return l.key.Verifier }

// Fail stops every write: Begin (and so Append) returns an error naming
// reason without touching the database. The server calls it when the
// ledger fails verification at start, so nothing is built on a ledger that
// has been tampered with.
func (l *Log) Fail(reason error) { l.failed.Store(&reason) }

// Failed returns why the ledger refuses writes, nil when it does not.
func (l *Log) Failed() error {
	if p := l.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Append records events in tx as consecutive entries and signs a
// checkpoint covering them, in the same transaction.
func (l *Log) Append(ctx context.Context, tx Tx, events ...Event) ([]Entry, error) {
	if len(events) == 0 {
		return nil, nil
	}
	a, err := l.Begin(ctx, tx)
	if err != nil {
		return nil, err
	}
	entries, err := a.Add(events...)
	if err != nil {
		return nil, err
	}
	if err := a.Close(); err != nil {
		return nil, err
	}
	return entries, nil
}

// Appender records events in one transaction in several parts, for a
// caller with too many to hold at once, and signs one checkpoint covering
// them all when closed: the entries are those one Append of every event
// would write.
type Appender struct {
	l   *Log
	ctx context.Context
	tx  Tx
	rng *compact.Range
	at  time.Time
	n   int
	// from and prev are the size and frontier the appender started from,
	// leaves the hashes added since: with them the consistency proof for a
	// witness that holds size from needs no read of the database.
	from   int64
	prev   [][]byte
	leaves [][]byte
	actor  string // of the last event added, who the seal of the rows is by
}

// Begin locks the ledger in tx and returns an Appender of entries after
// its newest checkpoint. Nothing is signed unless Close is called.
func (l *Log) Begin(ctx context.Context, tx Tx) (*Appender, error) {
	if err := l.Failed(); err != nil {
		return nil, opsguard.Errorf(opsguard.EConflict, "the ledger failed verification, so nothing is written until it is repaired: %v; run opsguard ledger verify", err)
	}
	if err := tx.LockLedger(ctx); err != nil {
		return nil, fmt.Errorf("ledger lock: %w", err)
	}
	rng, err := l.head(ctx, tx)
	if err != nil {
		return nil, err
	}
	a := &Appender{l: l, ctx: ctx, tx: tx, rng: rng, at: l.now().UTC().Truncate(time.Microsecond), from: int64(rng.End())}
	if l.witness != "" {
		a.prev = append([][]byte(nil), rng.Hashes()...)
	}
	return a, nil
}

// Add records events as the next consecutive entries and returns them.
func (a *Appender) Add(events ...Event) ([]Entry, error) {
	if len(events) == 0 {
		return nil, nil
	}
	entries := make([]Entry, len(events))
	for i, ev := range events {
		ev.Actor = attribute(a.ctx, ev.Actor)
		e, err := newEntry(int64(a.rng.End())+1, a.at, ev)
		if err != nil {
			return nil, err
		}
		if err := a.rng.Append(e.LeafHash, nil); err != nil {
			return nil, fmt.Errorf("ledger tree: %w", err)
		}
		if a.l.witness != "" {
			a.leaves = append(a.leaves, e.LeafHash)
		}
		entries[i] = e
		a.actor = ev.Actor
	}
	if err := a.tx.InsertLedgerEntries(a.ctx, entries); err != nil {
		return nil, fmt.Errorf("ledger append: %w", err)
	}
	a.n += len(events)
	return entries, nil
}

// Seq is the sequence number of the last entry added, 0 when none was.
func (a *Appender) Seq() int64 {
	if a.n == 0 {
		return 0
	}
	return int64(a.rng.End())
}

// Close signs and stores a checkpoint covering the entries added, to be
// published once the transaction commits; with none added it does nothing.
// It is called once, after the last Add.
func (a *Appender) Close() error {
	if a.n == 0 {
		return nil
	}
	if err := a.sealRows(); err != nil {
		return err
	}
	cp, err := a.l.sign(a.rng, a.at, a.from)
	if err != nil {
		return err
	}
	if err := a.tx.InsertCheckpoint(a.ctx, cp); err != nil {
		return fmt.Errorf("ledger checkpoint: %w", err)
	}
	ctx, l, from, prev, leaves := a.ctx, a.l, a.from, a.prev, a.leaves
	a.tx.AfterCommit(func() {
		ctx := context.WithoutCancel(ctx)
		// The first checkpoint creates the file; later ones only replace
		// it, so a deleted file stays missing and verify says so.
		l.publishFile(cp, from == 0)
		l.postWitness(ctx, cp, func(old int64) ([][]byte, error) {
			if old == from {
				return consistencyFrom(prev, from, leaves)
			}
			return l.proof(ctx, old, cp.Size)
		})
	})
	return nil
}

// Seal seals the rows the transaction changed so far with an entry added
// now; Close seals those changed after. A write of many rows in parts (an
// import) calls it after each part, so that each row is sealed while its
// page is still in the database's cache rather than read back at the end.
// Before any entry is added it does nothing: the seal is by the actor of
// the last entry, and Close seals what is left.
func (a *Appender) Seal() error {
	if a.n == 0 {
		return nil
	}
	return a.sealRows()
}

// sealRows seals the rows the transaction changed with one entry, so the
// checkpoint signed next covers them.
func (a *Appender) sealRows() error {
	var c sealCollector
	if err := a.tx.SealRows(a.ctx, int64(a.rng.End())+1, c.add); err != nil {
		c.close()
		return fmt.Errorf("seal rows: %w", err)
	}
	if c.rows == 0 {
		return nil
	}
	return c.record(a, KindRows, a.actor, c.subject(), nil)
}

// head rebuilds the compact range of the newest checkpoint and checks it
// against the signed root, so a tampered frontier cannot steer new roots.
func (l *Log) head(ctx context.Context, tx Tx) (*compact.Range, error) {
	cp, ok, err := tx.LedgerHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger head: %w", err)
	}
	maxSeq, err := tx.LedgerMaxSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger head: %w", err)
	}
	var head *Checkpoint
	if ok {
		head = &cp
	}
	rng, herr := checkHead(head, maxSeq, l.key.Verifier)
	if herr != nil {
		return nil, fmt.Errorf("%w; run opsguard ledger verify", herr)
	}
	return rng, nil
}

// HeadError is what checkHead finds wrong with the newest checkpoint.
type HeadError struct {
	Seq int64 // the first entry concerned, 0 when none is
	Msg string
}

func (e *HeadError) Error() string { return e.Msg }

// checkHead is the one check of the newest checkpoint (nil: none) that
// both the appender, before it writes, and Verify make: its signature, its
// stored frontier against its signed root, and no entry stored beyond it.
// It returns the compact range to extend.
func checkHead(cp *Checkpoint, maxSeq int64, v note.Verifier) (*compact.Range, *HeadError) {
	size := int64(0)
	rng := factory.NewEmptyRange(0)
	if cp != nil {
		size = cp.Size
		if err := cp.verify(v); err != nil {
			return nil, &HeadError{0, fmt.Sprintf("newest checkpoint %d: %v", cp.Size, err)}
		}
		var err error
		if rng, err = frontierRange(cp.Size, cp.Frontier, cp.Root); err != nil {
			return nil, &HeadError{0, fmt.Sprintf("newest checkpoint %d: its stored frontier does not match its signed root: edited", cp.Size)}
		}
	}
	if maxSeq > size {
		return nil, &HeadError{size + 1, fmt.Sprintf("entries %d..%d are not covered by any signed checkpoint: written behind the server's back", size+1, maxSeq)}
	}
	return rng, nil
}

// frontierRange rebuilds the compact range of the first size leaves from
// a stored frontier and checks it against the signed root: a frontier
// edited behind the server's back does not match.
func frontierRange(size int64, frontier [][]byte, root []byte) (*compact.Range, error) {
	rng, err := factory.NewRange(0, uint64(size), frontier)
	if err != nil {
		return nil, err
	}
	got, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(got, root) {
		return nil, fmt.Errorf("root mismatch")
	}
	return rng, nil
}

func (l *Log) sign(rng *compact.Range, at time.Time, prev int64) (Checkpoint, error) {
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger root: %w", err)
	}
	size := int64(rng.End())
	msg, err := note.Sign(&note.Note{Text: checkpointBody(l.key.Verifier.Name(), size, root, prev)}, l.key.Signer)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign checkpoint: %w", err)
	}
	return Checkpoint{Size: size, Root: root, Note: msg, Frontier: rng.Hashes(), Time: at}, nil
}

// NewBlob returns content as evidence of the given media type, with its
// hash.
func NewBlob(mediaType string, content []byte) Blob {
	sum := sha256.Sum256(content)
	return Blob{SHA256: hex.EncodeToString(sum[:]), MediaType: mediaType, Content: content}
}

// NewBlobFrom returns the size bytes of src as evidence, with their hash.
func NewBlobFrom(mediaType string, src io.ReaderAt, size int64) (Blob, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(src, 0, size)); err != nil {
		return Blob{}, fmt.Errorf("hash evidence: %w", err)
	}
	return Blob{SHA256: hex.EncodeToString(h.Sum(nil)), MediaType: mediaType, Source: src, Size: size}, nil
}

// Len is the content's size in bytes.
func (b Blob) Len() int64 {
	if b.Content == nil && b.Source != nil {
		return b.Size
	}
	return int64(len(b.Content))
}

// PutBlob stores content as evidence in tx and returns its reference.
// Storing the same content twice stores it once.
func (l *Log) PutBlob(ctx context.Context, tx Tx, mediaType string, content []byte) (Blob, error) {
	b := NewBlob(mediaType, content)
	if err := l.Put(ctx, tx, b); err != nil {
		return Blob{}, err
	}
	return b, nil
}

// Put stores a blob made by NewBlob as evidence in tx, for a caller that
// needs its reference before the transaction (hashing a report of
// hundreds of megabytes once, not twice).
func (l *Log) Put(ctx context.Context, tx Tx, b Blob) error {
	if err := tx.PutBlob(ctx, b); err != nil {
		return fmt.Errorf("store evidence: %w", err)
	}
	return nil
}

// Publish writes cp to the checkpoint file beside the key when it is newer
// than the one there, and posts it to the witness. It does not create a
// missing file: only the first checkpoint does, so that a file deleted to
// hide a cut tail is not put back. Failures are logged, not returned: the
// checkpoint is already committed in the database.
func (l *Log) Publish(ctx context.Context, cp Checkpoint) {
	l.publishFile(cp, false)
	l.postWitness(ctx, cp, func(old int64) ([][]byte, error) { return l.proof(ctx, old, cp.Size) })
}

func (l *Log) publishFile(cp Checkpoint, create bool) {
	if err := l.writeCheckpointFile(cp, create); err != nil {
		l.logger.Error("write checkpoint file", "path", l.key.CheckpointPath(), "size", cp.Size, "err", err)
	}
}

func (l *Log) writeCheckpointFile(cp Checkpoint, create bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	path := l.key.CheckpointPath()
	old, err := ReadCheckpointFile(path)
	if err != nil {
		return err
	}
	if old == nil && !create {
		return fmt.Errorf("the checkpoint file is missing; it is not written again (that would hide a cut tail): run opsguard ledger verify")
	}
	if old != nil {
		if _, size, _, err := OpenCheckpoint(old, l.key.Verifier); err == nil && size >= cp.Size {
			return nil
		}
	}
	return writeFileAtomic(path, cp.Note)
}

// writeFileAtomic replaces path with b: a reader sees the old content or
// the new, never a part.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadCheckpointFile returns the checkpoint kept outside the database, or
// nil when there is none yet.
func ReadCheckpointFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint file: %w", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, nil
	}
	return b, nil
}
