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
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Tx is what Append needs from the caller's open transaction.
type Tx interface {
	// LockLedger serialises appenders until the transaction ends.
	LockLedger(ctx context.Context) error
	// LedgerHead returns the newest checkpoint, ok false on an empty ledger.
	LedgerHead(ctx context.Context) (cp Checkpoint, ok bool, err error)
	InsertLedgerEntries(ctx context.Context, es []Entry) error
	InsertCheckpoint(ctx context.Context, cp Checkpoint) error
	PutBlob(ctx context.Context, b Blob) error
	AfterCommit(f func())
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
	// witness, when set, receives every new checkpoint as a POST.
	witness string

	mu sync.Mutex // orders writes of the checkpoint file
}

// Options tune a Log.
type Options struct {
	Now        func() time.Time
	Logger     *slog.Logger
	WitnessURL string
	HTTPClient *http.Client
}

// New returns a Log signing with key.
func New(key *Key, opts Options) *Log {
	l := &Log{key: key, now: opts.Now, logger: opts.Logger, witness: opts.WitnessURL, client: opts.HTTPClient}
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
}

// Begin locks the ledger in tx and returns an Appender of entries after
// its newest checkpoint. Nothing is signed unless Close is called.
func (l *Log) Begin(ctx context.Context, tx Tx) (*Appender, error) {
	if err := tx.LockLedger(ctx); err != nil {
		return nil, fmt.Errorf("ledger lock: %w", err)
	}
	rng, err := l.head(ctx, tx)
	if err != nil {
		return nil, err
	}
	return &Appender{l: l, ctx: ctx, tx: tx, rng: rng, at: l.now().UTC().Truncate(time.Microsecond)}, nil
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
		entries[i] = e
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
	cp, err := a.l.sign(a.rng, a.at)
	if err != nil {
		return err
	}
	if err := a.tx.InsertCheckpoint(a.ctx, cp); err != nil {
		return fmt.Errorf("ledger checkpoint: %w", err)
	}
	ctx, l := a.ctx, a.l
	a.tx.AfterCommit(func() { l.Publish(context.WithoutCancel(ctx), cp) })
	return nil
}

// head rebuilds the compact range of the newest checkpoint and checks it
// against the signed root, so a tampered frontier cannot steer new roots.
func (l *Log) head(ctx context.Context, tx Tx) (*compact.Range, error) {
	cp, ok, err := tx.LedgerHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger head: %w", err)
	}
	if !ok {
		return factory.NewEmptyRange(0), nil
	}
	if err := cp.verify(l.key.Verifier); err != nil {
		return nil, fmt.Errorf("ledger head checkpoint %d: %w", cp.Size, err)
	}
	rng, err := factory.NewRange(0, uint64(cp.Size), cp.Frontier)
	if err != nil {
		return nil, fmt.Errorf("ledger head checkpoint %d: frontier: %w", cp.Size, err)
	}
	root, err := rng.GetRootHash(nil)
	if err != nil || !bytes.Equal(root, cp.Root) {
		return nil, fmt.Errorf("ledger head checkpoint %d: stored frontier does not match the signed root; run opsguard ledger verify", cp.Size)
	}
	return rng, nil
}

func (l *Log) sign(rng *compact.Range, at time.Time) (Checkpoint, error) {
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger root: %w", err)
	}
	size := int64(rng.End())
	msg, err := note.Sign(&note.Note{Text: checkpointBody(l.key.Verifier.Name(), size, root)}, l.key.Signer)
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
// than the one there, and posts it to the witness URL. Failures are logged,
// not returned: the checkpoint is already committed in the database.
func (l *Log) Publish(ctx context.Context, cp Checkpoint) {
	if err := l.writeCheckpointFile(cp); err != nil {
		l.logger.Error("write checkpoint file", "path", l.key.CheckpointPath(), "size", cp.Size, "err", err)
	}
	if l.witness == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.witness, bytes.NewReader(cp.Note))
	if err != nil {
		l.logger.Error("post checkpoint", "err", err)
		return
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := l.client.Do(req)
	if err != nil {
		l.logger.Error("post checkpoint", "size", cp.Size, "err", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		l.logger.Error("post checkpoint", "size", cp.Size, "status", resp.StatusCode)
	}
}

func (l *Log) writeCheckpointFile(cp Checkpoint) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	path := l.key.CheckpointPath()
	if old, err := os.ReadFile(path); err == nil {
		if _, size, _, err := OpenCheckpoint(old, l.key.Verifier); err == nil && size >= cp.Size {
			return nil
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".checkpoint-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(cp.Note); err != nil {
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
