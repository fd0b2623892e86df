package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a signed statement of the tree of the first Size entries.
type Checkpoint struct {
	Size     int64     `json:"size"`
	Root     []byte    `json:"root_hash"`
	Note     []byte    `json:"note"`               // the signed note, C2SP tlog-checkpoint
	Frontier [][]byte  `json:"frontier,omitempty"` // compact range [0, Size); not signed
	Time     time.Time `json:"time"`
}

// checkpointBody is the C2SP tlog-checkpoint text: origin, size, root, and
// one extension line naming the size of the checkpoint signed before it
// ("prev <size>", 0 for the first). The links chain every checkpoint the
// log signed, so a checkpoint row deleted from the middle is a broken link
// (see Verify). Checkpoints signed before the link existed carry none.
func checkpointBody(origin string, size int64, root []byte, prev int64) string {
	return fmt.Sprintf("%s\n%d\n%s\nprev %d\n", origin, size, base64.StdEncoding.EncodeToString(root), prev)
}

// prevOf returns the size a checkpoint note links back to, -1 when it
// carries no link. The note must have been verified by the caller.
func prevOf(msg []byte) int64 {
	text, _, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		return -1
	}
	lines := strings.Split(string(text), "\n")
	for _, l := range lines[min(3, len(lines)):] {
		if v, ok := strings.CutPrefix(l, "prev "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				return n
			}
		}
	}
	return -1
}

// OpenCheckpoint verifies a signed checkpoint note with v and returns its
// origin, size and root. A note signed by any other key is refused.
func OpenCheckpoint(msg []byte, v note.Verifier) (origin string, size int64, root []byte, err error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var uerr *note.UnverifiedNoteError
		if errors.As(err, &uerr) {
			return "", 0, nil, fmt.Errorf("checkpoint is not signed by the ledger key %s", v.Name())
		}
		return "", 0, nil, fmt.Errorf("checkpoint: %w", err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return "", 0, nil, fmt.Errorf("checkpoint: want origin, size and root lines")
	}
	if lines[0] != v.Name() {
		return "", 0, nil, fmt.Errorf("checkpoint: origin %q is not the ledger's %q", lines[0], v.Name())
	}
	size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return "", 0, nil, fmt.Errorf("checkpoint: bad size %q", lines[1])
	}
	root, err = base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return "", 0, nil, fmt.Errorf("checkpoint: bad root hash %q", lines[2])
	}
	return lines[0], size, root, nil
}

// parseVerified opens c.Note and checks that it states c.Size and c.Root.
func (c Checkpoint) verify(v note.Verifier) error {
	_, size, root, err := OpenCheckpoint(c.Note, v)
	if err != nil {
		return err
	}
	if size != c.Size || !bytes.Equal(root, c.Root) {
		return fmt.Errorf("stored size %d and root do not match the signed note (size %d)", c.Size, size)
	}
	return nil
}
