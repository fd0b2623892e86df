package web_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store/storetest"
)

// srcRepo is a real git repository the tests commit to, as developers
// would push to a forge.
type srcRepo struct {
	t   testing.TB
	dir string
	n   int
}

func newSrcRepo(t testing.TB) *srcRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		storetest.Missing(t, "git is not installed")
	}
	r := &srcRepo{t: t, dir: filepath.Join(t.TempDir(), "app")}
	os.MkdirAll(r.dir, 0o755)
	r.git("x <x@example.com>", "init", "--quiet", "--initial-branch=main")
	return r
}

func (r *srcRepo) git(who string, args ...string) string {
	r.t.Helper()
	name, email, _ := strings.Cut(who, " <")
	email = strings.TrimSuffix(email, ">")
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email,
		"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *srcRepo) commit(who, msg string) string {
	r.t.Helper()
	r.n++
	if err := os.WriteFile(filepath.Join(r.dir, fmt.Sprintf("f%d", r.n)), []byte(msg), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.git(who, "add", "-A")
	r.git(who, "commit", "--quiet", "-m", msg)
	return r.git(who, "rev-parse", "HEAD")
}

func jsonReader(v string) *strings.Reader { return strings.NewReader(v) }

// TestChangeRegisterOverTheAPI walks the register through the API: a
// repository is watched and synced, the violations show, segregation of
// duties holds for reviews, exceptions and tickets, and a signed webhook
// makes a direct push show up without a scheduled sync.
func TestChangeRegisterOverTheAPI(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			e := newEnv(t, be.DSN(t), localRepos)
			src := newSrcRepo(t)
			initial := src.commit("Erik <engineer@example.com>", "Initial import")
			hotfix := src.commit("Bob <bob@example.com>", "Hotfix checkout\n\nEmergency: checkout down, INC-7")
			if _, err := e.app.Auth.CreateUser(ctx, auth.CLI("test"), auth.NewUser{Username: "bob", Email: "bob@example.com", Role: auth.Engineer, Password: password}); err != nil {
				t.Fatal(err)
			}
			bobToken := ownToken(t, e.app, "bob")

			add := `{"name":"app","url":"` + src.dir + `","project":"acme/app","branches":["main"]}`
			if resp := e.do("POST", "/api/v1/repositories", e.tokens[auth.Engineer], jsonReader(add), nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("engineer adds a repository: %d", resp.StatusCode)
			}
			if resp := e.do("POST", "/api/v1/repositories", e.tokens[auth.InfraOps], jsonReader(add), nil); resp.StatusCode != http.StatusCreated {
				t.Fatalf("add: %d %+v", resp.StatusCode, errorOf(t, resp))
			}
			resp := e.do("POST", "/api/v1/repositories/app/sync", e.tokens[auth.InfraOps], nil, nil)
			var res change.SyncResult
			jsonBody(t, resp, &res)
			if resp.StatusCode != 200 || res.Branches[0].New != 2 || res.Branches[0].Head != hotfix {
				t.Fatalf("sync: %d %+v", resp.StatusCode, res)
			}

			var list struct {
				Items []change.Change `json:"items"`
				Total int             `json:"total"`
			}
			jsonBody(t, e.do("GET", "/api/v1/changes?repo=app&verdict=emergency", e.tokens[auth.Auditor], nil, nil), &list)
			if list.Total != 1 || list.Items[0].SHA != hotfix || list.Items[0].EmergencyWhy != "checkout down, INC-7" {
				t.Fatalf("emergency changes: %+v", list)
			}

			// The author may not review their own emergency change; another
			// engineer may, with the checklist.
			review := `{"comment":"the fix is right","checklist":{"solves_problem":"yes","side_effects":"no"}}`
			if resp := e.do("POST", "/api/v1/changes/"+hotfix+"/review", bobToken, jsonReader(review), nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("author reviews own change: %d", resp.StatusCode)
			} else if b := errorOf(t, resp); !strings.Contains(b.Error.Message, "segregation of duties") {
				t.Errorf("author reviews own change: %s", b.Error.Message)
			}
			if resp := e.do("POST", "/api/v1/changes/"+hotfix[:12]+"/review", e.tokens[auth.Auditor], jsonReader(review), nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("auditor reviews: %d", resp.StatusCode)
			}
			var d change.Detail
			resp = e.do("POST", "/api/v1/changes/"+hotfix[:12]+"/review", e.tokens[auth.Engineer], jsonReader(review), nil)
			jsonBody(t, resp, &d)
			if resp.StatusCode != http.StatusCreated || d.Verdict != change.Pass || len(d.Reviews) != 1 || d.Reviews[0].Checklist["solves_problem"] != "yes" {
				t.Errorf("review: %d %+v", resp.StatusCode, d)
			}

			// An exception is a security officer's, with a reason; the
			// author of the change (engineer@example.com) is not one.
			exc := `{"justification":"initial import of the repository from the old server"}`
			if resp := e.do("POST", "/api/v1/changes/"+initial+"/exception", e.tokens[auth.EngineeringHead], jsonReader(exc), nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("engineering head grants an exception: %d", resp.StatusCode)
			}
			resp = e.do("POST", "/api/v1/changes/"+initial+"/exception", e.tokens[auth.SecurityOfficer], jsonReader(exc), nil)
			jsonBody(t, resp, &d)
			if resp.StatusCode != 200 || d.Verdict != change.Exception || len(d.Violations) == 0 {
				t.Errorf("exception: %d %+v", resp.StatusCode, d.Change)
			}

			// Webhooks: a bad signature is refused and recorded; a good one
			// syncs at once.
			secret := filepath.Join(t.TempDir(), "hook")
			os.WriteFile(secret, []byte("s3cret-hook\n"), 0o600)
			e.app.Config.Change.WebhookSecretFile = secret
			push := src.commit("Erik <engineer@example.com>", "Quick fix straight on main")
			body := `{"ref":"refs/heads/main","after":"` + push + `","repository":{"full_name":"acme/app","clone_url":"https://github.com/acme/app.git"}}`
			hdr := map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": "sha256=" + strings.Repeat("0", 64)}
			if resp := e.do("POST", "/api/v1/webhooks/github", "", jsonReader(body), hdr); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("forged webhook: %d", resp.StatusCode)
			}
			if !ledgerHas(t, e, "auth.credential_rejected", "webhook:github") {
				t.Error("the forged delivery is not in the ledger")
			}
			mac := hmac.New(sha256.New, []byte("s3cret-hook"))
			mac.Write([]byte(body))
			hdr["X-Hub-Signature-256"] = "sha256=" + hex.EncodeToString(mac.Sum(nil))
			var hook struct {
				Syncing []string `json:"syncing"`
			}
			resp = e.do("POST", "/api/v1/webhooks/github", "", jsonReader(body), hdr)
			jsonBody(t, resp, &hook)
			if resp.StatusCode != http.StatusAccepted || len(hook.Syncing) != 1 || hook.Syncing[0] != "app" {
				t.Fatalf("webhook: %d %+v", resp.StatusCode, hook)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				var d change.Detail
				resp := e.do("GET", "/api/v1/changes/"+push, e.tokens[auth.Auditor], nil, nil)
				if resp.StatusCode == 200 {
					jsonBody(t, resp, &d)
					if d.Verdict != change.Fail || d.Kind != change.KindDirect {
						t.Errorf("the pushed change: %+v", d.Change)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the direct push did not show up within 20s of the webhook")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// ledgerHas reports whether an entry of kind mentions text.
func ledgerHas(t *testing.T, e *env, kind, text string) bool {
	t.Helper()
	es, err := e.app.Entries(ctx, ledger.EntryFilter{Kind: kind, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if strings.Contains(string(en.Payload), text) {
			return true
		}
	}
	return false
}

// TestTicketsOverTheAPI walks a ticket from draft to verified and checks
// that the owner cannot approve, an engineer cannot approve, and the
// approver cannot implement.
func TestTicketsOverTheAPI(t *testing.T) {
	e := newSQLiteEnv(t)
	var tk change.Ticket
	from, to := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	create := `{"title":"Open port 443 on the edge firewall","description":"New ingress for the API","category":"network","impact":"edge traffic",
		"risk":"medium","rollback":"remove rule 42 from the edge firewall","window_start":"` + from + `","window_end":"` + to + `"}`
	resp := e.do("POST", "/api/v1/tickets", e.tokens[auth.Engineer], jsonReader(create), nil)
	jsonBody(t, resp, &tk)
	if resp.StatusCode != http.StatusCreated || tk.State != change.TicketDraft || tk.Owner != "engineer" {
		t.Fatalf("create: %d %+v", resp.StatusCode, tk)
	}
	step := func(token, action string, want int) change.Ticket {
		t.Helper()
		resp := e.do("POST", "/api/v1/tickets/"+tk.ID+"/"+action, token, jsonReader(`{"note":"as planned in CAB"}`), nil)
		if resp.StatusCode != want {
			t.Fatalf("%s: %d, want %d: %+v", action, resp.StatusCode, want, errorOf(t, resp))
		}
		var out change.Ticket
		if want == 200 {
			jsonBody(t, resp, &out)
		}
		return out
	}
	step(e.tokens[auth.Engineer], "implement", http.StatusConflict) // not approved yet
	step(e.tokens[auth.Engineer], "submit", 200)
	step(e.tokens[auth.Engineer], "approve", http.StatusForbidden) // role
	if got := step(e.tokens[auth.EngineeringHead], "approve", 200); got.State != change.TicketApproved || got.DecidedBy != "engineering-head" {
		t.Errorf("approved: %+v", got)
	}
	step(e.tokens[auth.EngineeringHead], "implement", http.StatusForbidden) // the approver
	step(e.tokens[auth.Engineer], "implement", 200)
	if got := step(e.tokens[auth.Engineer], "verify", 200); got.State != change.TicketVerified {
		t.Errorf("verified: %+v", got)
	}
	if !ledgerHasSubject(t, e, "ticket/"+tk.ID, "ticket.approved") {
		t.Error("the approval is not in the ledger")
	}

	// A change carried out without an approval is recorded, and CM-5
	// fails on it.
	resp = e.do("POST", "/api/v1/tickets/unapproved", e.tokens[auth.InfraOps],
		jsonReader(`{"title":"Emergency firewall rule","category":"network","note":"blocked an attack at 3am, nobody to approve"}`), nil)
	var rec change.Ticket
	jsonBody(t, resp, &rec)
	if resp.StatusCode != http.StatusCreated || rec.State != change.TicketImplemented || rec.DecidedBy != "" {
		t.Fatalf("record unapproved: %d %+v", resp.StatusCode, rec)
	}
	var run struct {
		Results []struct {
			ControlID string `json:"control_id"`
			Status    string `json:"status"`
			Summary   string `json:"summary"`
		} `json:"results"`
	}
	jsonBody(t, e.do("POST", "/api/v1/controls/runs", e.tokens[auth.SecurityOfficer], nil, nil), &run)
	found := false
	for _, r := range run.Results {
		if r.ControlID == "CM-5.tickets-approved" {
			found = true
			if r.Status != "fail" || !strings.Contains(r.Summary, "1 of 2") {
				t.Errorf("CM-5: %+v", r)
			}
		}
	}
	if !found {
		t.Errorf("no CM-5 result in %+v", run)
	}
}

func ledgerHasSubject(t *testing.T, e *env, subject, kind string) bool {
	t.Helper()
	es, err := e.app.Entries(ctx, ledger.EntryFilter{Subject: subject, Kind: kind, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return len(es) > 0
}

// A GitLab push hook carries the shared secret as a token: a wrong one is
// refused, the right one syncs the repository it names.
func TestGitLabWebhook(t *testing.T) {
	e := newSQLiteEnv(t)
	src := newSrcRepo(t)
	src.commit("Erik <erik@example.com>", "Initial import")
	if _, err := e.app.Change.AddRepository(ctx, change.Actor{Name: "test", Local: true}, change.Repository{Name: "app", URL: src.dir, Source: change.SourceGit, Project: "group/app"}); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "hook")
	os.WriteFile(secret, []byte("gl-token"), 0o600)
	e.app.Config.Change.WebhookSecretFile = secret
	body := `{"object_kind":"push","ref":"refs/heads/main","after":"x","project":{"path_with_namespace":"group/app","git_http_url":"https://gitlab.example/group/app.git"}}`
	hdr := map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "wrong"}
	if resp := e.do("POST", "/api/v1/webhooks/gitlab", "", jsonReader(body), hdr); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", resp.StatusCode)
	}
	hdr["X-Gitlab-Token"] = "gl-token"
	var hook struct {
		Syncing []string `json:"syncing"`
	}
	resp := e.do("POST", "/api/v1/webhooks/gitlab", "", jsonReader(body), hdr)
	jsonBody(t, resp, &hook)
	if resp.StatusCode != http.StatusAccepted || len(hook.Syncing) != 1 {
		t.Fatalf("webhook: %d %+v", resp.StatusCode, hook)
	}
	// Another branch of the same project moves nothing protected.
	other := strings.Replace(body, "refs/heads/main", "refs/heads/feature", 1)
	resp = e.do("POST", "/api/v1/webhooks/gitlab", "", jsonReader(other), hdr)
	jsonBody(t, resp, &hook)
	if resp.StatusCode != http.StatusAccepted || len(hook.Syncing) != 0 {
		t.Errorf("push to an unprotected branch: %d %+v", resp.StatusCode, hook)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, n, _ := e.app.Change.List(ctx, change.Filter{Repo: "app"}); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the GitLab hook did not sync the repository")
		}
	}
}

// The change pages' forms: watch and sync a repository, review an
// emergency change with the checklist, grant an exception; the control's
// page then links to the changes it names.
func TestChangePageForms(t *testing.T) {
	e := newSQLiteEnv(t, localRepos)
	src := newSrcRepo(t)
	direct := src.commit("Erik <erik@example.com>", "Straight to main")
	hotfix := src.commit("Erik <erik@example.com>", "Hotfix\n\nEmergency: outage INC-1")
	iso, isoCSRF := e.signIn("security-officer")
	eng, engCSRF := e.signIn("engineer")

	if st, body := e.form(eng, "/repositories", url.Values{"csrf_token": {engCSRF}, "name": {"app"}, "url": {src.dir}}); st != http.StatusForbidden {
		t.Errorf("engineer adds a repository: %d\n%s", st, body)
	}
	st, body := e.form(iso, "/repositories", url.Values{"csrf_token": {isoCSRF}, "name": {"app"}, "url": {src.dir}, "branches": {"main"}, "bots": {"dependabot[bot], renovate[bot]"}})
	if st != http.StatusCreated || !strings.Contains(body, "Watching app") {
		t.Fatalf("add: %d\n%s", st, body)
	}
	st, body = e.form(iso, "/repositories/app/sync", url.Values{"csrf_token": {isoCSRF}})
	if st != http.StatusOK || !strings.Contains(body, "Synced app (main: 2 new, 2 failing)") {
		t.Fatalf("sync: %d\n%s", st, body)
	}
	h, err := e.app.Change.Get(ctx, hotfix)
	if err != nil {
		t.Fatal(err)
	}
	st, body = e.form(eng, "/changes/"+h.ID+"/review", url.Values{"csrf_token": {engCSRF}, "comment": {"right fix"}, "solves_problem": {"yes"}, "performance": {"n/a"}})
	if st != http.StatusOK || !strings.Contains(body, "Review recorded: the change now passes") {
		t.Errorf("review: %d\n%s", st, body)
	}
	d, _ := e.app.Change.Get(ctx, direct)
	if st, _ := e.form(eng, "/changes/"+d.ID+"/exception", url.Values{"csrf_token": {engCSRF}, "justification": {"initial import of the repo"}}); st != http.StatusForbidden {
		t.Errorf("engineer grants an exception: %d", st)
	}
	st, body = e.form(iso, "/changes/"+d.ID+"/exception", url.Values{"csrf_token": {isoCSRF}, "justification": {"x"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "justification of at least 15") {
		t.Errorf("short justification: %d", st)
	}
	e.form(iso, "/controls/run", url.Values{"csrf_token": {isoCSRF}})
	st, body = e.page(iso, "/controls/CM-2.no-direct-push")
	if st != 200 || !strings.Contains(body, `href="/changes/`+d.ID+`"`) {
		t.Errorf("the CM-2 page does not link the change: %d", st)
	}
	st, body = e.form(iso, "/changes/"+d.ID+"/exception", url.Values{"csrf_token": {isoCSRF}, "justification": {"initial import of the repository"}})
	if st != http.StatusOK || !strings.Contains(body, "Exception granted") {
		t.Errorf("exception: %d\n%s", st, body)
	}
	st, body = e.page(eng, "/changes?verdict=exception")
	if st != 200 || !strings.Contains(body, "Straight to main") || strings.Contains(body, "Hotfix") {
		t.Errorf("filtered list: %d", st)
	}
}

// The ticket's page says what the approver decided and noted, not the
// state the ticket has come to since, and names the CM-5 finding of a
// ticket carried out outside its approved window.
func TestTicketPage(t *testing.T) {
	e := newSQLiteEnv(t)
	open := func(from, to time.Time) change.Ticket {
		t.Helper()
		var tk change.Ticket
		body := fmt.Sprintf(`{"title":"Rotate the edge TLS certificate","description":"expires next week","category":"configuration","impact":"none",
			"risk":"low","rollback":"put the old certificate back","window_start":%q,"window_end":%q}`, from.Format(time.RFC3339), to.Format(time.RFC3339))
		jsonBody(t, e.do("POST", "/api/v1/tickets", e.tokens[auth.Engineer], jsonReader(body), nil), &tk)
		for _, s := range []struct {
			role         auth.Role
			action, note string
		}{
			{auth.Engineer, "submit", ""}, {auth.EngineeringHead, "approve", "Approved for the Thursday window"},
			{auth.Engineer, "implement", "done"}, {auth.Engineer, "verify", "works"},
		} {
			resp := e.do("POST", "/api/v1/tickets/"+tk.ID+"/"+s.action, e.tokens[s.role], jsonReader(fmt.Sprintf(`{"note":%q}`, s.note)), nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %+v", s.action, resp.StatusCode, errorOf(t, resp))
			}
			resp.Body.Close()
		}
		return tk
	}
	now := time.Now().UTC()
	inside := open(now.Add(-time.Hour), now.Add(time.Hour))
	late := open(now.Add(-48*time.Hour), now.Add(-47*time.Hour))
	auditor, _ := e.signIn("auditor")

	st, body := e.page(auditor, "/tickets/"+inside.ID)
	decision := regexp.MustCompile(`(?s)<td id="decision">(.*?)</td>`).FindStringSubmatch(body)
	if st != http.StatusOK || decision == nil {
		t.Fatalf("ticket page: %d\n%s", st, body)
	}
	if !strings.HasPrefix(decision[1], "approved by engineering-head") || !strings.Contains(decision[1], "Approved for the Thursday window") {
		t.Errorf("decision of a verified ticket: %q", decision[1])
	}
	if strings.Contains(body, `id="finding"`) {
		t.Errorf("a ticket carried out within its window shows a finding")
	}
	st, body = e.page(auditor, "/tickets/"+late.ID)
	finding := regexp.MustCompile(`(?s)<td id="finding">(.*?)</td>`).FindStringSubmatch(body)
	if st != http.StatusOK || finding == nil || !strings.Contains(finding[1], "CM-5") || !strings.Contains(finding[1], "after its approved window closed") {
		t.Errorf("a ticket carried out after its window: %d %q", st, finding)
	}
}

// A change that passed after its post-facto review still lists its
// violations; its page says that the review cleared them.
func TestChangePageReviewCleared(t *testing.T) {
	e := newSQLiteEnv(t)
	src := newSrcRepo(t)
	hotfix := src.commit("Erik <erik@example.com>", "Hotfix\n\nEmergency: outage INC-1")
	if _, err := e.app.Change.AddRepository(ctx, change.Actor{Name: "test", Local: true}, change.Repository{Name: "app", URL: src.dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Change.Sync(ctx, "test", "app", nil); err != nil {
		t.Fatal(err)
	}
	h, err := e.app.Change.Get(ctx, hotfix)
	if err != nil {
		t.Fatal(err)
	}
	eng, engCSRF := e.signIn("engineer")
	_, body := e.page(eng, "/changes/"+h.ID)
	if strings.Contains(body, `id="cleared"`) {
		t.Errorf("a change not yet reviewed says its violations were cleared")
	}
	st, body := e.form(eng, "/changes/"+h.ID+"/review", url.Values{"csrf_token": {engCSRF}, "comment": {"right fix"}, "solves_problem": {"yes"}})
	if st != http.StatusOK || !strings.Contains(body, "the change now passes") {
		t.Fatalf("review: %d\n%s", st, body)
	}
	_, body = e.page(eng, "/changes/"+h.ID)
	violations := regexp.MustCompile(`(?s)<td id="violations">(.*?)</td>`).FindStringSubmatch(body)
	cleared := regexp.MustCompile(`(?s)id="cleared"[^>]*>(.*?)</`).FindStringSubmatch(body)
	if violations == nil || !strings.Contains(violations[1], "CM-2") || !strings.Contains(violations[1], "cleared by the post-facto review") {
		t.Errorf("the violations do not say the review cleared them: %q", violations)
	}
	if cleared == nil || !strings.Contains(cleared[1], "post-facto review by engineer") || !strings.Contains(cleared[1], "cleared CM-2, CM-3") {
		t.Errorf("no word that the review cleared the violations: %q", cleared)
	}
}
