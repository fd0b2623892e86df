package web_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/policy"
)

// governance.attest_roles decides who may attest what, on the server: a
// role the route admits but the requirement does not gets a 403 naming
// the roles allowed, and nothing is filed.
func TestAttestRolesPerRequirement(t *testing.T) {
	e := newSQLiteEnv(t, func(c *config.Config) {
		c.Governance.AttestRoles = map[string][]string{"*": {"security_officer", "engineering_head", "infra_ops"}, "CM-9": {"engineering_head"}}
	})
	until := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	body := func(req string) io.Reader {
		return strings.NewReader(fmt.Sprintf(`{"requirement":%q,"statement":"Staging runs every change before production.","valid_until":%q,"evidence":[{"name":"s.txt","content":%q}]}`,
			req, until, base64.StdEncoding.EncodeToString([]byte("evidence"))))
	}
	cases := []struct {
		role auth.Role
		req  string
		want int
	}{
		{auth.InfraOps, "CM-9", http.StatusForbidden},
		{auth.SecurityOfficer, "CM-9", http.StatusForbidden},
		{auth.EngineeringHead, "CM-9", http.StatusCreated},
		{auth.InfraOps, "CM-10", http.StatusCreated}, // "*"
	}
	for _, tc := range cases {
		resp := e.do("POST", "/api/v1/attestations", e.tokens[tc.role], body(tc.req), nil)
		if resp.StatusCode != tc.want {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s attests %s: %d, want %d: %s", tc.role, tc.req, resp.StatusCode, tc.want, b)
		}
		if tc.want == http.StatusForbidden {
			msg := errorOf(t, resp).Error.Message
			if want := "the role " + string(tc.role) + " may not attest CM-9: governance.attest_roles allows engineering_head"; msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
		}
	}
	as, err := e.app.Policy.Attestations(ctx, "CM-9")
	if err != nil || len(as) != 1 || as[0].AttestedBy != "engineering-head" {
		t.Fatalf("CM-9's attestations: %+v, %v: want only the engineering head's", as, err)
	}
	r, err := e.app.Policy.Requirement(ctx, "CM-9")
	if err != nil || strings.Join(r.AttestRoles, ",") != "engineering_head" {
		t.Errorf("CM-9 shows attest roles %v (%v)", r.AttestRoles, err)
	}
}

// A draft is edited on its page by its author; a published version has
// no form, and a forged post is refused with its text unchanged.
func TestPolicyDraftEditForm(t *testing.T) {
	e := newSQLiteEnv(t)
	eh := policy.Actor{Name: "engineering-head", Username: "engineering-head", Role: "engineering_head"}
	so := policy.Actor{Name: "security-officer", Username: "security-officer", SecurityOfficer: true, Role: "security_officer"}
	if _, err := e.app.Policy.Draft(ctx, eh, "acceptable-use", policy.NewDraft{Title: "Acceptable use", Summary: "First", Source: "# Acceptable use at {{.Company}}\n\nLaptops are locked.\n"}); err != nil {
		t.Fatal(err)
	}
	author, csrf := e.signIn("engineering-head")
	if _, body := e.page(author, "/policies/acceptable-use"); !strings.Contains(body, `id="edit-1"`) {
		t.Fatal("the author's page has no edit form for the draft")
	}
	other, ocsrf := e.signIn("security-officer")
	if _, body := e.page(other, "/policies/acceptable-use"); strings.Contains(body, `id="edit-1"`) {
		t.Error("another writer sees the author's edit form")
	}
	edit := func(c *http.Cookie, token, source string) (int, string) {
		return e.form(c, "/policies/acceptable-use/versions/1/edit", url.Values{"csrf_token": {token}, "summary": {"Encryption too"}, "source": {source}})
	}
	if st, body := edit(author, csrf, "# Acceptable use at {{.Company}}\r\n\r\nLaptops are locked and encrypted.\r\n"); st != 200 || !strings.Contains(body, "Version 1 edited") {
		t.Fatalf("the author's edit: %d", st)
	}
	if st, _ := edit(other, ocsrf, "# Mine now"); st != http.StatusForbidden {
		t.Errorf("another writer's edit: %d, want 403", st)
	}
	for _, step := range []func() (policy.Version, error){
		func() (policy.Version, error) { return e.app.Policy.Submit(ctx, eh, "acceptable-use", 1) },
		func() (policy.Version, error) { return e.app.Policy.Approve(ctx, so, "acceptable-use", 1, "fine") },
		func() (policy.Version, error) { return e.app.Policy.Publish(ctx, eh, "acceptable-use", 1) },
	} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	before, err := e.app.Policy.Document(ctx, "acceptable-use")
	if err != nil {
		t.Fatal(err)
	}
	if _, body := e.page(author, "/policies/acceptable-use"); strings.Contains(body, `id="edit-1"`) {
		t.Error("a published version has an edit form")
	}
	if st, body := edit(author, csrf, "# Rewritten after publication"); st != http.StatusConflict || !strings.Contains(body, "only a draft can be edited") {
		t.Errorf("an edit of the published version: %d, want 409 saying only a draft can be edited", st)
	}
	after, _ := e.app.Policy.Document(ctx, "acceptable-use")
	if v := after.Versions[0]; v.SHA256 != before.Versions[0].SHA256 || !strings.Contains(v.Text, "locked and encrypted") || v.State != policy.Published {
		t.Errorf("the published version changed: %s %s", v.State, v.SHA256)
	}
}

// The compliance view shows the trend of its counts, drawn and as a
// table; the API answers the same days.
func TestRequirementsTrend(t *testing.T) {
	e := newSQLiteEnv(t)
	if made, err := e.app.Policy.RecordCompliance(ctx); err != nil || !made {
		t.Fatalf("record: %v %v", made, err)
	}
	resp := e.do("GET", "/api/v1/requirements/trend?days=7", e.tokens[auth.Auditor], nil, nil)
	var got struct{ Items []policy.DayCounts }
	jsonBody(t, resp, &got)
	if resp.StatusCode != 200 || len(got.Items) != 1 || !got.Items[0].Live || got.Items[0].Counts["gap"] == 0 {
		t.Fatalf("trend: %d %+v", resp.StatusCode, got)
	}
	if resp := e.do("GET", "/api/v1/requirements/trend?days=401", e.tokens[auth.Auditor], nil, nil); resp.StatusCode != 400 {
		t.Errorf("days=401: %d", resp.StatusCode)
	}
	cookie, _ := e.signIn("auditor")
	_, body := e.page(cookie, "/requirements")
	for _, want := range []string{`<svg class="counts"`, `<rect class="gap"`, `id="trend-table"`, "(now)"} {
		if !strings.Contains(body, want) {
			t.Errorf("/requirements lacks %q", want)
		}
	}
}
