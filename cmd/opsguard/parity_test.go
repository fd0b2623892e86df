package main_test

import (
	"encoding/json"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/host/baseline"
)

// Every read command gives the same JSON in-process and through --server
// on the same data directory: both are one call of the same API.
func TestBinaryInProcessAndServerAgree(t *testing.T) {
	requireProgram(t, "git")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	local := []string{"OPSGUARD_DATA_DIR=" + data}
	mustRun(t, local, "", "init", "--password", "correct horse battery")
	report := filepath.Join(dir, "trivy.json")
	os.WriteFile(report, trivyReport(5), 0o644)
	mustRun(t, local, "", "vuln", "import", report, "--asset", "shop")
	src := filepath.Join(dir, "src")
	gitCommits(t, src, 3)
	mustRun(t, local, "", "change", "repo", "add", "shop", src)
	mustRun(t, local, "", "change", "repo", "sync", "shop")
	mustRun(t, local, "correct horse battery\n", "user", "add", "reader", "--role", "auditor")
	mustRun(t, local, "correct horse battery\n", "user", "add", "erik", "--role", "engineer")
	mustRun(t, local, "", "change", "ticket", "create", "--title", "Raise the limit", "--as-role", "engineer")
	mustRun(t, local, "", "backup", "dataset", "add", "shop", "--owner", "erik", "--instructions", "restore the RDS snapshot")
	if r := mustRun(t, local, "", "backup", "dataset", "update", "shop", "--retention-days", "14", "-o", "json"); !strings.Contains(r.stdout, `"retention_days": 14`) ||
		!strings.Contains(r.stdout, "restore the RDS snapshot") || !strings.Contains(r.stdout, `"owner": "erik"`) {
		t.Fatalf("dataset update changed more or less than the flag given: %s", r.stdout)
	}
	mustRun(t, local, "", "backup", "copy", "add", "shop", "--source", "manifest", "--name", "rds", "--offsite")
	pw := filepath.Join(dir, "restic.pw")
	os.WriteFile(pw, []byte("pw\n"), 0o600)
	mustRun(t, local, "", "backup", "copy", "add", "shop", "--source", "restic", "--name", "gone", "--repo", filepath.Join(dir, "no-repo"), "--password-file", pw)
	if r := run(t, local, "", "backup", "drill", "shop", "--copy", "gone"); r.code != 1 || !strings.Contains(r.stdout, "FAILED") {
		t.Fatalf("setup: a drill of a missing repository: %s", r)
	}
	mustRun(t, local, "correct horse battery\n", "user", "add", "ines", "--role", "security_officer")
	mustRun(t, local, "correct horse battery\n", "user", "add", "emma", "--role", "engineering_head")
	mustRun(t, local, "", "backup", "exercise", "add", "--scenario", "Region lost", "--date", "2026-01-15", "--participants", "ines,emma,erik",
		"--findings", "DNS TTLs too long", "--action", "lower the TTLs;erik")
	mustRun(t, local, "correct horse battery\n", "user", "add", "host-agent", "--role", "agent")
	var agentTok struct {
		Secret string `json:"secret"`
	}
	json.Unmarshal([]byte(mustRun(t, local, "", "token", "create", "--user", "host-agent", "--name", "this-host", "-o", "json").stdout), &agentTok)
	tokenFile := filepath.Join(dir, "agent.token")
	os.WriteFile(tokenFile, []byte(agentTok.Secret+"\n"), 0o600)
	base := serve(t, data)
	remote := []string{"OPSGUARD_SERVER=" + base, "OPSGUARD_TOKEN=" + ownToken(t, base, "reader", "correct horse battery")}
	// One collection of this machine, posted: exit 0 only when accepted.
	mustRun(t, nil, "", "agent", "--once", "--server", base, "--token-file", tokenFile, "--env", "production", "--group", "web", "--state-dir", filepath.Join(dir, "agent"))
	os.WriteFile(filepath.Join(dir, "bad.token"), []byte("ogt_nothing\n"), 0o600)
	if r := run(t, nil, "", "agent", "--once", "--server", base, "--token-file", filepath.Join(dir, "bad.token"), "--state-dir", filepath.Join(dir, "agent")); r.code == 0 {
		t.Fatalf("agent --once with an unknown token: exit 0\n%s", r)
	}
	hostname, _ := os.Hostname()

	var fs, cs struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	json.Unmarshal([]byte(mustRun(t, local, "", "change", "list", "-o", "json").stdout), &cs)
	json.Unmarshal([]byte(mustRun(t, local, "", "vuln", "list", "-o", "json").stdout), &fs)
	var x struct {
		Checkpoints []struct {
			Size int64 `json:"size"`
		} `json:"checkpoints"`
	}
	json.Unmarshal([]byte(mustRun(t, local, "", "ledger", "export").stdout), &x)
	if len(x.Checkpoints) < 2 {
		t.Fatalf("setup: %d checkpoints", len(x.Checkpoints))
	}
	from, to := strconv.FormatInt(x.Checkpoints[0].Size, 10), strconv.FormatInt(x.Checkpoints[len(x.Checkpoints)-1].Size, 10)
	if len(fs.Items) != 5 || len(cs.Items) != 3 {
		t.Fatalf("setup: %d findings, %d changes", len(fs.Items), len(cs.Items))
	}
	for _, args := range [][]string{
		{"user", "list"},
		{"controls", "list"},
		{"ledger", "proof", "inclusion", "2"},
		{"ledger", "proof", "consistency", from, to},
		{"ledger", "checkpoint"},
		{"vuln", "list", "--asset", "shop", "--severity", "high"},
		{"vuln", "show", fs.Items[0].ID},
		{"vuln", "assets"},
		{"vuln", "requests"},
		{"change", "repo", "list"},
		{"change", "repo", "violations"},
		{"change", "list", "--repo", "shop"},
		{"change", "show", cs.Items[0].ID},
		{"change", "ticket", "list"},
		{"backup", "status"},
		{"backup", "dataset", "list"},
		{"backup", "snapshots", "shop"},
		{"policy", "list"},
		{"policy", "show", "operations-security-policy"},
		{"attest", "list"},
		{"requirements"},
		{"requirements", "--trend", "--days", "7"},
		{"backup", "drills"},
		{"backup", "drills", "shop"},
		{"backup", "rca", "list"},
		{"backup", "exercise", "list"},
		{"host", "list"},
		{"host", "show", hostname},
		{"capacity", "status"},
		{"events", "search", "--kind", "ssh.failed", "--since", "2026-01-01T00:00:00Z"},
		{"capacity", "history", hostname},
		{"baseline", "list"},
		{"baseline", "show", "default"},
		{"host", "drift"},
		{"host", "drift", hostname},
		{"host", "software", hostname},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			args := append(args, "-o", "json")
			in, out := mustRun(t, local, "", args...), mustRun(t, remote, "", args...)
			var a, b any
			if err := json.Unmarshal([]byte(in.stdout), &a); err != nil {
				t.Fatalf("in-process: %v\n%s", err, in)
			}
			if err := json.Unmarshal([]byte(out.stdout), &b); err != nil {
				t.Fatalf("through the server: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(stable(a), stable(b)) {
				t.Errorf("in-process:\n%s\nthrough the server:\n%s", in.stdout, out.stdout)
			}
		})
	}

	// Refusals too: the same checks give the same message (but for the
	// name of the server it came from).
	strip := regexp.MustCompile(`server 127\.0\.0\.1:\d+: `)
	for _, args := range [][]string{
		{"vuln", "list", "--severity", "extreme"},
		{"vuln", "list", "--due-before", "tomorrow"},
		{"vuln", "show", "fnd_nope"},
		{"change", "list", "--verdict", "meh"},
		{"policy", "diff", "nope", "1", "2"},
		{"policy", "ack", "nope"},
		{"policy", "render", "operations-security-policy", "--format", "odt"},
		{"backup", "drills", "nope"},
		{"host", "show", "no-such-host"},
		{"events", "search", "--kind", "nope"},
		{"events", "search", "--since", "yesterday"},
		{"capacity", "history", "no-such-host"},
		{"baseline", "show", "web@9"},
		{"host", "software", "no-such-host"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			in, out := run(t, local, "", args...), run(t, remote, "", args...)
			if in.code == 0 || in.code != out.code || in.stderr != strip.ReplaceAllString(out.stderr, "") {
				t.Errorf("in-process:\n%s\nthrough the server:\n%s", in, out)
			}
		})
	}

	// A baseline added in-process is approved by a security officer
	// through the server, not by its author; capture proposes the next
	// version from the host's report.
	doc := filepath.Join(dir, "web.yaml")
	os.WriteFile(doc, []byte(strings.Replace(string(baseline.DefaultYAML()), "name: debian-server", "name: web", 1)), 0o644)
	if r := mustRun(t, local, "", "baseline", "add", doc); !strings.Contains(r.stdout, "web@1 added as a draft") {
		t.Errorf("baseline add:\n%s", r)
	}
	if r := run(t, local, "", "baseline", "approve", "web@1"); r.code == 0 {
		t.Errorf("the author approved the baseline:\n%s", r)
	}
	if r := mustRun(t, []string{"OPSGUARD_SERVER=" + base, "OPSGUARD_TOKEN=" + ownToken(t, base, "ines", "correct horse battery")}, "", "baseline", "approve", "web@1"); !strings.Contains(r.stdout, "web@1 is approved") {
		t.Errorf("baseline approve:\n%s", r)
	}
	if r := mustRun(t, local, "", "baseline", "capture", hostname); !strings.Contains(r.stdout, "Draft web@2") {
		t.Errorf("baseline capture:\n%s", r)
	}

	// The failed drill's analysis: its runner (the in-process user) may
	// not record it; a security officer through the server records it and
	// approves the drill.
	var rcas []struct {
		ID      string `json:"id"`
		DrillID string `json:"drill_id"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, local, "", "backup", "rca", "list", "-o", "json").stdout), &rcas); err != nil || len(rcas) != 1 {
		t.Fatalf("rca list: %v %v", rcas, err)
	}
	if r := run(t, local, "", "backup", "rca", "record", rcas[0].ID, "--cause", "moved", "--action", "alert"); r.code == 0 || !strings.Contains(r.stderr, "segregation of duties") {
		t.Errorf("the runner records the analysis:\n%s", r)
	}
	officer := []string{"OPSGUARD_SERVER=" + base, "OPSGUARD_TOKEN=" + ownToken(t, base, "ines", "correct horse battery")}
	mustRun(t, officer, "", "backup", "rca", "record", rcas[0].ID, "--cause", "the repository was moved", "--action", "alert on a missing repository")
	if r := mustRun(t, officer, "", "backup", "drills", "approve", rcas[0].DrillID); !strings.Contains(r.stdout, "approved by ines") {
		t.Errorf("drills approve:\n%s", r)
	}
}

// stable drops what differs between two calls by nature: when a user was
// last seen, which changes as they act.
func stable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range []string{"request_id", "last_login_at", "last_used_at", "last_seen_at"} {
			delete(v, k)
		}
		for k, x := range v {
			v[k] = stable(x)
		}
	case []any:
		for i, x := range v {
			v[i] = stable(x)
		}
	}
	return v
}

// In-process the command line obeys roles as a server does: as an auditor
// it changes nothing, and each refusal is in the ledger (LG-1) under the
// operating-system user's name.
func TestBinaryInProcessAuditorChangesNothing(t *testing.T) {
	requireProgram(t, "git")
	dir := t.TempDir()
	env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "data")}
	mustRun(t, env, "", "init", "--password", "correct horse battery")
	report := filepath.Join(dir, "trivy.json")
	os.WriteFile(report, trivyReport(3), 0o644)
	src := filepath.Join(dir, "src")
	gitCommits(t, src, 1)
	for _, args := range [][]string{
		{"vuln", "import", report, "--asset", "shop"},
		{"user", "add", "eve", "--role", "engineer"},
		{"change", "repo", "add", "shop", src},
		{"controls", "run"},
		{"vuln", "escalate"},
	} {
		r := run(t, env, "correct horse battery\n", append(args, "--as-role", "auditor")...)
		if r.code == 0 || !strings.Contains(r.stderr, "forbidden") {
			t.Errorf("%s as an auditor:\n%s", strings.Join(args, " "), r)
		}
	}
	if r := mustRun(t, env, "", "vuln", "assets", "-o", "json", "--as-role", "auditor"); strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("an auditor's refused import left assets:\n%s", r)
	}
	if r := run(t, env, "", "vuln", "list", "--as-role", "security_officer"); r.code == 0 || !strings.Contains(r.stderr, "decides nothing") {
		t.Errorf("--as-role security_officer:\n%s", r)
	}
	var x struct {
		Entries []struct {
			Kind  string `json:"kind"`
			Actor string `json:"actor"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "", "ledger", "export").stdout), &x); err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, e := range x.Entries {
		if e.Kind == "auth.denied" && e.Actor == "cli:"+me.Username {
			denied++
		}
	}
	if denied != 4 {
		t.Errorf("%d auth.denied entries for cli:%s, want 4", denied, me.Username)
	}
}
