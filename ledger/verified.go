package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

// Verified is the state at which a verification last passed: the newest
// checkpoint then, and the compact range of its tree. It is kept outside
// the database, beside the checkpoint file (VerifiedPath), so the server
// checks at start only what was written since, and a tail cut below it is
// caught even when the checkpoint file was replaced by an older note.
// Nothing in it is trusted beyond what the signed note proves: the range
// must hash to the note's root.
type Verified struct {
	Size     int64    `json:"size"`
	Root     []byte   `json:"root_hash"`
	Note     string   `json:"note"`
	Frontier [][]byte `json:"frontier"`
}

// VerifiedPath is the file beside the key at keyPath holding the state the
// last verification passed at.
func VerifiedPath(keyPath string) string { return sibling(keyPath, "verified") }

// maxVerifiedFile bounds the file: a note and at most 64 hashes.
const maxVerifiedFile = 64 << 10

// ReadVerified returns the state kept at path, nil when there is none.
func ReadVerified(path string, v note.Verifier) (*Verified, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxVerifiedFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxVerifiedFile)
	}
	var s Verified
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := s.open(v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// WriteVerified keeps s at path, replacing what was there atomically.
func WriteVerified(path string, s *Verified) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// open checks s against its signed note and returns its compact range.
func (s *Verified) open(v note.Verifier) (*compact.Range, error) {
	_, size, root, err := OpenCheckpoint([]byte(s.Note), v)
	if err != nil {
		return nil, fmt.Errorf("the state verified before: %w", err)
	}
	if size != s.Size || !bytes.Equal(root, s.Root) {
		return nil, fmt.Errorf("the state verified before does not match its signed note")
	}
	rng, err := frontierRange(size, s.Frontier, root)
	if err != nil {
		return nil, fmt.Errorf("the state verified before: its range does not match its signed root")
	}
	return rng, nil
}
