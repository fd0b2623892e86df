package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

var ctx = context.Background()

var cheap = app.Options{Argon2: auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}}

func testConfig(t testing.TB, dsn string) config.Config {
	cfg := config.Default()
	cfg.Server.DataDir = t.TempDir()
	if config.IsPostgresURL(dsn) {
		cfg.Server.Database = dsn
	}
	return cfg
}

func TestInitIsIdempotent(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			cfg := testConfig(t, b.DSN(t))
			a, res, err := app.Init(ctx, cfg, "", "", cheap)
			if err != nil {
				t.Fatal(err)
			}
			if !res.KeyCreated || !res.AdminCreated || res.AdminUsername != "admin" || len(res.AdminPassword) < 20 || !strings.HasPrefix(res.PublicKey, "opsguard/") {
				t.Fatalf("first init: %+v", res)
			}
			if _, _, err := a.Auth.SignIn(ctx, "admin", res.AdminPassword, "127.0.0.1"); err != nil {
				t.Errorf("generated password does not sign in: %v", err)
			}
			a.Close()
			if fi, err := os.Stat(cfg.KeyFile()); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode: %v %v", fi.Mode(), err)
			}
			a, res2, err := app.Init(ctx, cfg, "", "", cheap)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			if res2.KeyCreated || res2.AdminCreated || res2.PublicKey != res.PublicKey {
				t.Errorf("second init changed something: %+v", res2)
			}
		})
	}
}

func TestExportVerifiesOfflineAndCatchesEdits(t *testing.T) {
	cfg := testConfig(t, "")
	a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cli := auth.CLI("t")
	for _, n := range []string{"alice", "bob", "carol"} {
		a.Auth.CreateUser(ctx, cli, auth.NewUser{Username: n, Role: auth.Engineer, Password: "correct horse battery"})
	}
	x, err := a.ExportLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(x)
	var back ledger.Export
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	rep, err := back.Verify(ctx, a.Log.Key().Public)
	if err != nil || !rep.OK() || rep.Entries != 8 { // four users, each sealed by a ledger.rows entry
		t.Fatalf("export: %+v %v", rep, err)
	}
	back.Entries[2].Actor = "mallory"
	if rep, _ := back.Verify(ctx, a.Log.Key().Public); rep.OK() || rep.FirstBadSeq != 3 {
		t.Errorf("edited export verified: %+v", rep)
	}
	// Another key's export is refused when the trusted key is given.
	other := testConfig(t, "")
	o, _, _ := app.Init(ctx, other, "admin", "correct horse battery", cheap)
	defer o.Close()
	ox, _ := o.ExportLedger(ctx)
	if rep, _ := ox.Verify(ctx, a.Log.Key().Public); rep.OK() {
		t.Error("an export signed by another key verified against ours")
	}
}

func TestOpenWithoutInit(t *testing.T) {
	cfg := testConfig(t, "")
	if _, err := app.Open(ctx, cfg, cheap); err == nil || !strings.Contains(err.Error(), "opsguard init") {
		t.Errorf("open of an empty data dir: %v", err)
	}
}

// A control that starts failing, or recovers, is notified once per change.
func TestControlChangesAreNotified(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Kind    string `json:"kind"`
			Subject string `json:"subject"`
		}
		json.NewDecoder(r.Body).Decode(&m)
		if m.Subject != "control/GV-4.roles-assigned" {
			return // other controls fail on an empty install too; follow one
		}
		mu.Lock()
		got = append(got, m.Kind+" "+m.Subject)
		mu.Unlock()
	}))
	defer srv.Close()
	cfg := testConfig(t, "")
	secret := filepath.Join(t.TempDir(), "hook.secret")
	os.WriteFile(secret, []byte("s"), 0o600)
	cfg.Notifications = config.Notifications{
		Channels: []config.Channel{{Name: "iso", Type: "webhook", URL: srv.URL, SecretFile: secret}},
		Routes:   map[string][]string{"control.failed": {"iso"}, "control.recovered": {"iso"}},
	}
	a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	wait := func() []string {
		if _, err := a.DeliverNotifications(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	a.Controls.Run(ctx, "test", "manual")
	if n := wait(); len(n) != 1 || n[0] != "control.failed control/GV-4.roles-assigned" {
		t.Fatalf("first run: %v", n)
	}
	a.Controls.Run(ctx, "test", "manual")
	if n := wait(); len(n) != 0 {
		t.Fatalf("an unchanged failure was notified again: %v", n)
	}
	for _, r := range []auth.Role{auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer} {
		a.Auth.CreateUser(ctx, auth.CLI("t"), auth.NewUser{Username: strings.ReplaceAll(string(r), "_", "-"), Role: r, Password: "correct horse battery"})
	}
	a.Controls.Run(ctx, "test", "manual")
	if n := wait(); len(n) != 1 || n[0] != "control.recovered control/GV-4.roles-assigned" {
		t.Fatalf("after assigning the roles: %v", n)
	}
}

// Cutting the tail of the ledger together with its checkpoints is caught
// by both LG-3 controls, thanks to the checkpoint kept beside the key.
func TestTruncatedLedgerFailsLG3(t *testing.T) {
	cfg := testConfig(t, "")
	a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, n := range []string{"u1", "u2", "u3"} {
		a.Auth.CreateUser(ctx, auth.CLI("t"), auth.NewUser{Username: n, Role: auth.Engineer, Password: "correct horse battery"})
	}
	run, _ := a.Controls.Run(ctx, "t", "manual")
	status := func(r control.Run) map[string]control.Result {
		m := map[string]control.Result{}
		for _, x := range r.Results {
			m[x.ControlID] = x
		}
		return m
	}
	if s := status(run); s["LG-3.checkpoint-published"].Status != control.Pass || s["LG-3.ledger-verifies"].Status != control.Pass {
		t.Fatalf("before: %+v", s)
	}
	// Cut everything after entry 2, checkpoints included.
	storetest.Exec(t, a.DB, "DELETE FROM ledger_entries WHERE seq > 2")
	storetest.Exec(t, a.DB, "DELETE FROM ledger_checkpoints WHERE size > 2")
	storetest.Exec(t, a.DB, "DELETE FROM control_results")
	storetest.Exec(t, a.DB, "DELETE FROM control_runs")
	// The run itself appends entry 3 again; both controls still see the cut.
	run, _ = a.Controls.Run(ctx, "t", "manual")
	s := status(run)
	if r := s["LG-3.checkpoint-published"]; r.Status != control.Fail || !strings.Contains(r.Summary, "cut off") {
		t.Errorf("checkpoint-published: %+v", r)
	}
	if r := s["LG-3.ledger-verifies"]; r.Status != control.Fail {
		t.Errorf("ledger-verifies: %+v", r)
	}
}

// Escalation sends exactly one notification per breach to a real loopback
// receiver, a digest per owner, and reminds only after the interval.
func TestEscalationNotifiesOncePerBreach(t *testing.T) {
	var mu sync.Mutex
	kinds := map[string]int{}
	var digests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Kind string         `json:"kind"`
			Data map[string]any `json:"data"`
			To   []string       `json:"to"`
		}
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		kinds[m.Kind]++
		if m.Kind == "vuln.breach_digest" {
			digests = append(digests, fmt.Sprintf("%v %v %v", m.Data["owner"], m.Data["assets"], m.To))
		}
		mu.Unlock()
	}))
	defer srv.Close()
	cfg := testConfig(t, "")
	secret := filepath.Join(t.TempDir(), "s")
	os.WriteFile(secret, []byte("s"), 0o600)
	cfg.Notifications = config.Notifications{
		Channels: []config.Channel{{Name: "iso", Type: "webhook", URL: srv.URL, SecretFile: secret}},
		Routes:   map[string][]string{"vuln.sla_breached": {"iso"}, "vuln.breach_digest": {"iso"}},
	}
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	opts := cheap
	opts.Now = func() time.Time { return now }
	a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, report := range []string{"PT-1,Weak TLS,critical,shop\nPT-2,Verbose errors,low,shop\n", "PT-3,Open admin,critical,blog\n", "PT-4,Old TLS,critical,wiki\n"} {
		if _, err := a.Vuln.Import(ctx, "t", vuln.ImportRequest{File: "pt.csv", Data: []byte("id,title,severity,asset\n" + report)}); err != nil {
			t.Fatal(err)
		}
	}
	// shop and blog belong to Olga: one digest for her two assets, sent to
	// her address too; wiki belongs to nobody.
	if _, err := a.Auth.CreateUser(ctx, auth.CLI("t"), auth.NewUser{Username: "olga", Email: "olga@example.com", Role: auth.Engineer, Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	for _, asset := range []string{"shop", "blog"} {
		if _, err := a.Vuln.SetOwner(ctx, "t", asset, "olga"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Vuln.SetOwner(ctx, "t", "nope", "olga"); opsguard.ErrorCode(err) != opsguard.ENotFound {
		t.Errorf("owner of an unknown asset: %v", err)
	}
	round := func() (vuln.EscalationSummary, map[string]int) {
		mu.Lock()
		for k := range kinds {
			delete(kinds, k)
		}
		mu.Unlock()
		s, err := a.Escalate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.DeliverNotifications(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range kinds {
			out[k] = v
		}
		return s, out
	}
	if s, got := round(); s.Breached != 0 || len(got) != 0 {
		t.Fatalf("before any breach: %+v %v", s, got)
	}
	now = now.AddDate(0, 0, 8) // the critical ones (7 days) are late
	if s, got := round(); s.Escalated != 3 || got["vuln.sla_breached"] != 3 || got["vuln.breach_digest"] != 2 || s.Digests != 2 || s.Assets != 3 {
		t.Fatalf("first breach: %+v %v", s, got)
	}
	mu.Lock()
	slices.Sort(digests)
	if want := []string{" [wiki] []", "olga [blog shop] [olga@example.com]"}; !slices.Equal(digests, want) {
		t.Errorf("digests = %q, want %q", digests, want)
	}
	mu.Unlock()
	now = now.Add(time.Hour)
	if s, got := round(); s.Breached != 3 || s.Escalated != 0 || len(got) != 0 {
		t.Fatalf("an hour later: %+v %v", s, got)
	}
	now = now.AddDate(0, 0, 7) // the reminder interval has passed
	if s, got := round(); s.Escalated != 3 || got["vuln.sla_breached"] != 3 {
		t.Fatalf("reminder: %+v %v", s, got)
	}
	es, _ := a.Entries(ctx, ledger.EntryFilter{Kind: "finding.escalated"})
	if len(es) != 6 {
		t.Errorf("ledgered escalations = %d, want 6", len(es))
	}
	if es, _ := a.Entries(ctx, ledger.EntryFilter{Kind: "asset.owner_set"}); len(es) != 2 {
		t.Errorf("ledgered owner changes = %d, want 2", len(es))
	}
}

// A password reset is told to the user, at their e-mail address, through
// the channels routed for auth.password_reset.
func TestPasswordResetIsNotified(t *testing.T) {
	var mu sync.Mutex
	var got []notify.Message
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Kind    string   `json:"kind"`
			Subject string   `json:"subject"`
			Summary string   `json:"summary"`
			To      []string `json:"to"`
		}
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got = append(got, notify.Message{Kind: m.Kind, Subject: m.Subject, Summary: m.Summary, To: m.To})
		mu.Unlock()
	}))
	defer srv.Close()
	cfg := testConfig(t, "")
	secret := filepath.Join(t.TempDir(), "hook.secret")
	os.WriteFile(secret, []byte("s"), 0o600)
	cfg.Notifications = config.Notifications{
		Channels: []config.Channel{{Name: "iso", Type: "webhook", URL: srv.URL, SecretFile: secret}},
		Routes:   map[string][]string{"auth.password_reset": {"iso"}},
	}
	a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := a.Auth.CreateUser(ctx, auth.CLI("t"), auth.NewUser{Username: "bob", Email: "bob@example.com", Role: auth.Engineer, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Auth.ResetPassword(ctx, auth.CLI("t"), "bob"); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if n, err := a.DeliverNotifications(ctx); n != 1 || err != nil {
		t.Fatalf("delivered %d: %v", n, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Kind != "auth.password_reset" || got[0].Subject != "user/"+bob.ID ||
		len(got[0].To) != 1 || got[0].To[0] != "bob@example.com" || !strings.Contains(got[0].Summary, "cli:t") {
		t.Errorf("notified: %+v", got)
	}
}
