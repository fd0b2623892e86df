package change_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/store/storetest"
)

// gitRepo is a real repository built with the git CLI, as a forge would
// hold it: commits get fixed dates an hour apart, so that tests can place
// them in time.
type gitRepo struct {
	t    testing.TB
	dir  string
	when time.Time
}

func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		storetest.Missing(t, "git is not installed: the change register reads histories with it")
	}
}

func newGitRepo(t testing.TB, start time.Time) *gitRepo {
	needGit(t)
	r := &gitRepo{t: t, dir: filepath.Join(t.TempDir(), "src"), when: start}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("init", "--quiet", "--initial-branch=main")
	return r
}

// who is "Name <email>".
func (r *gitRepo) env(who string) []string {
	name, email, _ := strings.Cut(who, " <")
	email = strings.TrimSuffix(email, ">")
	date := r.when.Format(time.RFC3339)
	return append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email, "GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email,
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
}

func (r *gitRepo) gitAs(who string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = r.env(who)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *gitRepo) git(args ...string) string { return r.gitAs("Test <test@example.com>", args...) }

// commit writes a file and commits it on the current branch.
func (r *gitRepo) commit(who, msg string) string {
	r.t.Helper()
	r.when = r.when.Add(time.Hour)
	f := filepath.Join(r.dir, fmt.Sprintf("f%d.txt", r.when.Unix()))
	if err := os.WriteFile(f, []byte(msg), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.gitAs(who, "add", "-A")
	r.gitAs(who, "commit", "--quiet", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// merge merges branch into main with a merge commit, as a forge does.
func (r *gitRepo) merge(who, branch, msg string) string {
	r.t.Helper()
	r.when = r.when.Add(time.Hour)
	r.gitAs(who, "checkout", "--quiet", "main")
	r.gitAs(who, "merge", "--quiet", "--no-ff", "-m", msg, branch)
	return r.git("rev-parse", "HEAD")
}

// feature commits on a new branch from main and returns to main.
func (r *gitRepo) feature(branch, who, msg string) {
	r.t.Helper()
	r.git("checkout", "--quiet", "-b", branch, "main")
	r.commit(who, msg)
	r.git("checkout", "--quiet", "main")
}
