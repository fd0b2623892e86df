package ledger

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Witness co-signs the checkpoints of other opsguard instances after
// checking that each extends the last one it holds, after the C2SP
// tlog-witness protocol:
//
//	POST /add-checkpoint
//	old <size the client believes the witness holds>
//	<consistency proof from that size, one base64 hash a line>
//	<empty line>
//	<the signed checkpoint note>
//
// answers 200 with the witness's signature line (a note Ed25519 signature
// of the checkpoint text, golang.org/x/mod/sumdb/note), or 409 Conflict
// whose body is the size it holds on the first line and the reason on the
// second, when old is not that size, the checkpoint is smaller, or the
// proof does not show it extends the one held. (tlog-witness answers 422
// for a bad proof and uses the timestamped cosignature/v1; this witness
// answers 409 for every refusal and signs with sumdb/note, which every
// opsguard verifies.) GET /checkpoint/{origin} answers the newest cosigned
// checkpoint of the log. The latest checkpoint of each origin is kept on
// disk, written atomically, so a restarted witness still refuses what it
// refused before.
type Witness struct {
	signer note.Signer
	logs   map[string]note.Verifier // by origin
	dir    string
	logger *slog.Logger
	mu     sync.Mutex // one check-and-store at a time
}

// NewWitness returns a witness signing with signer, for the logs whose
// public keys are given, keeping its state in dir.
func NewWitness(signer note.Signer, logs []note.Verifier, dir string, logger *slog.Logger) (*Witness, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Witness{signer: signer, logs: map[string]note.Verifier{}, dir: filepath.Join(dir, "checkpoints"), logger: logger}
	for _, v := range logs {
		w.logs[v.Name()] = v
	}
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		return nil, fmt.Errorf("witness state: %w", err)
	}
	return w, nil
}

// Handler serves the witness protocol.
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", w.add)
	mux.HandleFunc("GET /checkpoint/{origin...}", w.get)
	return mux
}

func (w *Witness) path(origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return filepath.Join(w.dir, hex.EncodeToString(sum[:])+".checkpoint")
}

// held returns the cosigned checkpoint kept for origin, nil when none.
func (w *Witness) held(origin string) ([]byte, error) {
	b, err := os.ReadFile(w.path(origin))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (w *Witness) get(rw http.ResponseWriter, r *http.Request) {
	origin := r.PathValue("origin")
	if _, ok := w.logs[origin]; !ok {
		http.Error(rw, "unknown log "+origin, http.StatusNotFound)
		return
	}
	b, err := w.held(origin)
	if err != nil {
		w.logger.Error("witness: read state", "origin", origin, "err", err)
		http.Error(rw, "cannot read the witness's state", http.StatusInternalServerError)
		return
	}
	if b == nil {
		http.Error(rw, "no checkpoint of "+origin+" yet", http.StatusNotFound)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Write(b)
}

// addRequest is a parsed add-checkpoint body.
type addRequest struct {
	old    int64
	hashes [][]byte
	note   []byte
}

func parseAdd(body []byte) (addRequest, error) {
	var req addRequest
	br := bufio.NewReader(bytes.NewReader(body))
	line, err := br.ReadString('\n')
	v, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "old ")
	if err != nil || !ok {
		return req, fmt.Errorf("line 1: want \"old <size>\"")
	}
	if req.old, err = strconv.ParseInt(v, 10, 64); err != nil || req.old < 0 {
		return req, fmt.Errorf("line 1: bad size %q", v)
	}
	for n := 2; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil {
			return req, fmt.Errorf("line %d: want a proof hash or an empty line", n)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			break
		}
		h, err := base64.StdEncoding.DecodeString(line)
		if err != nil || len(h) != 32 || len(req.hashes) >= 63 {
			return req, fmt.Errorf("line %d: bad proof hash", n)
		}
		req.hashes = append(req.hashes, h)
	}
	req.note, _ = io.ReadAll(br)
	return req, nil
}

func (w *Witness) add(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxWitnessBody))
	if err != nil {
		http.Error(rw, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	req, err := parseAdd(body)
	if err != nil {
		http.Error(rw, "add-checkpoint: "+err.Error(), http.StatusBadRequest)
		return
	}
	origin, _, _ := strings.Cut(string(req.note), "\n")
	v, ok := w.logs[origin]
	if !ok {
		http.Error(rw, "unknown log "+origin, http.StatusNotFound)
		return
	}
	_, size, root, err := OpenCheckpoint(req.note, v)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusForbidden)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	held, heldSize, reason, err := w.check(origin, v, req, size, root)
	if err != nil {
		w.logger.Error("witness: read state", "origin", origin, "err", err)
		http.Error(rw, "cannot read the witness's state", http.StatusInternalServerError)
		return
	}
	if reason != "" {
		w.logger.Warn("witness: refused", "origin", origin, "size", size, "held", heldSize, "reason", reason)
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n%s\n", heldSize, reason)
		return
	}
	cosig, full, err := w.cosign(req.note)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	if held == nil || heldSize < size {
		if err := writeFileAtomic(w.path(origin), full); err != nil {
			w.logger.Error("witness: store", "origin", origin, "err", err)
			http.Error(rw, "cannot store the checkpoint", http.StatusInternalServerError)
			return
		}
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Write(cosig)
}

// check returns why req may not be cosigned ("" when it may), with the
// checkpoint held and its size.
func (w *Witness) check(origin string, v note.Verifier, req addRequest, size int64, root []byte) (held []byte, heldSize int64, reason string, err error) {
	held, err = w.held(origin)
	if err != nil {
		return nil, 0, "", err
	}
	var heldRoot []byte
	if held != nil {
		if _, heldSize, heldRoot, err = OpenCheckpoint(held, v); err != nil {
			return nil, 0, "", fmt.Errorf("stored checkpoint: %w", err)
		}
	}
	switch {
	case req.old != heldSize:
		return held, heldSize, fmt.Sprintf("the witness holds size %d, not %d", heldSize, req.old), nil
	case size < heldSize:
		return held, heldSize, fmt.Sprintf("the checkpoint of size %d is smaller than the one of size %d already witnessed", size, heldSize), nil
	case heldSize == 0:
		return held, heldSize, "", nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(heldSize), uint64(size), req.hashes, heldRoot, root); err != nil {
		return held, heldSize, fmt.Sprintf("the checkpoint of size %d is not consistent with the one of size %d already witnessed: %v", size, heldSize, err), nil
	}
	return held, heldSize, "", nil
}

// cosign returns the witness's signature line for msg, and msg with it.
func (w *Witness) cosign(msg []byte) (sigLine, full []byte, err error) {
	text, _, ok := bytes.Cut(msg, []byte("\n\n"))
	if !ok {
		return nil, nil, fmt.Errorf("checkpoint note without signatures")
	}
	text = append(text, '\n')
	own, err := note.Sign(&note.Note{Text: string(text)}, w.signer)
	if err != nil {
		return nil, nil, fmt.Errorf("cosign: %w", err)
	}
	sigLine = own[len(text)+1:]
	full = append(bytes.TrimRight(append([]byte(nil), msg...), "\n"), '\n')
	return sigLine, append(full, sigLine...), nil
}
