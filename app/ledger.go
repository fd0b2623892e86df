package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/store"
)

// VerifyLedger checks the whole ledger in one snapshot against its
// checkpoints, the checkpoint file outside the database, the state the
// last verification passed at and, when one is configured, the newest
// checkpoint the witness cosigned. A pass is kept as the new state.
func (a *App) VerifyLedger(ctx context.Context) (*ledger.Report, error) {
	return a.verifyLedger(ctx, a.Config.Ledger.WitnessURL, false)
}

// VerifyLedgerWith is VerifyLedger against the witness at witnessURL
// (empty: the configured one).
func (a *App) VerifyLedgerWith(ctx context.Context, witnessURL string) (*ledger.Report, error) {
	if witnessURL == "" {
		witnessURL = a.Config.Ledger.WitnessURL
	}
	return a.verifyLedger(ctx, witnessURL, false)
}

func (a *App) verifyLedger(ctx context.Context, witnessURL string, incremental bool) (*ledger.Report, error) {
	key := a.Log.Key()
	opts := ledger.VerifyOptions{Live: true, Incremental: incremental}
	var err error
	if opts.External, err = ledger.ReadCheckpointFile(key.CheckpointPath()); err != nil {
		return nil, err
	}
	var stateProblem string
	if opts.Verified, err = ledger.ReadVerified(ledger.VerifiedPath(key.Path), key.Verifier); err != nil {
		stateProblem = err.Error()
	}
	var witnessProblem string
	if witnessURL != "" {
		if opts.Witnessed, err = a.fetchWitnessed(ctx, witnessURL); err != nil {
			witnessProblem = err.Error()
		}
	}
	rep, err := ledger.VerifyWith(ctx, store.LedgerSource(a.DB), key.Verifier, opts)
	if err != nil {
		return nil, err
	}
	if witnessProblem != "" && incremental {
		// At start a witness that does not answer is no reason to refuse
		// writes: what it would say is checked by LG-3, which reports it.
		a.Logger.Warn("the witness could not be asked at start", "err", witnessProblem)
		witnessProblem = ""
	}
	for _, p := range []string{stateProblem, witnessProblem} {
		if p != "" {
			rep.Problems = append(rep.Problems, p)
		}
	}
	if st := rep.State(); rep.OK() && st != nil {
		if err := ledger.WriteVerified(ledger.VerifiedPath(key.Path), st); err != nil {
			a.Logger.Error("keep the verified state", "err", err)
		}
	}
	return rep, nil
}

func (a *App) fetchWitnessed(ctx context.Context, url string) ([]byte, error) {
	var wv note.Verifier
	if k := a.Config.Ledger.WitnessPublicKey; k != "" {
		var err error
		if wv, err = note.NewVerifier(strings.TrimSpace(k)); err != nil {
			return nil, fmt.Errorf("ledger.witness_public_key: %w", err)
		}
	}
	return ledger.FetchWitnessed(ctx, nil, url, a.Log.Verifier(), wv)
}

// CheckLedgerAtStart verifies what was written since the last verification
// passed (all of it the first time) before the server serves. On a ledger
// that fails, every write is refused from then on (the ledger's Append
// says why), /readyz answers 503 with the reason, and a "ledger.tampered"
// notice is queued. The notice is written to the outbox without a ledger
// entry: the ledger is what cannot be trusted or appended to, so the
// outbox row and the server's log are its record.
func (a *App) CheckLedgerAtStart(ctx context.Context) error {
	rep, err := a.verifyLedger(ctx, a.Config.Ledger.WitnessURL, true)
	if err != nil {
		return fmt.Errorf("verify the ledger at start: %w", err)
	}
	if rep.OK() {
		return nil
	}
	reason := rep.Problems[0]
	if len(rep.Problems) > 1 {
		reason += fmt.Sprintf(" (and %d more problems)", len(rep.Problems)-1)
	}
	a.Log.Fail(errors.New(reason))
	a.Logger.Error("the ledger failed verification at start: writes are refused", "reason", reason, "first_bad_seq", rep.FirstBadSeq, "problems", rep.Problems)
	m := notify.Message{Kind: "ledger.tampered", Subject: "ledger", Time: a.Now().UTC(),
		Summary: "The ledger failed verification at start; the server refuses every write: " + reason,
		Data:    map[string]any{"problems": rep.Problems, "first_bad_seq": rep.FirstBadSeq, "size": rep.Size}}
	return a.queueUnledgered(ctx, m)
}

// queueUnledgered writes m to the outbox without a ledger entry (see
// CheckLedgerAtStart).
func (a *App) queueUnledgered(ctx context.Context, m notify.Message) error {
	ds := a.Notify.Route(m)
	if len(ds) == 0 {
		return nil
	}
	if err := a.DB.Update(ctx, func(tx *store.Tx) error { return tx.InsertOutbox(ctx, ds) }); err != nil {
		return fmt.Errorf("queue notification %s: %w", m.Kind, err)
	}
	a.Notify.Wake()
	return nil
}

// LedgerFailed is why the ledger refuses writes, nil when it does not.
func (a *App) LedgerFailed() error { return a.Log.Failed() }

// ledgerProofs is the Log's source of consistency proofs for a witness
// that missed checkpoints.
func (a *App) ledgerProofs(ctx context.Context, from, to int64) ([][]byte, error) {
	var p [][]byte
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		leaves, err := tx.LeafHashes(ctx, to)
		if err != nil {
			return err
		}
		p, err = ledger.ConsistencyProof(leaves, from, to)
		return err
	})
	return p, err
}

// LedgerSize is the size of the newest checkpoint.
func (a *App) LedgerSize(ctx context.Context) (int64, error) {
	cp, _, err := a.Head(ctx)
	return cp.Size, err
}

// Head returns the newest checkpoint.
func (a *App) Head(ctx context.Context) (ledger.Checkpoint, bool, error) {
	var cp ledger.Checkpoint
	var ok bool
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		cp, ok, err = tx.LedgerHead(ctx)
		return err
	})
	cp.Frontier = nil
	return cp, ok, err
}

func (a *App) publishedSize() (int64, error) {
	b, err := ledger.ReadCheckpointFile(a.Log.Key().CheckpointPath())
	if err != nil || b == nil {
		return 0, err
	}
	_, size, _, err := ledger.OpenCheckpoint(b, a.Log.Verifier())
	return size, err
}

// Republish writes the newest checkpoint out again (file and witness): the
// server does it every ledger.checkpoint_interval, so a witness that missed
// one catches up and a deleted file comes back.
func (a *App) Republish(ctx context.Context) error {
	cp, ok, err := a.Head(ctx)
	if err != nil || !ok {
		return err
	}
	a.Log.Publish(ctx, cp)
	return nil
}

// Entries lists ledger entries newest first.
func (a *App) Entries(ctx context.Context, f ledger.EntryFilter) ([]ledger.Entry, error) {
	var es []ledger.Entry
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		es, err = tx.ListEntries(ctx, f)
		return err
	})
	return es, err
}

// Entry returns one ledger entry.
func (a *App) Entry(ctx context.Context, seq int64) (ledger.Entry, error) {
	var e ledger.Entry
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		e, err = tx.Entry(ctx, seq)
		return err
	})
	return e, err
}

// Evidence returns a stored evidence blob.
func (a *App) Evidence(ctx context.Context, sha string) (ledger.Blob, error) {
	var b ledger.Blob
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		b, err = tx.Blob(ctx, sha)
		return err
	})
	return b, err
}

// InclusionProof is an entry with its audit path to a signed checkpoint.
type InclusionProof struct {
	Entry      ledger.Entry `json:"entry"`
	Size       int64        `json:"size"`
	Checkpoint string       `json:"checkpoint"`
	Hashes     [][]byte     `json:"hashes"`
	PublicKey  string       `json:"public_key"`
}

// ConsistencyProof proves that one checkpoint extends another.
type ConsistencyProof struct {
	From           int64    `json:"from"`
	To             int64    `json:"to"`
	FromCheckpoint string   `json:"from_checkpoint"`
	ToCheckpoint   string   `json:"to_checkpoint"`
	Hashes         [][]byte `json:"hashes"`
	PublicKey      string   `json:"public_key"`
}

// Inclusion proves entry seq is in the checkpoint of size (0: the newest).
func (a *App) Inclusion(ctx context.Context, seq, size int64) (InclusionProof, error) {
	var p InclusionProof
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		cp, err := a.checkpointAt(ctx, tx, size)
		if err != nil {
			return err
		}
		if seq < 1 || seq > cp.Size {
			return opsguard.Errorf(opsguard.EInvalid, "entry %d is not in the checkpoint of size %d", seq, cp.Size)
		}
		leaves, err := tx.LeafHashes(ctx, cp.Size)
		if err != nil {
			return err
		}
		if p.Entry, err = tx.Entry(ctx, seq); err != nil {
			return err
		}
		p.Size, p.Checkpoint = cp.Size, string(cp.Note)
		p.Hashes, err = ledger.InclusionProof(leaves, seq-1, cp.Size)
		return err
	})
	p.PublicKey = a.Log.Key().Public
	return p, err
}

// Consistency proves the checkpoint of size to extends the one of size from.
func (a *App) Consistency(ctx context.Context, from, to int64) (ConsistencyProof, error) {
	p := ConsistencyProof{From: from, To: to, PublicKey: a.Log.Key().Public}
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		cp2, err := a.checkpointAt(ctx, tx, to)
		if err != nil {
			return err
		}
		cp1, err := a.checkpointAt(ctx, tx, from)
		if err != nil {
			return err
		}
		if cp1.Size > cp2.Size {
			return opsguard.Errorf(opsguard.EInvalid, "from (%d) must not be larger than to (%d)", cp1.Size, cp2.Size)
		}
		leaves, err := tx.LeafHashes(ctx, cp2.Size)
		if err != nil {
			return err
		}
		p.From, p.To = cp1.Size, cp2.Size
		p.FromCheckpoint, p.ToCheckpoint = string(cp1.Note), string(cp2.Note)
		p.Hashes, err = ledger.ConsistencyProof(leaves, cp1.Size, cp2.Size)
		return err
	})
	return p, err
}

func (a *App) checkpointAt(ctx context.Context, tx *store.Tx, size int64) (ledger.Checkpoint, error) {
	if size == 0 {
		cp, ok, err := tx.LedgerHead(ctx)
		if err != nil {
			return cp, err
		}
		if !ok {
			return cp, opsguard.Errorf(opsguard.ENotFound, "the ledger is empty")
		}
		return cp, nil
	}
	cp, err := tx.Checkpoint(ctx, size)
	if err != nil {
		return cp, opsguard.Errorf(opsguard.ENotFound, "no signed checkpoint of size %d (checkpoints are signed at the end of each write)", size)
	}
	return cp, nil
}

// Export is everything needed to verify the ledger offline with the public
// key alone: entries, checkpoints and evidence.
type Export struct {
	Format      string              `json:"format"`
	PublicKey   string              `json:"public_key"`
	Checkpoints []ledger.Checkpoint `json:"checkpoints"`
	Entries     []ledger.Entry      `json:"entries"`
	Blobs       []ledger.Blob       `json:"evidence"`
}

// ExportFormat names the export's layout.
const ExportFormat = "opsguard-ledger-export/v1"

// ExportLedger collects the whole ledger in one snapshot.
func (a *App) ExportLedger(ctx context.Context) (*Export, error) {
	x := &Export{Format: ExportFormat, PublicKey: a.Log.Key().Public, Entries: []ledger.Entry{}, Blobs: []ledger.Blob{}}
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		if x.Checkpoints, err = tx.Checkpoints(ctx); err != nil {
			return err
		}
		if err := tx.ScanEntries(ctx, 1, 0, func(e *ledger.Entry) error {
			c := *e // the scan lends its buffers: keep copies
			c.Payload = append([]byte(nil), e.Payload...)
			c.PayloadHash = append([]byte(nil), e.PayloadHash...)
			c.LeafHash = append([]byte(nil), e.LeafHash...)
			x.Entries = append(x.Entries, c)
			return nil
		}); err != nil {
			return err
		}
		return tx.ScanBlobs(ctx, func(b ledger.Blob) error {
			x.Blobs = append(x.Blobs, b)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("export ledger: %w", err)
	}
	return x, nil
}

// Verify checks an export offline: against its own public key, or against
// trusted when given (the key an auditor got by other means).
func (x *Export) Verify(ctx context.Context, trusted string) (*ledger.Report, error) {
	if x.Format != ExportFormat {
		return nil, fmt.Errorf("export: format %q, want %q", x.Format, ExportFormat)
	}
	pub := x.PublicKey
	if trusted != "" {
		pub = trusted
	}
	// Entries out of order would hide from the range scans: order them,
	// and Verify reports any gap or repetition.
	sort.SliceStable(x.Entries, func(i, j int) bool { return x.Entries[i].Seq < x.Entries[j].Seq })
	v, err := ledger.NewVerifier(pub)
	if err != nil {
		return nil, err
	}
	return ledger.Verify(ctx, exportSource{x}, v, nil)
}

type exportSource struct{ x *Export }

// Snapshot gives the export's checkpoints and its range of sequence
// numbers (the entries are sorted by Verify).
func (s exportSource) Snapshot(context.Context) ([]ledger.Checkpoint, int64, int64, error) {
	if len(s.x.Entries) == 0 {
		return s.x.Checkpoints, 1, 0, nil
	}
	return s.x.Checkpoints, s.x.Entries[0].Seq, s.x.Entries[len(s.x.Entries)-1].Seq, nil
}

// ScanEntries walks the export's entries in seq order within [from, to].
func (s exportSource) ScanEntries(_ context.Context, from, to int64, fn func(*ledger.Entry) error) error {
	i := sort.Search(len(s.x.Entries), func(i int) bool { return s.x.Entries[i].Seq >= from })
	for ; i < len(s.x.Entries) && s.x.Entries[i].Seq <= to; i++ {
		e := s.x.Entries[i] // a copy: ranges are walked concurrently
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

func (s exportSource) ScanBlobs(_ context.Context, fn func(ledger.Blob) error) error {
	for _, b := range s.x.Blobs {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}
