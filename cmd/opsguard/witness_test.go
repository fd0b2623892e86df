package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

var ctx = context.Background()

func ledgerCount(t *testing.T, db *store.DB) int64 {
	t.Helper()
	var n int64
	if err := db.View(ctx, func(tx *store.Tx) error { var err error; n, err = tx.LedgerSize(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	return n
}

// startWitness runs `opsguard witness serve` for the instance whose public
// key is pub, on 127.0.0.1.
func startWitness(t *testing.T, pub, dir string) string {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary(t), "witness", "serve", "--listen", addr, "--data-dir", dir, "--origin-key", pub)
	cmd.Env = environ()
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	base := "http://" + addr
	waitFor(t, 15*time.Second, "the witness answers", func() bool {
		resp, err := http.Get(base + "/checkpoint/none")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && strings.Contains(out.String(), "Witness public key: ")
	})
	return base
}

// A tail cut off an instance's ledger, with its checkpoints, the file
// beside the key rewritten to the cut and the verified state removed, is
// caught by `ledger verify --witness`; and a server started on it is not
// ready (503 with the reason) and writes nothing.
func TestBinaryWitnessCatchesCutTail(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	adminPW := randomPassword(t)
	env := []string{"OPSGUARD_DATA_DIR=" + data}
	mustRun(t, env, "", "init", "--password", adminPW)
	witness := startWitness(t, filepath.Join(data, "ledger.pub"), filepath.Join(dir, "witness"))
	cfgFile := filepath.Join(dir, "opsguard.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("ledger:\n  witness_url: %s\n", witness)), 0o600)
	withWitness := append(env, "OPSGUARD_CONFIG="+cfgFile)

	db := storetest.Open(t, filepath.Join(data, "opsguard.db"))
	cut := ledgerCount(t, db)
	for _, u := range []string{"bob", "carol"} {
		mustRun(t, append(withWitness, "OPSGUARD_USER_PASSWORD="+randomPassword(t)), "", "user", "add", u, "--role", "engineer")
	}
	if r := mustRun(t, env, "", "ledger", "verify", "--witness", witness); !strings.Contains(r.stdout, "OK") {
		t.Fatalf("ledger verify --witness before the cut:\n%s", r)
	}

	storetest.Exec(t, db, "DELETE FROM ledger_entries WHERE seq > ?", cut)
	storetest.Exec(t, db, "DELETE FROM ledger_checkpoints WHERE size > ?", cut)
	var cp ledger.Checkpoint
	if err := db.View(ctx, func(tx *store.Tx) error { var err error; cp, err = tx.Checkpoint(ctx, cut); return err }); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(data, "ledger.checkpoint"), cp.Note, 0o644)
	os.Remove(filepath.Join(data, "ledger.verified"))
	if r := run(t, env, "", "ledger", "verify"); r.code != 0 {
		t.Fatalf("without the witness, the cut is invisible here; verify:\n%s", r)
	}
	r := run(t, env, "", "ledger", "verify", "--witness", witness)
	if r.code != 1 || !strings.Contains(r.stdout, "the witness cosigned covers") || !strings.Contains(r.stdout, "cut off") {
		t.Errorf("ledger verify --witness after the cut:\n%s", r)
	}

	addr := freeAddr(t)
	startServer(t, append(withWitness, "OPSGUARD_LISTEN="+addr), addr)
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "the ledger failed verification") || !strings.Contains(string(body), "witness") {
		t.Errorf("/readyz on a cut ledger: %d %s", resp.StatusCode, body)
	}
	before := ledgerCount(t, db)
	resp, err = http.Post("http://"+addr+"/api/v1/session", "application/json", strings.NewReader(`{"username":"admin","password":"`+adminPW+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 400 || !strings.Contains(string(body), "failed verification") {
		t.Errorf("a write (sign-in) on a cut ledger: %d %s", resp.StatusCode, body)
	}
	if after := ledgerCount(t, db); after != before {
		t.Errorf("ledger entries %d -> %d on a ledger that failed verification", before, after)
	}
}
