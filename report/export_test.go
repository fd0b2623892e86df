package report

import (
	"crypto/sha256"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/opsguard/opsguard/ledger"
)

// CheckPaths is TestPathVerifierMatchesRFC's body (the verifier is
// unexported).
func CheckPaths(t *testing.T) {
	leaves := make([][]byte, 300)
	for i := range leaves {
		s := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		leaves[i] = s[:]
	}
	for _, size := range []int64{1, 2, 3, 7, 64, 65, 255, 300} {
		rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
		for _, l := range leaves[:size] {
			rng.Append(l, nil)
		}
		root, _ := rng.GetRootHash(nil)
		pv := newPathVerifier(size, root)
		for i := int64(0); i < size; i++ {
			path, err := ledger.InclusionProof(leaves, i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := pv.verify(i, leaves[i], path); err != nil {
				t.Fatalf("size %d leaf %d: %v", size, i, err)
			}
			for j := range path {
				bad := make([][]byte, len(path))
				copy(bad, path)
				bad[j] = append([]byte{path[j][0] ^ 1}, path[j][1:]...)
				if pv.verify(i, leaves[i], bad) == nil {
					t.Fatalf("size %d leaf %d: hash %d changed verifies", size, i, j)
				}
			}
			if i+1 < size && pv.verify(i, leaves[i+1], path) == nil {
				t.Fatalf("size %d leaf %d: another leaf verifies", size, i)
			}
		}
	}
}
