package change_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/egress"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

var ctx = context.Background()

const (
	alice = "Alice <alice@example.com>"
	bob   = "Bob <bob@example.com>"
	carol = "Carol <carol@example.com>"
)

var (
	// start is a Monday: the emergency window of three business days
	// from a Monday commit ends on Thursday.
	start   = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	officer = change.Actor{Name: "ines", Username: "ines", Email: "ines@example.com", SecurityOfficer: true, Approver: true}
	carolU  = change.Actor{Name: "carol", Username: "carol", Email: "carol@example.com"}
	aliceU  = change.Actor{Name: "alice", Username: "alice", Email: "alice@example.com"}
)

type env struct {
	db    *store.DB
	repos string
	svc   *change.Service
	now   time.Time
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	needGit(t)
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, now: start.Add(30 * 24 * time.Hour), repos: filepath.Join(t.TempDir(), "repos")}
	e.svc = change.NewService(store.Bind[change.Tx](db), ledger.New(key, ledger.Options{}), change.Options{
		ReposDir: e.repos, ReviewDays: 3, Now: func() time.Time { return e.now }, BatchSize: 4,
		Egress: egress.Policy{AllowLocal: true}})
	return e
}

func (e *env) add(t *testing.T, name, url string) {
	t.Helper()
	if _, err := e.svc.AddRepository(ctx, officer, change.Repository{Name: name, URL: url, Bots: []string{"dependabot[bot]"}}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) sync(t *testing.T, name string) change.SyncResult {
	t.Helper()
	res, err := e.svc.Sync(ctx, "test", name, nil)
	if err != nil {
		t.Fatalf("sync %s: %v", name, err)
	}
	return res
}

// bySubject returns the register's changes keyed by subject.
func (e *env) bySubject(t *testing.T, repo string) map[string]change.Change {
	t.Helper()
	cs, _, err := e.svc.List(ctx, change.Filter{Repo: repo, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]change.Change{}
	for _, c := range cs {
		out[c.Subject] = c
	}
	return out
}

func rules(c change.Change) string {
	var out []string
	for _, v := range c.Violations {
		out = append(out, v.Rule)
	}
	return strings.Join(out, ",")
}

// TestClassification builds one history with every way a commit reaches
// a branch and checks how each was classified and judged.
func TestClassification(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := newGitRepo(t, start)
		r.commit(alice, "Initial import")
		r.feature("bob/feat", bob, "Add feature")
		r.merge(bob, "bob/feat", "Merge pull request #1 from bob/feat\n\nAdd feature")
		r.feature("bob/gl", bob, "GitLab change")
		r.merge(bob, "bob/gl", "Merge branch 'bob/gl' into 'main'\n\nGitLab change\n\nSee merge request team/app!7\n\nApproved-by: Carol <carol@example.com>")
		r.commit(bob, "Squashed feature (#3)\n\n* one\n* two\n\nReviewed-by: Carol <carol@example.com>")
		r.commit(bob, "Self-approved squash (#4)\n\nReviewed-by: Bob <bob@example.com>")
		r.commit(bob, "Gerrit change\n\nChange-Id: I1234\nReviewed-on: https://review.example.com/c/app/+/55\nReviewed-by: Carol <carol@example.com>")
		r.commit(bob, "Paired on it\n\nCo-authored-by: Carol <carol@example.com>")
		r.commit("dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>", "Bump lib from 1.0 to 1.1 (#5)\n\nReviewed-by: Carol <carol@example.com>")
		r.commit("renovate[bot] <bot@renovateapp.com>", "Update lib (#6)\n\nReviewed-by: Carol <carol@example.com>")
		r.feature("local", alice, "Local work")
		r.merge(alice, "local", "Merge branch 'local'")
		e.add(t, "app", r.dir)
		res := e.sync(t, "app")
		if len(res.Branches) != 1 || res.Branches[0].New != 10 || res.Branches[0].Head != r.git("rev-parse", "main") {
			t.Fatalf("sync = %+v", res)
		}
		got := e.bySubject(t, "app")
		tests := []struct {
			subject, kind string
			pr            int
			verdict       string
			rules         string
		}{
			{"Initial import", change.KindDirect, 0, change.Fail, "CM-2,CM-3"},
			{"Merge pull request #1 from bob/feat", change.KindMerge, 1, change.Fail, "CM-3"}, // git holds no GitHub approval
			{"Merge branch 'bob/gl' into 'main'", change.KindMerge, 7, change.Pass, ""},
			{"Squashed feature (#3)", change.KindSquash, 3, change.Pass, ""},
			{"Self-approved squash (#4)", change.KindSquash, 4, change.Fail, "CM-3"},
			{"Gerrit change", change.KindGerrit, 0, change.Pass, ""},
			{"Paired on it", change.KindDirect, 0, change.Fail, "CM-2,CM-3"}, // a co-author is not a reviewer
			{"Bump lib from 1.0 to 1.1 (#5)", change.KindSquash, 5, change.Pass, ""},
			{"Update lib (#6)", change.KindSquash, 6, change.Fail, "CM-3"}, // a bot not allowed
			{"Merge branch 'local'", change.KindDirect, 0, change.Fail, "CM-2,CM-3"},
		}
		for _, tc := range tests {
			c, ok := got[tc.subject]
			if !ok {
				t.Errorf("%q: not in the register", tc.subject)
				continue
			}
			if c.Kind != tc.kind || c.PR != tc.pr || c.Verdict != tc.verdict || rules(c) != tc.rules {
				t.Errorf("%q: kind %s pr %d verdict %s rules %q, want %s %d %s %q (%+v)", tc.subject, c.Kind, c.PR, c.Verdict, rules(c), tc.kind, tc.pr, tc.verdict, tc.rules, c.Violations)
			}
		}
		if len(got) != len(tests) {
			t.Errorf("%d changes, want %d (the feature branches' own commits are not on the first-parent history)", len(got), len(tests))
		}
		if a := got["Squashed feature (#3)"].Approvers; len(a) != 1 || a[0].By != "carol@example.com" {
			t.Errorf("approvers = %+v", a)
		}
	})
}

func TestIncrementalSyncAndLedger(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := newGitRepo(t, start)
		for i := range 9 {
			r.commit(bob, "Change "+string(rune('a'+i))+" (#"+string(rune('1'+i))+")\n\nReviewed-by: Carol <carol@example.com>")
		}
		e.add(t, "app", r.dir)
		if res := e.sync(t, "app"); res.Branches[0].New != 9 {
			t.Fatalf("first sync = %+v", res)
		}
		// Nothing new: nothing read, and only the time of the sync recorded
		// (its entry and the seal of the repository's row).
		size := ledgerSize(t, db)
		if res := e.sync(t, "app"); res.Branches[0].New != 0 || res.Branches[0].From != res.Branches[0].Head {
			t.Errorf("second sync = %+v", res)
		}
		if n := ledgerSize(t, db); n != size+2 {
			t.Errorf("a sync with nothing new appended %d entries, want 2 (repository.sync_state, ledger.rows)", n-size)
		}
		sha := r.commit(alice, "Direct fix")
		res := e.sync(t, "app")
		if res.Branches[0].New != 1 || res.Branches[0].Violations != 1 || res.Branches[0].Head != sha {
			t.Errorf("third sync = %+v", res)
		}
		_, heads, err := e.svc.Repository(ctx, "app")
		if err != nil || len(heads) != 1 || heads[0].Head != sha || heads[0].Changes != 10 {
			t.Errorf("heads = %+v, %v", heads, err)
		}
		// The violation is ledgered on the change, the sync on the repository
		// with the verified list as evidence.
		d, err := e.svc.Get(ctx, sha[:10])
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		if err := db.View(ctx, func(tx *store.Tx) error {
			es, err := tx.ListEntries(ctx, ledger.EntryFilter{Subject: "change/" + d.ID, Limit: 10})
			for _, e := range es {
				kinds = append(kinds, e.Kind)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if strings.Join(kinds, ",") != "change.violation" {
			t.Errorf("ledger of the change: %v", kinds)
		}
	})
}

func ledgerSize(t *testing.T, db *store.DB) int64 {
	t.Helper()
	var n int64
	if err := db.View(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.LedgerSize(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEmergencyChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := newGitRepo(t, start)
		reviewed := r.commit(alice, "Hotfix login\n\nEmergency: login outage INC-42")
		late := r.commit(alice, "Hotfix cache\n\nEmergency: cache stampede INC-43")
		never := r.commit(alice, "Hotfix disk\n\nEmergency: disk full INC-44")
		silent := r.commit(alice, "Hotfix quiet\n\nEmergency:")
		e.add(t, "app", r.dir)
		e.now = start.Add(24 * time.Hour) // Tuesday: nothing is overdue yet
		e.sync(t, "app")
		d, err := e.svc.Get(ctx, reviewed)
		if err != nil {
			t.Fatal(err)
		}
		due := time.Date(2026, 11, 5, 9, 0, 0, 0, time.UTC) // Thursday, three business days after Monday 09:00
		if d.Verdict != change.Emergency || !d.Emergency || d.EmergencyWhy != "login outage INC-42" || d.ReviewDueAt == nil || !d.ReviewDueAt.Equal(due) {
			t.Fatalf("emergency change = %+v", d.Change)
		}
		if s, _ := e.svc.Get(ctx, silent); s.Verdict != change.Fail || rules(s.Change) != "CM-2,CM-3,CM-7" {
			t.Errorf("an emergency that does not say what it fixes: %s %+v", s.Verdict, s.Violations)
		}
		cm7 := controlByID(t, e.svc, "CM-7.emergency-reviewed")
		if out := eval(t, cm7); out.Status != control.Fail || !strings.Contains(out.Summary, "1 of 4") {
			t.Errorf("CM-7 with only the silent one failing: %+v", out)
		}

		// The author may not review their own change.
		if _, err := e.svc.Review(ctx, aliceU, reviewed, change.ReviewRequest{Comment: "fine"}); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("author reviewing: %v", err)
		}
		if _, err := e.svc.Review(ctx, carolU, reviewed, change.ReviewRequest{Checklist: map[string]string{"speed": "yes"}}); opsguard.ErrorCode(err) != opsguard.EInvalid {
			t.Errorf("unknown checklist item: %v", err)
		}
		d, err = e.svc.Review(ctx, carolU, reviewed, change.ReviewRequest{Comment: "the fix is right",
			Checklist: map[string]string{"solves_problem": "yes", "side_effects": "no", "performance": "n/a"}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Verdict != change.Pass || len(d.Reviews) != 1 || d.Reviews[0].Late || d.Reviews[0].Checklist["solves_problem"] != "yes" {
			t.Errorf("reviewed in time: %+v", d)
		}
		if _, err := e.svc.Review(ctx, carolU, reviewed, change.ReviewRequest{Comment: "again"}); opsguard.ErrorCode(err) != opsguard.EConflict {
			t.Errorf("second review: %v", err)
		}
		cm6 := controlByID(t, e.svc, "CM-6.checklist-recorded")
		if out := eval(t, cm6); out.Status != control.Pass || !strings.Contains(out.Summary, "All 1") {
			t.Errorf("CM-6 with a checklist: %+v", out)
		}

		// A week later the others are overdue; one is reviewed late.
		e.now = start.Add(7 * 24 * time.Hour)
		if cs, n, _ := e.svc.List(ctx, change.Filter{Verdict: "overdue"}); n != 2 || len(cs) != 2 {
			t.Errorf("overdue = %d", n)
		}
		d, err = e.svc.Review(ctx, carolU, late, change.ReviewRequest{Comment: "late but fine"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Verdict != change.Fail || !d.Reviews[0].Late || !d.Breaks("CM-7") {
			t.Errorf("reviewed late: %+v", d)
		}
		if out := eval(t, cm6); out.Status != control.Fail || !strings.Contains(out.Summary, "1 of 2") {
			t.Errorf("CM-6 with a review without answers: %+v", out)
		}
		if out := eval(t, cm7); out.Status != control.Fail || !strings.Contains(out.Summary, "3 of 4") {
			t.Errorf("CM-7: %+v", out)
		}
		// An exception for the one never reviewed.
		if _, err := e.svc.GrantException(ctx, carolU, never, "the outage review covered it in INC-44"); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("exception by an engineer: %v", err)
		}
		if _, err := e.svc.GrantException(ctx, officer, never, "short"); opsguard.ErrorCode(err) != opsguard.EInvalid {
			t.Errorf("exception without a justification: %v", err)
		}
		d, err = e.svc.GrantException(ctx, officer, never, "the outage review covered it in INC-44")
		if err != nil {
			t.Fatal(err)
		}
		if d.Verdict != change.Exception || d.ExceptionBy != "ines" || len(d.Violations) == 0 {
			t.Errorf("exception: %+v", d.Change)
		}
	})
}

func TestSegregationOfDutiesOnExceptions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := newGitRepo(t, start)
		own := r.commit("Ines <ines@example.com>", "Officer's direct push")
		e.add(t, "app", r.dir)
		e.sync(t, "app")
		if _, err := e.svc.GrantException(ctx, officer, own, "initial import of the repository"); opsguard.ErrorCode(err) != opsguard.EForbidden {
			t.Errorf("an officer excepting their own change: %v", err)
		}
		other := officer
		other.Name, other.Username, other.Email = "ivan", "ivan", "ivan@example.com"
		if _, err := e.svc.GrantException(ctx, other, own, "initial import of the repository"); err != nil {
			t.Errorf("another officer: %v", err)
		}
	})
}

func TestRevertsAreLinked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := newGitRepo(t, start)
		bad := r.commit(bob, "Risky change (#1)\n\nReviewed-by: Carol <carol@example.com>")
		r.gitAs(bob, "revert", "--no-edit", bad)
		revert := r.git("rev-parse", "HEAD")
		r.commit(bob, "Revert \"Something\"\n\nIt broke.")
		e.add(t, "app", r.dir)
		e.sync(t, "app")
		orig, _ := e.svc.Get(ctx, bad)
		rev, _ := e.svc.Get(ctx, revert)
		if orig.RevertedBy != revert || rev.Reverts != bad {
			t.Errorf("link: reverted_by %q, reverts %q", orig.RevertedBy, rev.Reverts)
		}
		got := e.bySubject(t, "app")
		if c := got[`Revert "Something"`]; !c.Breaks("CM-8") {
			t.Errorf("an unlinked revert: %+v", c.Violations)
		}
		if out := eval(t, controlByID(t, e.svc, "CM-8.reverts-linked")); out.Status != control.Fail || len(out.Refs) != 1 {
			t.Errorf("CM-8: %+v", out)
		}
	})
}

func TestRewrittenHistory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := newGitRepo(t, start)
		r.commit(bob, "One (#1)\n\nReviewed-by: Carol <carol@example.com>")
		r.commit(bob, "Two (#2)\n\nReviewed-by: Carol <carol@example.com>")
		old := r.commit(bob, "Three (#3)\n\nReviewed-by: Carol <carol@example.com>")
		e.add(t, "app", r.dir)
		e.sync(t, "app")
		cm1 := controlByID(t, e.svc, "CM-1.history-retrievable")
		if out := eval(t, cm1); out.Status != control.Pass {
			t.Fatalf("CM-1 before: %+v", out)
		}
		// A force push drops two verified commits.
		r.git("reset", "--quiet", "--hard", "HEAD~2")
		newHead := r.commit(bob, "Two again (#4)\n\nReviewed-by: Carol <carol@example.com>")
		res := e.sync(t, "app")
		if !res.Branches[0].Rewritten || res.Branches[0].New != 1 {
			t.Errorf("sync after force push = %+v", res)
		}
		vs, err := e.svc.Violations(ctx, "app")
		if err != nil || len(vs) != 1 || vs[0].OldHead != old || vs[0].NewHead != newHead || vs[0].Rule != "CM-1" {
			t.Fatalf("violations = %+v, %v", vs, err)
		}
		// The rewritten commits are still retrievable from the mirror.
		mirror := &change.Mirror{Dir: mirrorDir(t, e)}
		if !mirror.Has(ctx, old) {
			t.Error("the old head is gone from the mirror")
		}
		if out := eval(t, cm1); out.Status != control.Fail || !strings.Contains(out.Summary, "rewritten") {
			t.Errorf("CM-1 after: %+v", out)
		}
		if _, err := e.svc.ExceptRewrite(ctx, officer, vs[0].ID, "history migration approved in CAB-7"); err != nil {
			t.Fatal(err)
		}
		if out := eval(t, cm1); out.Status != control.Pass {
			t.Errorf("CM-1 after the exception: %+v", out)
		}
		if vs, _ := e.svc.Violations(ctx, "app"); len(vs) != 1 || vs[0].ExceptionBy != "ines" {
			t.Errorf("the excepted violation must stay visible: %+v", vs)
		}
	})
}

// mirrorDir finds the one mirror of a test's service.
func mirrorDir(t *testing.T, e *env) string {
	t.Helper()
	rs, err := e.svc.Repositories(ctx)
	if err != nil || len(rs) == 0 {
		t.Fatal(err)
	}
	return filepath.Join(e.repos, rs[0].ID+".git")
}

func TestBadRepositories(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := newGitRepo(t, start)
		r.commit(bob, "One (#1)\n\nReviewed-by: Carol <carol@example.com>")
		shallow := filepath.Join(t.TempDir(), "shallow")
		r.commit(bob, "Two (#2)\n\nReviewed-by: Carol <carol@example.com>")
		if out, err := exec.Command("git", "clone", "--quiet", "--depth=1", "file://"+r.dir, shallow).CombinedOutput(); err != nil {
			t.Fatalf("shallow clone: %v %s", err, out)
		}
		e.add(t, "gone", filepath.Join(t.TempDir(), "does-not-exist"))
		// ext:: runs a command: it is refused when added, not at sync.
		pwned := filepath.Join(t.TempDir(), "pwned")
		if _, err := e.svc.AddRepository(ctx, officer, change.Repository{Name: "ext", URL: "ext::sh -c touch% " + pwned}); opsguard.ErrorCode(err) != opsguard.EInvalid {
			t.Errorf("ext:: URL added: %v", err)
		}
		e.add(t, "shallow", shallow)
		if _, err := e.svc.AddRepository(ctx, officer, change.Repository{Name: "nobranch", URL: r.dir, Branches: []string{"release"}}); err != nil {
			t.Fatal(err)
		}
		e.add(t, "app", r.dir)
		e.sync(t, "app")

		tests := []struct {
			repo, want string
		}{
			{"gone", "does-not-exist' does not exist"},
			{"shallow", "shallow clone"},
			{"nobranch", `branch "release" is not in`},
		}
		for _, tc := range tests {
			_, err := e.svc.Sync(ctx, "test", tc.repo, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want %q", tc.repo, err, tc.want)
			}
			repo, heads, _ := e.svc.Repository(ctx, tc.repo)
			if repo.SyncError == "" || len(heads) != 0 {
				t.Errorf("%s: error not recorded or a head verified: %+v %+v", tc.repo, repo, heads)
			}
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Error("an ext:: URL ran a command")
		}
		if _, n, _ := e.svc.List(ctx, change.Filter{Repo: "shallow"}); n != 0 {
			t.Errorf("a shallow clone's commits were recorded as verified: %d", n)
		}
		if out := eval(t, controlByID(t, e.svc, "CM-1.history-retrievable")); out.Status != control.Fail || !strings.Contains(out.Summary, "shallow is a shallow clone") {
			t.Errorf("CM-1: %+v", out)
		}

		// A corrupt object in the source: the sync fails, the last good
		// state is kept.
		_, before, _ := e.svc.Repository(ctx, "app")
		sha := r.commit(bob, "Three (#3)\n\nReviewed-by: Carol <carol@example.com>")
		obj := filepath.Join(r.dir, ".git", "objects", sha[:2], sha[2:])
		if err := os.Chmod(obj, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(obj, []byte("not a zlib stream"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.Sync(ctx, "test", "app", nil)
		if err == nil {
			t.Fatal("a corrupt object synced")
		}
		_, after, _ := e.svc.Repository(ctx, "app")
		if after[0].Head != before[0].Head || after[0].Changes != 2 {
			t.Errorf("heads moved on a failed sync: %+v → %+v", before, after)
		}
		var ge *change.GitError
		if !errors.As(err, &ge) {
			t.Errorf("error is not git's: %T %v", err, err)
		}
	})
}

func TestAddRepositoryValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tests := []struct {
			name  string
			r     change.Repository
			field string
		}{
			{"no name", change.Repository{URL: "/x"}, "name"},
			{"slash in name", change.Repository{Name: "a/b", URL: "/x"}, "name"},
			{"no url", change.Repository{Name: "a"}, "url"},
			{"option as url", change.Repository{Name: "a", URL: "--upload-pack=evil"}, "url"},
			{"password in url", change.Repository{Name: "a", URL: "https://u:hunter2@example.com/r.git"}, "url"},
			{"bad source", change.Repository{Name: "a", URL: "/x", Source: "svn"}, "source"},
			{"github without project", change.Repository{Name: "a", URL: "/x", Source: change.SourceGitHub}, "project"},
			{"bad branch", change.Repository{Name: "a", URL: "/x", Branches: []string{"ma..in"}}, "branches"},
			{"token without secrets", change.Repository{Name: "a", URL: "/x", Source: change.SourceGitHub, Project: "o/r", Token: "ghp_x"}, "token"},
		}
		for _, tc := range tests {
			_, err := e.svc.AddRepository(ctx, officer, tc.r)
			var oe *opsguard.Error
			if !errors.As(err, &oe) || oe.Code != opsguard.EInvalid || oe.Details["field"] != tc.field {
				t.Errorf("%s: %v", tc.name, err)
			}
			if strings.Contains(opsguard.ErrorMessage(err), "hunter2") {
				t.Errorf("%s: the error repeats the password", tc.name)
			}
		}
		e.add(t, "a", "/x")
		if _, err := e.svc.AddRepository(ctx, officer, change.Repository{Name: "a", URL: "/y"}); opsguard.ErrorCode(err) != opsguard.EConflict {
			t.Errorf("duplicate: %v", err)
		}
		// Columns holding the same JSON text each keep their own value.
		if _, err := e.svc.AddRepository(ctx, officer, change.Repository{Name: "b", URL: "/y", Bots: []string{"ci"}, RequiredChecks: []string{"ci"}, Branches: []string{"ci"}}); err != nil {
			t.Fatal(err)
		}
		b, _, err := e.svc.Repository(ctx, "b")
		if err != nil || len(b.Bots) != 1 || len(b.RequiredChecks) != 1 || len(b.Branches) != 1 || b.EmergencyTrailer != "Emergency" {
			t.Errorf("stored repository: %+v %v", b, err)
		}
	})
}

func controlByID(t *testing.T, svc *change.Service, id string) control.Control {
	t.Helper()
	for _, c := range svc.Controls() {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no control %s", id)
	return control.Control{}
}

func eval(t *testing.T, c control.Control) control.Outcome {
	t.Helper()
	out, err := c.Evaluate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const dave = "Dave <dave@example.com>"

// TestMergeRequesters checks who requested a merge watched through git
// alone: on GitHub and GitLab whoever presses Merge authors the merge
// commit, and that is often the reviewer. The requesters are those who
// wrote or committed the commits the merge brings in; the merger is the
// implementer, whose approval counts unless they wrote a commit of it.
func TestMergeRequesters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := newGitRepo(t, start)
		r.commit(alice, "Initial import")
		r.feature("carol/feat", carol, "Carol's feature")
		r.merge(dave, "carol/feat", "Merge pull request #2 from carol/feat\n\nCarol's feature\n\nReviewed-by: Dave <dave@example.com>")
		r.feature("dave/own", dave, "Dave's own feature")
		r.merge(dave, "dave/own", "Merge pull request #3 from dave/own\n\nDave's own feature\n\nReviewed-by: Dave <dave@example.com>")
		r.feature("carol/pair", carol, "Carol's half")
		r.git("checkout", "--quiet", "carol/pair")
		r.commit(dave, "Dave's half")
		r.git("checkout", "--quiet", "main")
		r.merge(dave, "carol/pair", "Merge pull request #4 from carol/pair\n\nBoth halves\n\nApproved-by: Dave <dave@example.com>")
		// Carol's commit, rebased by Dave: he committed it.
		r.git("checkout", "--quiet", "-b", "carol/rebased", "main")
		r.when = r.when.Add(time.Hour)
		os.WriteFile(filepath.Join(r.dir, "rebased.txt"), []byte("rebased"), 0o644)
		r.gitAs(dave, "add", "-A")
		r.gitAs(dave, "commit", "--quiet", "--author", carol, "-m", "Carol's rebased work")
		r.git("checkout", "--quiet", "main")
		r.merge(dave, "carol/rebased", "Merge pull request #5 from carol/rebased\n\nRebased\n\nReviewed-by: Dave <dave@example.com>")
		// A branch merged twice: the second merge brings in only what came
		// after the first.
		r.feature("carol/twice", dave, "Dave starts it")
		r.merge(bob, "carol/twice", "Merge pull request #6 from carol/twice\n\nFirst part\n\nReviewed-by: Carol <carol@example.com>")
		e.add(t, "app", r.dir)
		e.sync(t, "app")
		// The second merge arrives in the next sync, which reads from the
		// verified head on.
		r.git("checkout", "--quiet", "carol/twice")
		r.commit(carol, "Carol finishes it")
		r.git("checkout", "--quiet", "main")
		r.merge(dave, "carol/twice", "Merge pull request #7 from carol/twice\n\nSecond part\n\nReviewed-by: Dave <dave@example.com>")
		e.sync(t, "app")
		got := e.bySubject(t, "app")
		tests := []struct {
			subject, verdict, rules string
		}{
			{"Merge pull request #2 from carol/feat", change.Pass, ""},
			{"Merge pull request #3 from dave/own", change.Fail, "CM-3"},
			{"Merge pull request #4 from carol/pair", change.Fail, "CM-3"},
			{"Merge pull request #5 from carol/rebased", change.Fail, "CM-3"},
			{"Merge pull request #6 from carol/twice", change.Pass, ""},
			{"Merge pull request #7 from carol/twice", change.Pass, ""},
		}
		for _, tc := range tests {
			c, ok := got[tc.subject]
			if !ok {
				t.Errorf("%q: not in the register", tc.subject)
				continue
			}
			if c.Verdict != tc.verdict || rules(c) != tc.rules {
				t.Errorf("%q: verdict %s rules %q, want %s %q (%+v)", tc.subject, c.Verdict, rules(c), tc.verdict, tc.rules, c.Violations)
			}
			if c.MergedBy == "" {
				t.Errorf("%q: no merger recorded", tc.subject)
			}
		}
		if v := got["Merge pull request #4 from carol/pair"].Violations; len(v) == 1 && !strings.Contains(v[0].Message, "dave@example.com") {
			t.Errorf("the CM-3 violation does not name who wrote the merged commits: %q", v[0].Message)
		}
		// The sync's evidence names each merge's requesters.
		pair := got["Merge pull request #4 from carol/pair"].SHA
		if ev := syncEvidence(t, db); !strings.Contains(ev, `"sha":"`+pair+`"`) ||
			!regexp.MustCompile(`"sha":"`+pair+`"[^\n]*"requesters":\["Carol","Dave","carol@example.com","dave@example.com"\]`).MatchString(ev) {
			t.Errorf("the evidence does not name the requesters of %s:\n%s", pair, ev)
		}
	})
}

// TestSyncFindingsActor checks that what a sync finds is the system's
// finding, not the deed of whoever pressed Sync: the ledger's actor is
// "sync" and the payload names who triggered it.
func TestSyncFindingsActor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := newGitRepo(t, start)
		r.commit(bob, "Straight to main")
		e.add(t, "app", r.dir)
		if _, err := e.svc.Sync(ctx, "alice", "app", nil); err != nil {
			t.Fatal(err)
		}
		var es []ledger.Entry
		if err := db.View(ctx, func(tx *store.Tx) error {
			var err error
			es, err = tx.ListEntries(ctx, ledger.EntryFilter{Limit: 100})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		found := map[string]bool{}
		for _, en := range es {
			if en.Kind != "change.violation" && en.Kind != "repository.synced" {
				continue
			}
			found[en.Kind] = true
			var p map[string]any
			if err := json.Unmarshal(en.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if en.Actor != "sync" || p["triggered_by"] != "alice" {
				t.Errorf("%s: actor %q, triggered_by %v; want sync, alice", en.Kind, en.Actor, p["triggered_by"])
			}
		}
		if !found["change.violation"] || !found["repository.synced"] {
			t.Errorf("entries found: %v", found)
		}
	})
}

// syncEvidence returns the evidence of every repository.synced entry.
func syncEvidence(t *testing.T, db *store.DB) string {
	t.Helper()
	var out strings.Builder
	err := db.View(ctx, func(tx *store.Tx) error {
		es, err := tx.ListEntries(ctx, ledger.EntryFilter{Kind: "repository.synced", Limit: 100})
		if err != nil {
			return err
		}
		for _, en := range es {
			var p struct {
				Evidence string `json:"evidence"`
			}
			if err := json.Unmarshal(en.Payload, &p); err != nil {
				return err
			}
			b, err := tx.Blob(ctx, strings.TrimPrefix(p.Evidence, "sha256:"))
			if err != nil {
				return err
			}
			out.Write(b.Content)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}
