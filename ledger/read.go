package ledger

import (
	"context"

	"github.com/opsguard/opsguard"
)

// ProofReader is what the proofs read from the caller's open (read)
// transaction; the store's transaction has these methods.
type ProofReader interface {
	// LedgerHead returns the newest checkpoint, ok false on an empty ledger.
	LedgerHead(ctx context.Context) (cp Checkpoint, ok bool, err error)
	// Checkpoint returns the checkpoint of the given size.
	Checkpoint(ctx context.Context, size int64) (Checkpoint, error)
	// LeafHashes returns the leaf hashes of the first size entries.
	LeafHashes(ctx context.Context, size int64) ([][]byte, error)
	// Entry returns the entry with sequence number seq.
	Entry(ctx context.Context, seq int64) (Entry, error)
}

// Inclusion is an entry with its audit path to a signed checkpoint.
type Inclusion struct {
	Entry      Entry    `json:"entry"`
	Size       int64    `json:"size"`
	Checkpoint string   `json:"checkpoint"`
	Hashes     [][]byte `json:"hashes"`
	PublicKey  string   `json:"public_key"`
}

// Consistency proves that one checkpoint extends another.
type Consistency struct {
	From           int64    `json:"from"`
	To             int64    `json:"to"`
	FromCheckpoint string   `json:"from_checkpoint"`
	ToCheckpoint   string   `json:"to_checkpoint"`
	Hashes         [][]byte `json:"hashes"`
	PublicKey      string   `json:"public_key"`
}

// ProveInclusion proves entry seq is in the checkpoint of size (0: the
// newest); public is the key the checkpoint verifies with, handed on to
// the reader of the proof.
func ProveInclusion(ctx context.Context, r ProofReader, public string, seq, size int64) (Inclusion, error) {
	p := Inclusion{PublicKey: public}
	cp, err := checkpointAt(ctx, r, size)
	if err != nil {
		return p, err
	}
	if seq < 1 || seq > cp.Size {
		return p, opsguard.Errorf(opsguard.EInvalid, "entry %d is not in the checkpoint of size %d", seq, cp.Size)
	}
	leaves, err := r.LeafHashes(ctx, cp.Size)
	if err != nil {
		return p, err
	}
	if p.Entry, err = r.Entry(ctx, seq); err != nil {
		return p, err
	}
	p.Size, p.Checkpoint = cp.Size, string(cp.Note)
	p.Hashes, err = InclusionProof(leaves, seq-1, cp.Size)
	return p, err
}

// ProveConsistency proves the checkpoint of size to extends the one of
// size from (either 0: the newest).
func ProveConsistency(ctx context.Context, r ProofReader, public string, from, to int64) (Consistency, error) {
	p := Consistency{From: from, To: to, PublicKey: public}
	cp2, err := checkpointAt(ctx, r, to)
	if err != nil {
		return p, err
	}
	cp1, err := checkpointAt(ctx, r, from)
	if err != nil {
		return p, err
	}
	if cp1.Size > cp2.Size {
		return p, opsguard.Errorf(opsguard.EInvalid, "from (%d) must not be larger than to (%d)", cp1.Size, cp2.Size)
	}
	leaves, err := r.LeafHashes(ctx, cp2.Size)
	if err != nil {
		return p, err
	}
	p.From, p.To = cp1.Size, cp2.Size
	p.FromCheckpoint, p.ToCheckpoint = string(cp1.Note), string(cp2.Note)
	p.Hashes, err = ConsistencyProof(leaves, cp1.Size, cp2.Size)
	return p, err
}

// checkpointAt is the signed checkpoint of size, the newest for 0.
func checkpointAt(ctx context.Context, r ProofReader, size int64) (Checkpoint, error) {
	if size == 0 {
		cp, ok, err := r.LedgerHead(ctx)
		if err != nil {
			return cp, err
		}
		if !ok {
			return cp, opsguard.Errorf(opsguard.ENotFound, "the ledger is empty")
		}
		return cp, nil
	}
	cp, err := r.Checkpoint(ctx, size)
	if err != nil {
		return cp, opsguard.Errorf(opsguard.ENotFound, "no signed checkpoint of size %d (checkpoints are signed at the end of each write)", size)
	}
	return cp, nil
}
