package report

import (
	"bytes"
	"crypto/sha256"
	"errors"
)

// pathVerifier checks the audit paths of many entries under one root in
// order, each at the cost of a few hashes rather than a whole path: once
// the node a path has climbed to is a node of a path verified before, at
// the same place and with the same hash, and the rest of the path is that
// path's rest, the entry is proved (RFC 9162 section 2.1.3.2, memoised).
type pathVerifier struct {
	size uint64
	root [32]byte
	// memo, by level: the node of the last verified path at that level
	// (its index, its hash) and the hashes of that path above it.
	memo []memoNode
	buf  [65]byte
}

type memoNode struct {
	ok   bool
	idx  uint64
	hash [32]byte
	rest [][]byte
}

var errPath = errors.New("its audit path does not lead to the signed root")

func newPathVerifier(size int64, root []byte) *pathVerifier {
	p := &pathVerifier{size: uint64(size), memo: make([]memoNode, 65)}
	copy(p.root[:], root)
	return p
}

func (p *pathVerifier) children(l, r []byte) [32]byte {
	p.buf[0] = 1
	copy(p.buf[1:33], l)
	copy(p.buf[33:], r)
	return sha256.Sum256(p.buf[:])
}

type step struct {
	level, idx uint64
	hash       [32]byte
	at         int // hashes of the path used
}

// verify checks that leaf is leaf index of the tree under the root.
func (p *pathVerifier) verify(index int64, leaf []byte, path [][]byte) error {
	if index < 0 || uint64(index) >= p.size || len(leaf) != 32 || len(path) > 64 {
		return errPath
	}
	fn, sn := uint64(index), p.size-1
	var r [32]byte
	copy(r[:], leaf)
	var steps [64]step
	n, level := 0, uint64(0)
	for i, h := range path {
		if sn == 0 || len(h) != 32 {
			return errPath
		}
		if fn&1 == 1 || fn == sn {
			r = p.children(h, r[:])
			for fn&1 == 0 && fn != 0 {
				fn, sn, level = fn>>1, sn>>1, level+1
			}
		} else {
			r = p.children(r[:], h)
		}
		fn, sn, level = fn>>1, sn>>1, level+1
		steps[n] = step{level, fn, r, i + 1}
		n++
		if m := p.memo[level]; m.ok && m.idx == fn && m.hash == r && sameHashes(m.rest, path[i+1:]) {
			p.remember(steps[:n], path)
			return nil
		}
	}
	if sn != 0 || r != p.root {
		return errPath
	}
	p.remember(steps[:n], path)
	return nil
}

// remember keeps the steps of a verified path (one copy of the path,
// whose suffixes the steps share).
func (p *pathVerifier) remember(steps []step, path [][]byte) {
	kept := append([][]byte(nil), path...)
	for _, s := range steps {
		p.memo[s.level] = memoNode{ok: true, idx: s.idx, hash: s.hash, rest: kept[s.at:]}
	}
}

func sameHashes(a, b [][]byte) bool {
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
