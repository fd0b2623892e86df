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

// checkpointBody is the C2SP tlog-checkpoint text: origin, size, root.
func checkpointBody(origin string, size int64, root []byte) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root))
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
