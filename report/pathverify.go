package report

import (
	"errors"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// pathVerifier checks audit paths under one root.
type pathVerifier struct {
	size uint64
	root []byte
}

func newPathVerifier(size int64, root []byte) *pathVerifier {
	return &pathVerifier{size: uint64(size), root: root}
}

func (p *pathVerifier) verify(index int64, leaf []byte, path [][]byte) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(index), p.size, leaf, path, p.root); err != nil {
		return errors.New("its audit path does not lead to the signed root")
	}
	return nil
}
