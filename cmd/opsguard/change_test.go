package main_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/store/storetest"
)

// requireProgram skips t when the external program name is not installed,
// or fails it under OPSGUARD_REQUIRE_INTEGRATION=1 (as CI runs).
func requireProgram(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		storetest.Missing(t, name+" is not installed: "+err.Error())
	}
}

// gitCommit commits a file in dir as who ("Name <email>") and returns the SHA.
func gitCommit(t *testing.T, dir, who, msg string) string {
	t.Helper()
	name, email, _ := strings.Cut(who, " <")
	email = strings.TrimSuffix(email, ">")
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email,
			"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if _, err := os.Stat(filepath.Join(dir, ".git")); err != nil {
		os.MkdirAll(dir, 0o755)
		git("init", "--quiet", "--initial-branch=main")
	}
	os.WriteFile(filepath.Join(dir, "f-"+msg[:4]), []byte(msg), 0o644)
	git("add", "-A")
	git("commit", "--quiet", "-m", msg)
	return git("rev-parse", "HEAD")
}

// The change register from the command line, in-process on a data
// directory: watch, sync, list as CSV and JSON, show, review; in-process
// the roles hold as through a server: reviews and tickets are an
// engineer's (--as-role), exceptions a security officer's, refused here.
func TestBinaryChangeCommands(t *testing.T) {
	requireProgram(t, "git")
	dir := t.TempDir()
	env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "data")}
	mustRun(t, env, "", "init", "--password", "correct horse battery")
	asEngineer := func(args ...string) []string { return append(args, "--as-role", "engineer") }
	src := filepath.Join(dir, "src")
	direct := gitCommit(t, src, "Alice <alice@example.com>", "Initial import")
	squash := gitCommit(t, src, "Bob <bob@example.com>", "Add coupons (#12)\n\nReviewed-by: Carol <carol@example.com>")
	hotfix := gitCommit(t, src, "Bob <bob@example.com>", "Hotfix payments\n\nEmergency: payments down INC-3")

	mustRun(t, env, "", "change", "repo", "add", "shop", src, "--branch", "main", "--bot", "dependabot[bot]")
	sync := mustRun(t, env, "", "change", "repo", "sync", "shop")
	if !strings.Contains(sync.stdout, "shop main: 3 new commits verified, 2 failing") {
		t.Errorf("sync:\n%s", sync)
	}
	if again := mustRun(t, env, "", "change", "repo", "sync", "--all"); !strings.Contains(again.stdout, "0 new commits") {
		t.Errorf("second sync:\n%s", again)
	}
	repos := mustRun(t, env, "", "change", "repo", "list")
	if !strings.Contains(repos.stdout, "shop") || !strings.Contains(repos.stdout, "git") {
		t.Errorf("repo list:\n%s", repos)
	}

	rows, err := csv.NewReader(strings.NewReader(mustRun(t, env, "", "change", "list", "-o", "csv").stdout)).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][3] != "sha" {
		t.Fatalf("change list -o csv: %v\n%v", err, rows)
	}
	verdicts := map[string]string{}
	for _, r := range rows[1:] {
		verdicts[r[3]] = r[13]
	}
	if verdicts[direct] != "fail" || verdicts[squash] != "pass" || verdicts[hotfix] != "emergency" {
		t.Errorf("verdicts from CSV: %v", verdicts)
	}
	var list struct {
		Total int `json:"total"`
	}
	if out := mustRun(t, env, "", "change", "list", "--verdict", "fail", "-o", "json"); json.Unmarshal([]byte(out.stdout), &list) != nil || list.Total != 1 {
		t.Errorf("change list --verdict fail:\n%s", out)
	}
	if r := run(t, env, "", "change", "list", "--verdict", "meh"); r.code != 1 || !strings.Contains(r.stderr, "verdict") {
		t.Errorf("bad verdict:\n%s", r)
	}
	show := mustRun(t, env, "", "change", "show", direct[:10])
	if !strings.Contains(show.stdout, "CM-2") || !strings.Contains(show.stdout, "Alice <alice@example.com>") {
		t.Errorf("change show:\n%s", show)
	}
	if r := run(t, env, "", "change", "review", hotfix, "--comment", "right fix"); r.code != 1 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("a review by the admin in-process:\n%s", r)
	}
	rev := mustRun(t, env, "", asEngineer("change", "review", hotfix, "--comment", "right fix", "--check", "solves_problem=yes", "--check", "side_effects=no")...)
	if !strings.Contains(rev.stdout, "the change is pass") {
		t.Errorf("review:\n%s", rev)
	}
	if show := mustRun(t, env, "", "change", "show", hotfix); !strings.Contains(show.stdout, "cleared by the post-facto review") ||
		!strings.Contains(show.stdout, "cleared CM-2, CM-3") {
		t.Errorf("change show of a reviewed emergency change does not say the review cleared its violations:\n%s", show)
	}
	if r := run(t, env, "", asEngineer("change", "review", direct, "--check", "speed=fast")...); r.code != 1 || !strings.Contains(r.stderr, "checklist item") {
		t.Errorf("bad checklist:\n%s", r)
	}
	if r := run(t, env, "", "change", "exception", direct, "--justification", "initial import of the repository"); r.code != 1 || !strings.Contains(r.stderr, "forbidden") {
		t.Errorf("local exception:\n%s", r)
	}

	mustRun(t, env, "", "change", "repo", "add", "gone", filepath.Join(dir, "nowhere"))
	if r := run(t, env, "", "change", "repo", "sync", "gone"); r.code != 1 || !strings.Contains(r.stderr, "nowhere' does not exist") {
		t.Errorf("sync of a missing repository:\n%s", r)
	}
	if r := run(t, env, "", "change", "repo", "sync", "--all"); r.code != 1 || !strings.Contains(r.stderr, "1 of 2 repositories failed") || !strings.Contains(r.stdout, "shop main") {
		t.Errorf("sync --all with one failing:\n%s", r)
	}

	var tk struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	out := mustRun(t, env, "", asEngineer("change", "ticket", "create", "--title", "Raise the DB connection limit", "--category", "configuration", "--risk", "low", "-o", "json")...)
	if json.Unmarshal([]byte(out.stdout), &tk) != nil || tk.State != "draft" {
		t.Fatalf("ticket create:\n%s", out)
	}
	if r := run(t, env, "", asEngineer("change", "ticket", "submit", tk.ID)...); r.code != 1 || !strings.Contains(r.stderr, "description") {
		t.Errorf("submit of an incomplete ticket:\n%s", r)
	}
	if r := mustRun(t, env, "", "change", "ticket", "list"); !strings.Contains(r.stdout, tk.ID) || !strings.Contains(r.stdout, "draft") {
		t.Errorf("ticket list:\n%s", r)
	}
}
