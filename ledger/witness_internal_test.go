package ledger

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// The proof built from a frontier and the new leaves alone is the one
// built from every leaf, for every pair of sizes up to 40.
func TestConsistencyFromFrontier(t *testing.T) {
	var leaves [][]byte
	for i := 0; i < 40; i++ {
		h := sha256.Sum256([]byte{byte(i)})
		leaves = append(leaves, h[:])
	}
	for from := int64(1); from < 40; from++ {
		rng := factory.NewEmptyRange(0)
		for _, l := range leaves[:from] {
			rng.Append(l, nil)
		}
		for to := from + 1; to <= 40; to++ {
			want, err := ConsistencyProof(leaves, from, to)
			if err != nil {
				t.Fatal(err)
			}
			got, err := consistencyFrom(rng.Hashes(), from, leaves[from:to])
			if err != nil {
				t.Fatalf("%d..%d: %v", from, to, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d..%d: %d hashes, want %d", from, to, len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("%d..%d: hash %d differs", from, to, i)
				}
			}
		}
	}
}
