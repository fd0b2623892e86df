package ledger_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// startWitness runs a witness of the logs of keys on 127.0.0.1 and
// returns its URL and its public key.
func startWitness(t *testing.T, dir string, keys ...*ledger.Key) (string, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "witness.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	wv, _ := note.NewVerifier(vkey)
	var logs []note.Verifier
	for _, k := range keys {
		logs = append(logs, k.Verifier)
	}
	w, err := ledger.NewWitness(signer, logs, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, wv
}

// witnessedLog is a Log posting to the witness at url, proving from db.
func witnessedLog(t *testing.T, key *ledger.Key, db *store.DB, url string) *ledger.Log {
	return ledger.New(key, ledger.Options{WitnessURL: url, Proofs: func(_ context.Context, from, to int64) ([][]byte, error) {
		var p [][]byte
		err := db.View(ctx, func(tx *store.Tx) error {
			leaves, err := tx.LeafHashes(ctx, to)
			if err != nil {
				return err
			}
			p, err = ledger.ConsistencyProof(leaves, from, to)
			return err
		})
		return p, err
	}})
}

func addCheckpoint(t *testing.T, url string, old int64, proof [][]byte, msg []byte) (int, string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		fmt.Fprintf(&b, "%s\n", base64.StdEncoding.EncodeToString(h))
	}
	b.WriteString("\n")
	b.Write(msg)
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The witness cosigns each checkpoint that extends the one it holds, and
// refuses (409, with its size and the reason) one smaller or inconsistent
// with it, also after a restart.
func TestWitness(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		key, _ := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
		wdir := t.TempDir()
		url, wv := startWitness(t, wdir, key)
		l := witnessedLog(t, key, db, url)
		appendN(t, db, l, 5, 5)
		appendN(t, db, l, 3, 1)
		got, err := ledger.FetchWitnessed(ctx, nil, url, key.Verifier, wv)
		if err != nil {
			t.Fatal(err)
		}
		if _, size, _, _ := ledger.OpenCheckpoint(got, key.Verifier); size != 8 {
			t.Fatalf("witnessed size %d, want 8", size)
		}
		kept, _ := os.ReadFile(ledger.WitnessedPath(key.Path))
		if _, err := note.Open(kept, note.VerifierList(wv)); err != nil {
			t.Errorf("the cosigned checkpoint kept beside the key: %v", err)
		}

		// Another witness, restarted on the same state, still holds 8.
		url, wv = startWitness(t, wdir, key)
		small := checkpointNote(t, db, 5)
		if st, body := addCheckpoint(t, url, 8, nil, small); st != http.StatusConflict || !strings.HasPrefix(body, "8\n") || !strings.Contains(body, "smaller") {
			t.Errorf("smaller checkpoint: %d %q", st, body)
		}
		if st, body := addCheckpoint(t, url, 5, nil, small); st != http.StatusConflict || !strings.HasPrefix(body, "8\n") {
			t.Errorf("stale old size: %d %q", st, body)
		}
		// A fork: the same key signs a different tree of 9 entries.
		db2 := storetest.Open(t, filepath.Join(t.TempDir(), "fork.db"))
		fork := ledger.New(key, ledger.Options{})
		appendN(t, db2, fork, 9, 9)
		var leaves [][]byte
		db2.View(ctx, func(tx *store.Tx) error { var err error; leaves, err = tx.LeafHashes(ctx, 9); return err })
		p, _ := ledger.ConsistencyProof(leaves, 8, 9)
		if st, body := addCheckpoint(t, url, 8, p, checkpointNote(t, db2, 9)); st != http.StatusConflict || !strings.Contains(body, "not consistent") {
			t.Errorf("inconsistent checkpoint: %d %q", st, body)
		}
		// A consistent larger one is cosigned (written by a log that does
		// not post it itself).
		appendN(t, db, ledger.New(key, ledger.Options{}), 2, 2)
		var leaves1 [][]byte
		db.View(ctx, func(tx *store.Tx) error { var err error; leaves1, err = tx.LeafHashes(ctx, 10); return err })
		p, _ = ledger.ConsistencyProof(leaves1, 8, 10)
		st, body := addCheckpoint(t, url, 8, p, checkpointNote(t, db, 10))
		if st != http.StatusOK {
			t.Fatalf("consistent checkpoint: %d %q", st, body)
		}
		if _, err := note.Open(append(checkpointNote(t, db, 10), body...), note.VerifierList(wv)); err != nil {
			t.Errorf("cosignature: %v (%q)", err, body)
		}
	})
}

// A tail cut below the size the witness holds fails verification even
// when the checkpoint file is put back at the cut.
func TestWitnessCatchesCutTail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		key, _ := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
		url, wv := startWitness(t, t.TempDir(), key)
		l := witnessedLog(t, key, db, url)
		appendN(t, db, l, 12, 3)
		cutTail(t, db, 6)
		writeFile(t, key.CheckpointPath(), checkpointNote(t, db, 6))
		if rep := liveVerify(t, db, l, ledger.VerifyOptions{}); !rep.OK() {
			t.Fatalf("without the witness the cut is not visible, yet: %v", rep.Problems)
		}
		w, err := ledger.FetchWitnessed(ctx, nil, url, key.Verifier, wv)
		if err != nil {
			t.Fatal(err)
		}
		rep := liveVerify(t, db, l, ledger.VerifyOptions{Witnessed: w})
		if rep.OK() || rep.Witnessed != 12 || !strings.Contains(strings.Join(rep.Problems, "\n"), "the checkpoint the witness cosigned covers 12 entries but the ledger holds 6") {
			t.Errorf("cut tail against the witness: %+v", rep)
		}
	})
}
