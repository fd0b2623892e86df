package ledger_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/opsguard/opsguard/ledger"
)

type leafSlice [][]byte

// countingLeaves counts the reads of leaf hashes.
type countingLeaves struct {
	leafSlice
	reads int
}

func (c *countingLeaves) ScanLeafHashes(ctx context.Context, from, to int64, fn func(int64, []byte) error) error {
	c.reads++
	return c.leafSlice.ScanLeafHashes(ctx, from, to, fn)
}

func (l leafSlice) ScanLeafHashes(_ context.Context, from, to int64, fn func(int64, []byte) error) error {
	for s := from; s <= to && s <= int64(len(l)); s++ {
		if err := fn(s, l[s-1]); err != nil {
			return err
		}
	}
	return nil
}

// TestProverMatchesProofs checks the batched prover against the one-proof
// functions, across block boundaries and ragged tree edges.
func TestProverMatchesProofs(t *testing.T) {
	leaves := make(leafSlice, 9000)
	for i := range leaves {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(i))
		s := sha256.Sum256(b[:])
		leaves[i] = s[:]
	}
	for _, size := range []int64{1, 2, 7, 4096, 4097, 8192, 8999} {
		rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
		for _, l := range leaves[:size] {
			rng.Append(l, nil)
		}
		root, _ := rng.GetRootHash(nil)
		p, err := ledger.NewProver(context.Background(), leaves[:size], size, root)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		for _, seq := range []int64{1, 2, size / 2, size - 1, size, 4096, 4097} {
			if seq < 1 || seq > size {
				continue
			}
			got, err := p.Inclusion(seq)
			want, _ := ledger.InclusionProof(leaves, seq-1, size)
			if err != nil || !equalPaths(got, want) {
				t.Errorf("size %d inclusion %d: %x, want %x (%v)", size, seq, got, want, err)
			}
		}
		for _, s1 := range []int64{0, 1, 3, 4096, size - 1, size} {
			if s1 < 0 || s1 > size {
				continue
			}
			got, err := p.Consistency(s1, size)
			want, _ := ledger.ConsistencyProof(leaves, s1, size)
			if err != nil || !equalPaths(got, want) {
				t.Errorf("size %d consistency from %d: %v", size, s1, err)
			}
		}
		if _, err := ledger.NewProver(context.Background(), leaves[:size], size, make([]byte, 32)); err == nil {
			t.Errorf("size %d: a wrong root was accepted", size)
		}
	}
}

func equalPaths(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestProverReadsEachBlockOnce proves every entry in order: each block of
// leaves is read once, not once per proof (the right edge of the tree
// lies in the last block, which every proof needs).
func TestProverReadsEachBlockOnce(t *testing.T) {
	leaves := make(leafSlice, 9000)
	for i := range leaves {
		s := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		leaves[i] = s[:]
	}
	rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
	for _, l := range leaves {
		rng.Append(l, nil)
	}
	root, _ := rng.GetRootHash(nil)
	c := &countingLeaves{leafSlice: leaves}
	p, err := ledger.NewProver(context.Background(), c, 9000, root)
	if err != nil {
		t.Fatal(err)
	}
	for seq := int64(1); seq <= 9000; seq++ {
		if _, err := p.Inclusion(seq); err != nil {
			t.Fatal(err)
		}
	}
	if c.reads > 1+3 {
		t.Errorf("%d reads of leaf hashes for 9000 proofs over 3 blocks", c.reads)
	}
}
