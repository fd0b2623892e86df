package app

import (
	"context"
	"errors"
	"fmt"
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
		more := "problems"
		if len(rep.Problems) == 2 {
			more = "problem"
		}
		reason += fmt.Sprintf(" (and %d more %s)", len(rep.Problems)-1, more)
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

// Inclusion proves entry seq is in the checkpoint of size (0: the newest).
func (a *App) Inclusion(ctx context.Context, seq, size int64) (ledger.Inclusion, error) {
	var p ledger.Inclusion
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		p, err = ledger.ProveInclusion(ctx, tx, a.Log.Key().Public, seq, size)
		return err
	})
	return p, err
}

// Consistency proves the checkpoint of size to extends the one of size from.
func (a *App) Consistency(ctx context.Context, from, to int64) (ledger.Consistency, error) {
	var p ledger.Consistency
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		p, err = ledger.ProveConsistency(ctx, tx, a.Log.Key().Public, from, to)
		return err
	})
	return p, err
}

// ExportLedger collects the whole ledger in one snapshot.
func (a *App) ExportLedger(ctx context.Context) (*ledger.Export, error) {
	var x *ledger.Export
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		x, err = ledger.NewExport(ctx, tx, a.Log.Key().Public)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("export ledger: %w", err)
	}
	return x, nil
}

// sealExisting seals, once, the rows a database held before its tables
// were sealed (see ledger.Log.SealExisting). A database that needs nothing
// is only read, so a read-only command never waits for the write lock.
func (a *App) sealExisting(ctx context.Context) error {
	var tables []string
	if err := a.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		tables, err = tx.SealUpgrade(ctx)
		return err
	}); err != nil || len(tables) == 0 {
		return err
	}
	err := a.DB.Update(ctx, func(tx *store.Tx) error {
		var err error
		tables, err = a.Log.SealExisting(ctx, tx, "system")
		return err
	})
	switch {
	case opsguard.ErrorCode(err) == opsguard.EConflict:
		a.Logger.Error("rows were not sealed at start", "err", err)
		return nil
	case err != nil:
		return fmt.Errorf("seal the rows written before sealing: %w", err)
	}
	a.Logger.Info("sealed the rows written before sealing, one ledger.sealed entry per table", "tables", tables)
	return nil
}
