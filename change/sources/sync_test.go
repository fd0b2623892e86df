package sources_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/change/sources"
	"github.com/opsguard/opsguard/egress"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/secret"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// forgePR is what a fake GitHub knows of one pull request; the answers are
// written in the REST API's documented shapes, with the SHAs of a real
// repository built by the test.
type forgePR struct {
	number        int
	author        string
	mergedBy      string
	mergeSHA      string
	headSHA       string
	labels        []string
	reviews       [][3]string // login, state, commit
	checks        [][2]string // name, conclusion
	status        [][2]string // context, state
	failWith      int         // answer the PR with this status instead
	lastCommitter string
}

type fakeGitHub struct {
	mu  sync.Mutex
	prs map[int]*forgePR
	// requests counts what was asked, to prove the sync asked the forge.
	requests []string
}

func (f *fakeGitHub) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	user := func(login string) map[string]any { return map[string]any{"login": login, "type": "User"} }
	pr := func(r *http.Request) *forgePR {
		f.mu.Lock()
		defer f.mu.Unlock()
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		return f.prs[n]
	}
	mux.HandleFunc("GET /repos/acme/shop/pulls/{n}", func(w http.ResponseWriter, r *http.Request) {
		p := pr(r)
		if p == nil {
			http.Error(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`, http.StatusNotFound)
			return
		}
		if p.failWith != 0 {
			w.WriteHeader(p.failWith)
			w.Write([]byte(`{"message":"Server Error"}`))
			return
		}
		var labels []map[string]any
		for _, l := range p.labels {
			labels = append(labels, map[string]any{"name": l})
		}
		write(w, map[string]any{"number": p.number, "state": "closed", "title": fmt.Sprintf("PR %d", p.number), "user": user(p.author),
			"html_url": fmt.Sprintf("https://github.com/acme/shop/pull/%d", p.number), "labels": labels,
			"merged": true, "merged_at": "2026-11-02T12:00:00Z", "merged_by": user(p.mergedBy), "merge_commit_sha": p.mergeSHA,
			"head": map[string]any{"sha": p.headSHA, "ref": "feature"}, "base": map[string]any{"ref": "main", "sha": "0000000000000000000000000000000000000000"}})
	})
	mux.HandleFunc("GET /repos/acme/shop/pulls/{n}/reviews", func(w http.ResponseWriter, r *http.Request) {
		var out []map[string]any
		for i, rv := range pr(r).reviews {
			out = append(out, map[string]any{"id": i + 1, "user": user(rv[0]), "state": rv[1], "commit_id": rv[2], "submitted_at": "2026-11-02T11:00:00Z"})
		}
		write(w, append([]map[string]any{}, out...))
	})
	mux.HandleFunc("GET /repos/acme/shop/pulls/{n}/commits", func(w http.ResponseWriter, r *http.Request) {
		p := pr(r)
		write(w, []map[string]any{{"sha": p.headSHA, "committer": user(p.lastCommitter), "commit": map[string]any{"committer": map[string]any{"name": p.lastCommitter}}}})
	})
	byHead := func(sha string) *forgePR {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.prs {
			if p.headSHA == sha {
				return p
			}
		}
		return nil
	}
	mux.HandleFunc("GET /repos/acme/shop/commits/{sha}/check-runs", func(w http.ResponseWriter, r *http.Request) {
		runs := []map[string]any{}
		if p := byHead(r.PathValue("sha")); p != nil {
			for i, c := range p.checks {
				runs = append(runs, map[string]any{"id": i + 1, "name": c[0], "status": "completed", "conclusion": c[1], "head_sha": p.headSHA})
			}
		}
		write(w, map[string]any{"total_count": len(runs), "check_runs": runs})
	})
	mux.HandleFunc("GET /repos/acme/shop/commits/{sha}/status", func(w http.ResponseWriter, r *http.Request) {
		sts := []map[string]any{}
		if p := byHead(r.PathValue("sha")); p != nil {
			for _, s := range p.status {
				sts = append(sts, map[string]any{"context": s[0], "state": s[1]})
			}
		}
		write(w, map[string]any{"state": "success", "sha": r.PathValue("sha"), "total_count": len(sts), "statuses": sts})
	})
	mux.HandleFunc("GET /repos/acme/shop/commits/{sha}/pulls", func(w http.ResponseWriter, r *http.Request) {
		out := []map[string]any{}
		f.mu.Lock()
		for _, p := range f.prs {
			if p.mergeSHA == r.PathValue("sha") {
				out = append(out, map[string]any{"number": p.number, "state": "closed", "merged_at": "2026-11-02T12:00:00Z", "merge_commit_sha": p.mergeSHA,
					"base": map[string]any{"ref": "main"}, "head": map[string]any{"sha": p.headSHA}, "user": user(p.author)})
			}
		}
		f.mu.Unlock()
		write(w, out)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ghp_testtoken" {
			t.Errorf("%s: no token", r.URL.Path)
		}
		f.mu.Lock()
		f.requests = append(f.requests, r.URL.Path)
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

// git runs git in dir as who ("Name <email>").
func git(t *testing.T, dir, who string, args ...string) string {
	t.Helper()
	name, email, _ := strings.Cut(who, " <")
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+strings.TrimSuffix(email, ">"),
		"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+strings.TrimSuffix(email, ">"), "GIT_AUTHOR_DATE=2026-11-02T10:00:00Z", "GIT_COMMITTER_DATE=2026-11-02T10:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func commit(t *testing.T, dir, who, msg string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(msg+time.Now().String()), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, who, "add", "-A")
	git(t, dir, who, "commit", "--quiet", "-m", msg)
	return git(t, dir, who, "rev-parse", "HEAD")
}

// TestSyncThroughGitHub syncs a real repository whose review data comes
// from a GitHub that answers in its documented shapes: approvals at the
// merged head, checks, labels and the commit→PR association decide the
// verdicts; a 500 stops the sync and keeps the last verified state.
func TestSyncThroughGitHub(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		storetest.Missing(t, "git is not installed")
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		dir := filepath.Join(t.TempDir(), "shop")
		os.MkdirAll(dir, 0o755)
		git(t, dir, "x <x@x>", "init", "--quiet", "--initial-branch=main")
		const bob, carol = "Bob <bob@example.com>", "Carol <carol@example.com>"
		first := commit(t, dir, bob, "Initial import")
		git(t, dir, bob, "checkout", "--quiet", "-b", "feature")
		head1 := commit(t, dir, bob, "Coupons")
		git(t, dir, bob, "checkout", "--quiet", "main")
		git(t, dir, carol, "merge", "--quiet", "--no-ff", "-m", "Merge pull request #1 from bob/feature\n\nCoupons", "feature")
		merge1 := git(t, dir, bob, "rev-parse", "HEAD")
		squash2 := commit(t, dir, bob, "Fix totals (#2)")
		rebase3 := commit(t, dir, bob, "Rebased without a number")
		hotfix4 := commit(t, dir, bob, "Hotfix payments (#4)")

		fake := &fakeGitHub{prs: map[int]*forgePR{
			1: {number: 1, author: "bob", mergedBy: "carol", mergeSHA: merge1, headSHA: head1, lastCommitter: "bob",
				reviews: [][3]string{{"carol", "APPROVED", head1}, {"dependabot[bot]", "APPROVED", head1}},
				checks:  [][2]string{{"test", "success"}, {"lint", "success"}}},
			2: {number: 2, author: "bob", mergedBy: "bob", mergeSHA: squash2, headSHA: strings.Repeat("2", 40), lastCommitter: "bob",
				reviews: [][3]string{{"dave", "APPROVED", strings.Repeat("1", 40)}}, // at an earlier push
				checks:  [][2]string{{"test", "failure"}}},
			3: {number: 3, author: "erin", mergedBy: "erin", mergeSHA: rebase3, headSHA: strings.Repeat("3", 40), lastCommitter: "erin",
				reviews: [][3]string{{"carol", "APPROVED", strings.Repeat("3", 40)}}, checks: [][2]string{{"test", "success"}, {"lint", "success"}}},
			4: {number: 4, author: "bob", mergedBy: "bob", mergeSHA: hotfix4, headSHA: strings.Repeat("4", 40), lastCommitter: "bob",
				labels: []string{"emergency"}, checks: [][2]string{{"test", "success"}, {"lint", "success"}}},
		}}
		srv := httptest.NewServer(fake.handler(t))
		t.Cleanup(srv.Close)
		vault := secret.Vault{Dir: t.TempDir(), KeyFile: filepath.Join(t.TempDir(), "secrets.key")}
		os.WriteFile(filepath.Join(vault.Dir, "github"), []byte("ghp_testtoken\n"), 0o600)

		key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
		svc := change.NewService(store.Bind[change.Tx](db), ledger.New(key, ledger.Options{}), change.Options{
			ReposDir: filepath.Join(t.TempDir(), "repos"), ReviewDays: 3, Now: func() time.Time { return now }, BatchSize: 2,
			Secrets: vault, Egress: egress.Policy{AllowLocal: true, AllowedHosts: []string{"127.0.0.1"}},
			Provider: func(r change.Repository, p change.Progress) (change.Provider, error) {
				tok, err := vault.Read(r.TokenSecret)
				if err != nil {
					return nil, err
				}
				return sources.NewGitHub(sources.Options{BaseURL: srv.URL + "/", Project: r.Project, Token: tok, Progress: p})
			}})
		officer := change.Actor{Name: "ines", Username: "ines", SecurityOfficer: true}
		if _, err := svc.AddRepository(ctx, officer, change.Repository{Name: "shop", URL: dir, Source: change.SourceGitHub, Project: "acme/shop",
			APIURL: srv.URL + "/", TokenSecret: "github", RequiredChecks: []string{"test", "lint"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Sync(ctx, "test", "shop", nil); err != nil {
			t.Fatal(err)
		}
		get := func(sha string) change.Detail {
			t.Helper()
			d, err := svc.Get(ctx, sha)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		tests := []struct {
			name, sha, kind, verdict, rules string
			pr                              int
		}{
			{"direct push", first, change.KindDirect, change.Fail, "CM-2,CM-3", 0},
			{"approved merge", merge1, change.KindMerge, change.Pass, "", 1},
			{"stale approval, failing check", squash2, change.KindSquash, change.Fail, "CM-3,CM-4", 2},
			{"rebase merge found through the commit", rebase3, change.KindSquash, change.Pass, "", 3},
			{"emergency label", hotfix4, change.KindSquash, change.Emergency, "CM-3", 4},
		}
		for _, tc := range tests {
			d := get(tc.sha)
			var rules []string
			for _, v := range d.Violations {
				rules = append(rules, v.Rule)
			}
			if d.Kind != tc.kind || d.Verdict != tc.verdict || strings.Join(rules, ",") != tc.rules || d.PR != tc.pr {
				t.Errorf("%s: kind %s pr %d verdict %s rules %v (%+v)", tc.name, d.Kind, d.PR, d.Verdict, rules, d.Violations)
			}
		}
		m := get(merge1)
		if m.MergedBy != "carol" || len(m.Checks) != 2 || m.PRURL != "https://github.com/acme/shop/pull/1" {
			t.Errorf("merge evidence: %+v", m.Change)
		}
		if h := get(hotfix4); !h.Emergency || h.ReviewDueAt == nil || h.PRAuthor != "bob" {
			t.Errorf("emergency: %+v", h.Change)
		}
		// The request's author, known by their forge login, may not review
		// it after the fact; someone else may.
		if _, err := svc.Review(ctx, change.Actor{Name: "bob", Username: "bob"}, hotfix4, change.ReviewRequest{Comment: "mine"}); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("the PR's author reviews it: %v", err)
		}
		if d, err := svc.Review(ctx, change.Actor{Name: "carol", Username: "carol"}, hotfix4, change.ReviewRequest{Comment: "fine"}); err != nil || d.Verdict != change.Pass {
			t.Errorf("review by another: %v %+v", err, d.Change)
		}

		// The forge fails on the next change: nothing after the last good
		// commit is recorded, and the error says what happened.
		commit(t, dir, bob, "Next (#5)")
		fake.mu.Lock()
		fake.prs[5] = &forgePR{number: 5, failWith: http.StatusInternalServerError}
		fake.mu.Unlock()
		_, err = svc.Sync(ctx, "test", "shop", nil)
		if err == nil || !strings.Contains(err.Error(), "500") {
			t.Fatalf("sync with a 500: %v", err)
		}
		repo, heads, _ := svc.Repository(ctx, "shop")
		if heads[0].Head != hotfix4 || !strings.Contains(repo.SyncError, "500") {
			t.Errorf("after a 500: head %s, error %q", heads[0].Head, repo.SyncError)
		}
		if strings.Contains(repo.SyncError, "ghp_testtoken") {
			t.Error("the token leaked into the recorded error")
		}
	})
}
