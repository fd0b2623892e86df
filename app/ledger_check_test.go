package app_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

func lg3(t *testing.T, a *app.App) control.Result {
	t.Helper()
	run, err := a.Controls.Run(ctx, "t", "manual")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range run.Results {
		if r.ControlID == "LG-3.ledger-verifies" {
			return r
		}
	}
	t.Fatal("no LG-3.ledger-verifies result")
	return control.Result{}
}

func ledgerRows(t *testing.T, a *app.App) int64 {
	t.Helper()
	var n int64
	if err := a.DB.View(ctx, func(tx *store.Tx) error { var err error; n, err = tx.LedgerSize(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	return n
}

// Without a witness LG-3 passes but says plainly what it cannot see.
func TestLG3WithoutWitnessSaysSo(t *testing.T) {
	a, _, err := app.Init(ctx, testConfig(t, ""), "admin", "correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r := lg3(t, a)
	if r.Status != control.Pass || !strings.Contains(r.Summary, "No witness is configured") || !strings.Contains(r.Summary, "an auditor's last bundle") {
		t.Errorf("LG-3 without a witness: %s %q", r.Status, r.Summary)
	}
}

// With a witness, a tail cut off with its checkpoints, the checkpoint
// file rewritten to the cut and the verified state removed (all an
// attacker on the host can do) still fails LG-3: the witness remembers.
func TestLG3WithWitnessCatchesCutTail(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			var h http.Handler = http.NotFoundHandler()
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				hh := h
				mu.Unlock()
				hh.ServeHTTP(w, r)
			}))
			defer srv.Close()
			cfg := testConfig(t, b.DSN(t))
			cfg.Ledger.WitnessURL = srv.URL
			skey, vkey, _ := note.GenerateKey(rand.Reader, "witness.test")
			signer, _ := note.NewSigner(skey)
			cfg.Ledger.WitnessPublicKey = vkey
			// The key exists once the instance is initialised; the witness
			// starts then, and learns the log from its next checkpoint.
			key, err := ledger.CreateKey(cfg.KeyFile())
			if err != nil {
				t.Fatal(err)
			}
			w, err := ledger.NewWitness(signer, []note.Verifier{key.Verifier}, t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			h = w.Handler()
			mu.Unlock()
			a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", cheap)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			cut := ledgerRows(t, a)
			for _, n := range []string{"u1", "u2"} {
				if _, err := a.Auth.CreateUser(ctx, auth.CLI("t"), auth.NewUser{Username: n, Role: auth.Engineer, Password: "correct horse battery"}); err != nil {
					t.Fatal(err)
				}
			}
			if r := lg3(t, a); r.Status != control.Pass || !strings.Contains(r.Summary, "the witness cosigned") {
				t.Fatalf("before the cut: %s %q", r.Status, r.Summary)
			}
			storetest.Exec(t, a.DB, "DELETE FROM ledger_entries WHERE seq > ?", cut)
			storetest.Exec(t, a.DB, "DELETE FROM ledger_checkpoints WHERE size > ?", cut)
			var note []byte
			a.DB.View(ctx, func(tx *store.Tx) error { cp, err := tx.Checkpoint(ctx, cut); note = cp.Note; return err })
			os.WriteFile(a.Log.Key().CheckpointPath(), note, 0o644)
			os.Remove(ledger.VerifiedPath(a.Log.Key().Path))
			rep, err := a.VerifyLedger(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "the checkpoint the witness cosigned covers") {
				t.Errorf("cut tail with a witness: %+v", rep)
			}
		})
	}
}

// A server started on a tampered ledger refuses every write (the services
// get the ledger's error, no row is added), says why, and queues a
// ledger.tampered notice.
func TestLedgerCheckedAtStart(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			var mu sync.Mutex
			var kinds []string
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var m struct {
					Kind string `json:"kind"`
				}
				json.NewDecoder(r.Body).Decode(&m)
				mu.Lock()
				kinds = append(kinds, m.Kind)
				mu.Unlock()
			}))
			defer hook.Close()
			cfg := testConfig(t, b.DSN(t))
			secret := filepath.Join(t.TempDir(), "hook.secret")
			os.WriteFile(secret, []byte("s"), 0o600)
			cfg.Notifications = config.Notifications{
				Channels: []config.Channel{{Name: "iso", Type: "webhook", URL: hook.URL, SecretFile: secret}},
				Routes:   map[string][]string{"ledger.tampered": {"iso"}},
			}
			a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", cheap)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if err := a.CheckLedgerAtStart(ctx); err != nil || a.LedgerFailed() != nil {
				t.Fatalf("untouched ledger at start: %v %v", err, a.LedgerFailed())
			}
			storetest.Exec(t, a.DB, "UPDATE ledger_entries SET payload = '{\"x\":1}' WHERE seq = 1")
			// Nothing appended since the last check: the start check reads
			// only what is new, so remove its state as a restore would.
			os.Remove(ledger.VerifiedPath(a.Log.Key().Path))
			if err := a.CheckLedgerAtStart(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a.LedgerFailed(); err == nil || !strings.Contains(err.Error(), "entry 1") {
				t.Fatalf("failed ledger at start: %v", err)
			}
			before := ledgerRows(t, a)
			_, err = a.Auth.CreateUser(ctx, auth.CLI("t"), auth.NewUser{Username: "late", Role: auth.Engineer, Password: "correct horse battery"})
			if opsguard.ErrorCode(err) != opsguard.EConflict || !strings.Contains(err.Error(), "failed verification") {
				t.Errorf("write on a failed ledger: %v", err)
			}
			if after := ledgerRows(t, a); after != before {
				t.Errorf("ledger rows %d -> %d on a failed ledger", before, after)
			}
			if _, err := a.DeliverNotifications(ctx); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(kinds) != 1 || kinds[0] != "ledger.tampered" {
				t.Errorf("notices sent: %v, want one ledger.tampered", kinds)
			}
		})
	}
}

// A witness that does not answer at start is logged, not taken for a
// tampered ledger; LG-3 reports it.
func TestUnreachableWitnessAtStart(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	cfg := testConfig(t, "")
	cfg.Ledger.WitnessURL = down.URL
	a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CheckLedgerAtStart(ctx); err != nil || a.LedgerFailed() != nil {
		t.Fatalf("start with the witness down: %v %v", err, a.LedgerFailed())
	}
	if r := lg3(t, a); r.Status != control.Fail || !strings.Contains(r.Summary, "witness") {
		t.Errorf("LG-3 with the witness down: %s %q", r.Status, r.Summary)
	}
}
