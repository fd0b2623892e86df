package main_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// The command line acts on a running server through its API with a token,
// under the same rules, and checks proofs and the ledger on this side.
func TestBinaryRemoteMode(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	base := serve(t, data, "OPSGUARD_ADMIN_PASSWORD="+randomPassword(t))
	local := []string{"OPSGUARD_DATA_DIR=" + data}
	mustRun(t, local, "correct horse battery\n", "user", "add", "ines", "--role", "security_officer")
	mustRun(t, local, "correct horse battery\n", "user", "add", "erik", "--role", "engineer")
	// People make their own tokens, signed in; the command line may not.
	if r := run(t, local, "", "token", "create", "--user", "ines", "--name", "cli"); r.code == 0 || !strings.Contains(r.stderr, "only for agents") {
		t.Errorf("a token for ines from the command line:\n%s", r)
	}
	tok := func(user string) string { return ownToken(t, base, user, "correct horse battery") }
	iso := []string{"OPSGUARD_SERVER=" + base, "OPSGUARD_TOKEN=" + tok("ines")}
	eng := []string{"OPSGUARD_SERVER=" + base, "OPSGUARD_TOKEN=" + tok("erik")}

	var users []struct {
		Username string `json:"username"`
	}
	r := mustRun(t, eng, "", "user", "list", "-o", "json")
	if json.Unmarshal([]byte(r.stdout), &users) != nil || len(users) != 3 {
		t.Fatalf("remote user list:\n%s", r)
	}
	// The server's rules hold: an engineer may not run controls or add users.
	if r := run(t, eng, "", "controls", "run"); r.code == 0 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("engineer ran controls remotely:\n%s", r)
	}
	if r := run(t, eng, "correct horse battery\n", "user", "add", "eve", "--role", "admin"); r.code == 0 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("engineer added a user remotely:\n%s", r)
	}
	r = run(t, iso, "", "controls", "run")
	if !strings.Contains(r.stdout, "LG-3.ledger-verifies") || !strings.Contains(r.stdout, "ledger entry") {
		t.Errorf("remote controls run:\n%s", r)
	}
	pub := filepath.Join(data, "ledger.pub")
	if r := mustRun(t, eng, "", "ledger", "verify", "--public-key", pub); !strings.Contains(r.stdout, "OK:") {
		t.Errorf("remote verify:\n%s", r)
	}
	if r := mustRun(t, eng, "", "ledger", "proof", "inclusion", "1", "--public-key", pub); !strings.Contains(r.stdout, "Entry 1") {
		t.Errorf("remote proof:\n%s", r)
	}
	// A key the auditor holds that is not the ledger's is refused.
	other := filepath.Join(dir, "other")
	mustRun(t, []string{"OPSGUARD_DATA_DIR=" + other}, "", "init", "--password", "correct horse battery")
	if r := run(t, eng, "", "ledger", "verify", "--public-key", filepath.Join(other, "ledger.pub")); r.code == 0 {
		t.Errorf("verify against another key passed:\n%s", r)
	}
	// The change register through the server: the officer watches a
	// repository and grants an exception; the engineer's ticket is
	// approved by the officer, never by the engineer.
	src := filepath.Join(dir, "src")
	initial := gitCommit(t, src, "Alice <alice@example.com>", "Initial import")
	// A local path is the server's own files: refused through the API,
	// watched from the in-process CLI, and then synced through the API.
	if r := run(t, iso, "", "change", "repo", "add", "shop", src); r.code == 0 || !strings.Contains(r.stderr, "in-process CLI") {
		t.Errorf("a local path added through the server:\n%s", r)
	}
	mustRun(t, local, "", "change", "repo", "add", "shop", src)
	if r := mustRun(t, iso, "", "change", "repo", "sync", "shop"); !strings.Contains(r.stdout, "1 new commits verified, 1 failing") {
		t.Errorf("remote sync:\n%s", r)
	}
	if r := mustRun(t, eng, "", "change", "list", "--verdict", "fail"); !strings.Contains(r.stdout, initial[:12]) {
		t.Errorf("remote change list:\n%s", r)
	}
	if r := run(t, eng, "", "change", "exception", initial, "--justification", "initial import from the old server"); r.code == 0 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("engineer granted an exception:\n%s", r)
	}
	if r := mustRun(t, iso, "", "change", "exception", initial, "--justification", "initial import from the old server"); !strings.Contains(r.stdout, "Exception granted") {
		t.Errorf("remote exception:\n%s", r)
	}
	var tk struct {
		ID string `json:"id"`
	}
	out := mustRun(t, eng, "", "change", "ticket", "create", "--title", "Open port 443", "--description", "new ingress", "--category", "network",
		"--risk", "medium", "--impact", "edge", "--rollback", "delete the rule", "--window-start", "2026-12-01T22:00:00Z", "--window-end", "2026-12-01T23:00:00Z", "-o", "json")
	if json.Unmarshal([]byte(out.stdout), &tk) != nil || tk.ID == "" {
		t.Fatalf("remote ticket create:\n%s", out)
	}
	mustRun(t, eng, "", "change", "ticket", "submit", tk.ID)
	if r := run(t, eng, "", "change", "ticket", "approve", tk.ID); r.code == 0 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("engineer approved a ticket:\n%s", r)
	}
	if r := mustRun(t, iso, "", "change", "ticket", "approve", tk.ID, "--note", "CAB 12"); !strings.Contains(r.stdout, "is approved") {
		t.Errorf("remote approve:\n%s", r)
	}
	bad := []string{"OPSGUARD_SERVER=" + base, "OPSGUARD_TOKEN=tok_00000000000000000000000000000000.nope-nope-nope-nope-nope-nope-nope"}
	if r := run(t, bad, "", "user", "list"); r.code == 0 || !strings.Contains(r.stderr, "unauthenticated") {
		t.Errorf("bad token:\n%s", r)
	}
	if r := run(t, iso, "", "init"); r.code == 0 || !strings.Contains(r.stderr, "drop --server") {
		t.Errorf("init with --server:\n%s", r)
	}
}

// ownToken signs user in through the API and makes a token as that user.
func ownToken(t *testing.T, base, user, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := http.Post(base+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct {
		CSRFToken string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != 200 {
		t.Fatalf("sign in %s: %d %v", user, resp.StatusCode, err)
	}
	req, _ := http.NewRequest("POST", base+"/api/v1/tokens", strings.NewReader(`{"name":"cli"}`))
	req.Header.Set("X-CSRF-Token", me.CSRFToken)
	for _, c := range resp.Cookies() {
		req.AddCookie(c)
	}
	tr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Body.Close()
	var out struct {
		Secret string `json:"secret"`
	}
	if err := json.NewDecoder(tr.Body).Decode(&out); err != nil || tr.StatusCode != http.StatusCreated {
		t.Fatalf("token of %s: %d %v", user, tr.StatusCode, err)
	}
	return out.Secret
}
