package ledger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// The instance's side of the witness protocol (see Witness): each new
// checkpoint is posted with a consistency proof from the size the witness
// holds, and the cosigned checkpoint it answers is kept in the file
// WitnessedPath beside the key.

// WitnessedPath is the file beside the key at keyPath holding the newest
// checkpoint with the witness's cosignature.
func WitnessedPath(keyPath string) string { return sibling(keyPath, "witnessed") }

// maxWitnessBody bounds what is read from a witness.
const maxWitnessBody = 64 << 10

// postWitness posts cp to the witness with the proof proofFrom gives from
// the size the witness holds, once more from the size it says it holds
// when that was not the one expected, and keeps the cosigned note.
// Failures are logged: the checkpoint is committed, and Republish retries.
func (l *Log) postWitness(ctx context.Context, cp Checkpoint, proofFrom func(old int64) ([][]byte, error)) {
	if l.witness == "" {
		return
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.witnessed < 0 {
		l.witnessed = l.readWitnessedSize()
	}
	if cp.Size <= l.witnessed {
		return
	}
	old := l.witnessed
	for try := 0; try < 2; try++ {
		hashes, err := proofFrom(old)
		if err != nil {
			l.logger.Error("witness: consistency proof", "from", old, "to", cp.Size, "err", err)
			return
		}
		cosig, held, err := l.addCheckpoint(ctx, old, hashes, cp.Note)
		switch {
		case err == nil:
			full := append(append([]byte(nil), cp.Note...), cosig...)
			if err := writeFileAtomic(WitnessedPath(l.key.Path), full); err != nil {
				l.logger.Error("witness: keep cosigned checkpoint", "size", cp.Size, "err", err)
			}
			l.witnessed = cp.Size
			return
		case held >= 0 && held != old && held <= cp.Size:
			old = held // the witness holds another size: prove from it
			continue
		case held > cp.Size:
			// Another replica posted a newer one first; whether this
			// ledger still contains it is verify's question.
			l.logger.Info("witness already holds a newer checkpoint", "witness_size", held, "size", cp.Size)
			l.witnessed = held
			return
		}
		l.logger.Error("witness refused the checkpoint", "size", cp.Size, "err", err)
		return
	}
}

// readWitnessedSize is the size of the cosigned checkpoint kept, 0 when none.
func (l *Log) readWitnessedSize() int64 {
	b, err := ReadCheckpointFile(WitnessedPath(l.key.Path))
	if err != nil || b == nil {
		return 0
	}
	_, size, _, err := OpenCheckpoint(b, l.key.Verifier)
	if err != nil {
		return 0
	}
	return size
}

// addCheckpoint sends one add-checkpoint request. It returns the
// cosignature lines, or the size the witness says it holds (-1 unknown).
func (l *Log) addCheckpoint(ctx context.Context, old int64, hashes [][]byte, msg []byte) ([]byte, int64, error) {
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", old)
	for _, h := range hashes {
		fmt.Fprintf(&body, "%s\n", base64.StdEncoding.EncodeToString(h))
	}
	body.WriteString("\n")
	body.Write(msg)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(l.witness, "/")+"/add-checkpoint", &body)
	if err != nil {
		return nil, -1, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, -1, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxWitnessBody))
	if err != nil {
		return nil, -1, err
	}
	if resp.StatusCode == http.StatusOK {
		return b, -1, nil
	}
	held := int64(-1)
	first, rest, _ := strings.Cut(string(b), "\n")
	if resp.StatusCode == http.StatusConflict {
		if n, err := strconv.ParseInt(strings.TrimSpace(first), 10, 64); err == nil {
			held = n
		}
	}
	return nil, held, fmt.Errorf("witness answered %s: %s", resp.Status, strings.TrimSpace(first+" "+rest))
}

// proof is the consistency proof between sizes from and to, read from the
// database through Options.Proofs.
func (l *Log) proof(ctx context.Context, from, to int64) ([][]byte, error) {
	if from == 0 || from == to {
		return nil, nil
	}
	if l.proofs == nil {
		return nil, fmt.Errorf("no database to prove %d..%d from", from, to)
	}
	return l.proofs(ctx, from, to)
}

// consistencyFrom is the consistency proof from the tree of size from,
// whose compact range is frontier, to that tree extended by leaves: every
// node of such a proof lies either in that compact range or among the new
// leaves.
func consistencyFrom(frontier [][]byte, from int64, leaves [][]byte) ([][]byte, error) {
	to := from + int64(len(leaves))
	if from == 0 || from == to {
		return nil, nil
	}
	nodes, err := proof.Consistency(uint64(from), uint64(to))
	if err != nil {
		return nil, err
	}
	known := map[compact.NodeID][]byte{}
	for i, id := range compact.RangeNodes(0, uint64(from), nil) {
		if i < len(frontier) {
			known[id] = frontier[i]
		}
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		begin, end := id.Coverage()
		switch h, ok := known[id]; {
		case ok:
			hashes[i] = h
		case begin >= uint64(from):
			hashes[i] = nodeHash(leaves[begin-uint64(from):end-uint64(from)], compact.NewNodeID(id.Level, 0))
		default:
			return nil, fmt.Errorf("consistency proof %d..%d: node %v is neither old nor new", from, to, id)
		}
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// FetchWitnessed asks the witness at base for the newest checkpoint of the
// log v names that it has cosigned, and checks the log's signature and,
// when wv is not nil, the witness's. It returns nil, nil when the witness
// has none.
func FetchWitnessed(ctx context.Context, client *http.Client, base string, v, wv note.Verifier) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	u := strings.TrimSuffix(base, "/") + "/checkpoint/" + url.PathEscape(v.Name())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxWitnessBody))
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("witness %s answered %s: %s", base, resp.Status, firstLine(b))
	}
	if _, _, _, err := OpenCheckpoint(b, v); err != nil {
		return nil, fmt.Errorf("witness %s: %w", base, err)
	}
	if wv != nil {
		if _, err := note.Open(b, note.VerifierList(wv)); err != nil {
			return nil, fmt.Errorf("witness %s: the checkpoint is not cosigned by the witness key %s", base, wv.Name())
		}
	}
	return b, nil
}

func firstLine(b []byte) string {
	s, _ := bufio.NewReader(bytes.NewReader(b)).ReadString('\n')
	return strings.TrimSpace(s)
}
