package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The administrative commands, end to end on one data directory: tokens,
// controls, proofs, and an export verified offline with the public key.
func TestBinaryLedgerAndTokenCommands(t *testing.T) {
	dir := t.TempDir()
	env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "data")}
	mustRun(t, env, "", "init", "--password", "correct horse battery")

	var created struct {
		Token struct {
			ID string `json:"id"`
		} `json:"token"`
		Secret string `json:"secret"`
	}
	// The command line makes tokens for agents only: a person makes their own.
	if r := run(t, env, "", "token", "create", "--user", "admin", "--name", "ci"); r.code == 0 || !strings.Contains(r.stderr, "only for agents") {
		t.Errorf("token for the admin from the command line:\n%s", r)
	}
	mustRun(t, env, "an agent's password\n", "user", "add", "ci", "--role", "agent")
	out := mustRun(t, env, "", "token", "create", "--user", "ci", "--name", "ci", "-o", "json")
	if err := json.Unmarshal([]byte(out.stdout), &created); err != nil || created.Secret == "" {
		t.Fatalf("token create -o json: %v\n%s", err, out)
	}
	mustRun(t, env, "", "token", "revoke", created.Token.ID)
	list := mustRun(t, env, "", "token", "list")
	if !strings.Contains(list.stdout, created.Token.ID) || !strings.Contains(list.stdout, "revoked") || strings.Contains(list.stdout, created.Secret) {
		t.Errorf("token list:\n%s", list.stdout)
	}

	mustRun(t, env, "new password for bob\n", "user", "add", "bob", "--role", "engineer")
	var bob struct {
		Role string `json:"role"`
	}
	if r := mustRun(t, env, "", "user", "role", "bob", "security_officer", "-o", "json"); json.Unmarshal([]byte(r.stdout), &bob) != nil || bob.Role != "security_officer" {
		t.Errorf("user role:\n%s", r)
	}
	var reset struct {
		OneTimePassword string `json:"one_time_password"`
	}
	if r := mustRun(t, env, "", "user", "passwd", "bob", "-o", "json"); json.Unmarshal([]byte(r.stdout), &reset) != nil || len(reset.OneTimePassword) < 12 {
		t.Errorf("user passwd:\n%s", r)
	}
	if r := run(t, env, "", "user", "role", "admin", "auditor"); r.code == 0 || !strings.Contains(r.stderr, "last active administrator") {
		t.Errorf("demoting the last admin:\n%s", r)
	}

	// GV-4 fails on a fresh install (no security officer yet): exit 1, results printed.
	runOut := run(t, env, "", "controls", "run")
	if runOut.code != 1 || !strings.Contains(runOut.stdout, "GV-4.roles-assigned") || !strings.Contains(runOut.stderr, "controls fail") {
		t.Errorf("controls run:\n%s", runOut)
	}
	var cat []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	js := mustRun(t, env, "", "controls", "list", "-o", "json")
	if err := json.Unmarshal([]byte(js.stdout), &cat); err != nil || len(cat) != 42 {
		t.Fatalf("controls list -o json: %d items, %v", len(cat), err)
	}
	status := map[string]string{}
	for _, c := range cat {
		status[c.ID] = c.Status
	}
	if status["LG-3"] != "pass" || status["GV-4"] != "fail" || status["BK-1"] != "fail" || status["BK-4"] != "fail" || status["CF-1"] != "fail" || status["LG-4"] != "not_automated" {
		t.Errorf("catalog statuses: %v", status)
	}

	proof := mustRun(t, env, "", "ledger", "proof", "inclusion", "2")
	if !strings.Contains(proof.stdout, "Entry 2") || !strings.Contains(proof.stdout, "Audit path") {
		t.Errorf("ledger proof inclusion:\n%s", proof)
	}
	mustRun(t, env, "", "ledger", "proof", "consistency", "2", "4") // each write: its entries and the seal of its rows
	cp := mustRun(t, env, "", "ledger", "checkpoint")
	if !strings.HasPrefix(cp.stdout, "opsguard/") || !strings.Contains(cp.stdout, "\n\n— opsguard/") {
		t.Errorf("ledger checkpoint:\n%s", cp.stdout)
	}

	export := filepath.Join(dir, "export.json")
	mustRun(t, env, "", "ledger", "export", "--out", export)
	pub := filepath.Join(dir, "data", "ledger.pub")
	// Offline: no data directory at all, only the export and the key.
	offline := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "elsewhere")}
	if v := run(t, offline, "", "ledger", "verify", "--export", export, "--public-key", pub); v.code != 0 || !strings.Contains(v.stdout, "OK:") {
		t.Errorf("offline verify:\n%s", v)
	}
	b, _ := os.ReadFile(export)
	os.WriteFile(export, []byte(strings.Replace(string(b), `"actor":"cli:init"`, `"actor":"cli:mallory"`, 1)), 0o600)
	if v := run(t, offline, "", "ledger", "verify", "--export", export, "--public-key", pub); v.code != 1 || !strings.Contains(strings.ToLower(v.stderr), "first bad entry 1") {
		t.Errorf("offline verify of an edited export:\n%s", v)
	}
}
