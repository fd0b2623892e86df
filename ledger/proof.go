package ledger

import (
	"bytes"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// InclusionProof returns the audit path of leaf index in the tree of the
// first size leaves.
func InclusionProof(leaves [][]byte, index, size int64) ([][]byte, error) {
	if index < 0 || index >= size || size > int64(len(leaves)) {
		return nil, fmt.Errorf("inclusion proof: leaf %d is not in a tree of %d (ledger holds %d)", index, size, len(leaves))
	}
	nodes, err := proof.Inclusion(uint64(index), uint64(size))
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	return rehash(leaves, nodes)
}

// ConsistencyProof proves that the tree of size1 leaves is a prefix of the
// tree of size2 leaves.
func ConsistencyProof(leaves [][]byte, size1, size2 int64) ([][]byte, error) {
	if size1 < 0 || size1 > size2 || size2 > int64(len(leaves)) {
		return nil, fmt.Errorf("consistency proof: sizes %d and %d are not within a ledger of %d", size1, size2, len(leaves))
	}
	nodes, err := proof.Consistency(uint64(size1), uint64(size2))
	if err != nil {
		return nil, fmt.Errorf("consistency proof: %w", err)
	}
	return rehash(leaves, nodes)
}

func rehash(leaves [][]byte, nodes proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		hashes[i] = nodeHash(leaves, id)
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// nodeHash is the hash of the perfect subtree id.
func nodeHash(leaves [][]byte, id compact.NodeID) []byte {
	if id.Level == 0 {
		return leaves[id.Index]
	}
	l := nodeHash(leaves, compact.NewNodeID(id.Level-1, id.Index*2))
	r := nodeHash(leaves, compact.NewNodeID(id.Level-1, id.Index*2+1))
	return rfc6962.DefaultHasher.HashChildren(l, r)
}

// VerifyInclusion checks, with the public key alone, that e is entry e.Seq of
// the log whose signed checkpoint is cpNote.
func VerifyInclusion(v note.Verifier, cpNote []byte, e *Entry, path [][]byte) error {
	_, size, root, err := OpenCheckpoint(cpNote, v)
	if err != nil {
		return err
	}
	if !bytes.Equal(PayloadHashOf(e.Payload), e.PayloadHash) {
		return fmt.Errorf("entry %d: payload does not match its hash", e.Seq)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(e.Seq-1), uint64(size), e.ComputeLeafHash(), path, root); err != nil {
		return fmt.Errorf("entry %d is not in the checkpoint of size %d: %w", e.Seq, size, err)
	}
	return nil
}

// VerifyConsistency checks, with the public key alone, that the checkpoint
// note cp2 extends cp1.
func VerifyConsistency(v note.Verifier, cp1, cp2 []byte, path [][]byte) error {
	_, size1, root1, err := OpenCheckpoint(cp1, v)
	if err != nil {
		return fmt.Errorf("first checkpoint: %w", err)
	}
	_, size2, root2, err := OpenCheckpoint(cp2, v)
	if err != nil {
		return fmt.Errorf("second checkpoint: %w", err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(size1), uint64(size2), path, root1, root2); err != nil {
		return fmt.Errorf("checkpoint %d is not a prefix of checkpoint %d: %w", size1, size2, err)
	}
	return nil
}
