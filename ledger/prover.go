package ledger

import (
	"bytes"
	"context"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// LeafScanner reads stored leaf hashes in sequence order; the store's
// transaction has it.
type LeafScanner interface {
	// ScanLeafHashes calls fn for every entry with from <= seq <= to, in
	// order; leaf is valid only during fn.
	ScanLeafHashes(ctx context.Context, from, to int64, fn func(seq int64, leaf []byte) error) error
}

// blockLevel is the height of the subtrees a Prover rebuilds from their
// leaves on demand: every perfect subtree of 2^blockLevel leaves or more
// is kept (32 bytes per 4096 leaves), the ones below are rebuilt one block
// at a time, so memory stays flat however large the ledger.
const blockLevel = 12

// Prover answers many inclusion and consistency proofs within the tree of
// its size, from one pass over the leaf hashes plus one read of each
// block of 4096 leaves a proof reaches into. ProveInclusion rebuilds the
// subtrees of each proof from every leaf, fine for one proof but
// quadratic for an audit bundle's thousands.
type Prover struct {
	ctx   context.Context
	r     LeafScanner
	size  int64
	upper [][]byte // upper[l]: the hashes of the perfect subtrees of level blockLevel+l, 32 bytes each

	// blocks caches the subtrees of a few blocks, levels[l] those of
	// level l: the block of the entries being proved and the last, partial
	// block, whose subtrees every proof's right edge needs.
	blocks map[int64][][]byte
}

// maxBlocks bounds the blocks cached (4096 leaves, 256 KiB each).
const maxBlocks = 4

// NewProver reads the first size leaf hashes of r and checks that they
// make root, the signed root of that size: a stored leaf hash edited
// behind the server's back would otherwise yield proofs that fail.
func NewProver(ctx context.Context, r LeafScanner, size int64, root []byte) (*Prover, error) {
	p := &Prover{ctx: ctx, r: r, size: size, blocks: map[int64][][]byte{}}
	rng := factory.NewEmptyRange(0)
	var blockLeaves []byte
	var base []byte
	next := int64(1)
	err := r.ScanLeafHashes(ctx, 1, size, func(seq int64, leaf []byte) error {
		if seq != next || len(leaf) != 32 {
			return fmt.Errorf("ledger entry %d is missing or its leaf hash is malformed; run opsguard ledger verify", next)
		}
		next++
		if err := rng.Append(bytes.Clone(leaf), nil); err != nil {
			return err
		}
		blockLeaves = append(blockLeaves, leaf...)
		if len(blockLeaves) == 32<<blockLevel {
			lv := buildLevels(blockLeaves, blockLevel+1)
			base = append(base, lv[blockLevel]...)
			blockLeaves = blockLeaves[:0]
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read leaf hashes: %w", err)
	}
	if next != size+1 {
		return nil, fmt.Errorf("the ledger holds %d entries, fewer than its checkpoint of size %d; run opsguard ledger verify", next-1, size)
	}
	got, err := rng.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	if size > 0 && !bytes.Equal(got, root) {
		return nil, fmt.Errorf("the stored leaf hashes do not make the signed root of size %d; run opsguard ledger verify", size)
	}
	p.upper = buildLevels(base, 64)
	return p, nil
}

// buildLevels returns level 0 (the hashes given) and every level above it
// of perfect subtrees, up to n levels.
func buildLevels(hashes []byte, n int) [][]byte {
	levels := [][]byte{hashes}
	for len(levels) < n && len(levels[len(levels)-1]) >= 64 {
		below := levels[len(levels)-1]
		up := make([]byte, 0, len(below)/64*32)
		for i := 0; i+64 <= len(below); i += 64 {
			up = append(up, rfc6962.DefaultHasher.HashChildren(below[i:i+32], below[i+32:i+64])...)
		}
		levels = append(levels, up)
	}
	return levels
}

// Size is the size of the tree the proofs are within.
func (p *Prover) Size() int64 { return p.size }

// Inclusion returns the audit path of entry seq in the tree.
func (p *Prover) Inclusion(seq int64) ([][]byte, error) {
	if seq < 1 || seq > p.size {
		return nil, fmt.Errorf("inclusion proof: entry %d is not in a tree of %d", seq, p.size)
	}
	nodes, err := proof.Inclusion(uint64(seq-1), uint64(p.size))
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	return p.rehash(nodes)
}

// Consistency proves that the tree of size1 leaves is a prefix of the one
// of size2, both at most the Prover's size.
func (p *Prover) Consistency(size1, size2 int64) ([][]byte, error) {
	if size1 < 0 || size1 > size2 || size2 > p.size {
		return nil, fmt.Errorf("consistency proof: sizes %d and %d are not within a tree of %d", size1, size2, p.size)
	}
	nodes, err := proof.Consistency(uint64(size1), uint64(size2))
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	return p.rehash(nodes)
}

func (p *Prover) rehash(nodes proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := p.node(id)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// node is the hash of the perfect subtree id.
func (p *Prover) node(id compact.NodeID) ([]byte, error) {
	if id.Level >= blockLevel {
		l := int(id.Level - blockLevel)
		if l >= len(p.upper) || int(id.Index+1)*32 > len(p.upper[l]) {
			return nil, fmt.Errorf("proof: node %d/%d is outside the tree of %d", id.Level, id.Index, p.size)
		}
		return bytes.Clone(p.upper[l][id.Index*32 : id.Index*32+32]), nil
	}
	block := int64(id.Index<<id.Level) >> blockLevel
	levels, ok := p.blocks[block]
	if !ok {
		var err error
		if levels, err = p.load(block); err != nil {
			return nil, err
		}
	}
	in := id.Index - uint64(block)<<(blockLevel-id.Level)
	if int(id.Level) >= len(levels) || int(in+1)*32 > len(levels[id.Level]) {
		return nil, fmt.Errorf("proof: node %d/%d is outside the tree of %d", id.Level, id.Index, p.size)
	}
	return bytes.Clone(levels[id.Level][in*32 : in*32+32]), nil
}

// load reads the leaves of one block (the last may be partial) and
// rebuilds its subtrees.
func (p *Prover) load(block int64) ([][]byte, error) {
	from := block<<blockLevel + 1
	to := min((block+1)<<blockLevel, p.size)
	leaves := make([]byte, 0, (to-from+1)*32)
	next := from
	err := p.r.ScanLeafHashes(p.ctx, from, to, func(seq int64, leaf []byte) error {
		if seq != next || len(leaf) != 32 {
			return fmt.Errorf("ledger entry %d is missing; run opsguard ledger verify", next)
		}
		next++
		leaves = append(leaves, leaf...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read leaf hashes %d..%d: %w", from, to, err)
	}
	last := (p.size - 1) >> blockLevel
	for b := range p.blocks {
		if len(p.blocks) < maxBlocks {
			break
		}
		if b != last {
			delete(p.blocks, b)
		}
	}
	levels := buildLevels(leaves, blockLevel)
	p.blocks[block] = levels
	return levels, nil
}
