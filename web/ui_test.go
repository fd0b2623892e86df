package web_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/auth"
)

// form posts a UI form with the session cookie and returns status and page.
func (e *env) form(cookie *http.Cookie, path string, v url.Values) (int, string) {
	e.t.Helper()
	resp := e.do("POST", path, "", strings.NewReader(v.Encode()), map[string]string{
		"Cookie": cookie.Name + "=" + cookie.Value, "Content-Type": "application/x-www-form-urlencoded"})
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) page(cookie *http.Cookie, path string) (int, string) {
	e.t.Helper()
	resp := e.do("GET", path, "", nil, map[string]string{"Cookie": cookie.Name + "=" + cookie.Value})
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestUsersPage(t *testing.T) {
	e := newSQLiteEnv(t)
	admin, csrf := e.signIn("admin")
	st, body := e.form(admin, "/users", url.Values{"csrf_token": {csrf}, "username": {"dora"}, "display_name": {"Dora <b>"},
		"email": {"dora@example.com"}, "role": {"infra_ops"}, "password": {"correct horse battery"}})
	if st != http.StatusCreated || !strings.Contains(body, "Created dora (infra_ops)") || !strings.Contains(body, `id="user-dora"`) {
		t.Fatalf("create: %d\n%s", st, body)
	}
	if strings.Contains(body, "Dora <b>") || !strings.Contains(body, "Dora &lt;b&gt;") {
		t.Error("a display name is not escaped")
	}
	st, body = e.form(admin, "/users", url.Values{"csrf_token": {csrf}, "username": {"dora"}, "role": {"engineer"}, "password": {"correct horse battery"}})
	if st != http.StatusConflict || !strings.Contains(body, "already exists") {
		t.Errorf("duplicate: %d", st)
	}
	if st, body = e.form(admin, "/users/dora/disable", url.Values{"csrf_token": {csrf}}); st != 200 || !strings.Contains(body, "Disabled dora") {
		t.Errorf("disable: %d", st)
	}
	// An auditor sees the list, not the forms, and cannot post them.
	aud, acsrf := e.signIn("auditor")
	_, body = e.page(aud, "/users")
	if !strings.Contains(body, `id="user-dora"`) || strings.Contains(body, `id="add-user"`) || strings.Contains(body, ">Disable<") {
		t.Error("auditor's users page offers changes or lacks the list")
	}
	if st, _ := e.form(aud, "/users", url.Values{"csrf_token": {acsrf}, "username": {"eve"}, "role": {"admin"}, "password": {"correct horse battery"}}); st != http.StatusForbidden {
		t.Errorf("auditor created a user: %d", st)
	}
}

func TestTokensPage(t *testing.T) {
	e := newSQLiteEnv(t)
	eng, csrf := e.signIn("engineer")
	st, body := e.form(eng, "/tokens", url.Values{"csrf_token": {csrf}, "name": {"laptop"}, "ttl_days": {"7"}})
	if st != http.StatusCreated {
		t.Fatalf("create: %d\n%s", st, body)
	}
	m := regexp.MustCompile(`<pre id="secret">([^<]+)</pre>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the new secret is not shown")
	}
	if resp := e.do("GET", "/api/v1/me", m[1], nil, nil); resp.StatusCode != 200 {
		t.Fatalf("the shown secret does not authenticate: %d", resp.StatusCode)
	}
	_, again := e.page(eng, "/tokens")
	if strings.Contains(again, m[1]) {
		t.Error("the secret is shown a second time")
	}
	var list struct {
		Items []auth.Token `json:"items"`
	}
	jsonBody(t, e.do("GET", "/api/v1/tokens?user=engineer", e.tokens[auth.Engineer], nil, nil), &list)
	var mine string
	for _, tok := range list.Items {
		if tok.Name == "laptop" {
			mine = tok.ID
		}
	}
	if !strings.Contains(again, `id="token-`+mine+`"`) {
		t.Errorf("token %s is not listed on the page", mine)
	}
	if st, _ := e.form(eng, "/tokens/"+mine+"/revoke", url.Values{"csrf_token": {csrf}}); st != 200 {
		t.Fatalf("revoke %s: %d", mine, st)
	}
	if resp := e.do("GET", "/api/v1/me", m[1], nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked token still works: %d", resp.StatusCode)
	}
}

func TestControlPage(t *testing.T) {
	e := newSQLiteEnv(t)
	iso, csrf := e.signIn("security-officer")
	e.form(iso, "/controls/run", url.Values{"csrf_token": {csrf}})
	st, body := e.page(iso, "/controls/LG-3.ledger-verifies")
	if st != 200 || !strings.Contains(body, "LG-3") || !strings.Contains(body, "entries") || !strings.Contains(body, `pill pass`) {
		t.Errorf("control page: %d\n%s", st, body)
	}
	if st, _ := e.page(iso, "/controls/NOPE-1"); st != http.StatusNotFound {
		t.Errorf("unknown control: %d", st)
	}
}

func TestChangePasswordAndRole(t *testing.T) {
	e := newSQLiteEnv(t)
	eng, csrf := e.signIn("engineer")
	st, body := e.form(eng, "/account/password", url.Values{"csrf_token": {csrf}, "current_password": {password}, "password": {"new password one"}, "password_again": {"new password two"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "differ") {
		t.Errorf("mismatched new passwords: %d", st)
	}
	st, body = e.form(eng, "/account/password", url.Values{"csrf_token": {csrf}, "current_password": {"not the password"}, "password": {"new password one"}, "password_again": {"new password one"}})
	if st != http.StatusForbidden || !strings.Contains(body, "current password is wrong") {
		t.Errorf("wrong current password: %d", st)
	}
	if st, _ := e.form(eng, "/account/password", url.Values{"csrf_token": {csrf}, "current_password": {password}, "password": {"new password one"}, "password_again": {"new password one"}}); st != http.StatusSeeOther {
		t.Fatalf("change: %d", st)
	}
	if st, _ := e.page(eng, "/account"); st != http.StatusSeeOther {
		t.Errorf("the old session still works after the change: %d", st)
	}
	resp := e.do("POST", "/api/v1/session", "", strings.NewReader(`{"username":"engineer","password":"new password one"}`), nil)
	if resp.StatusCode != 200 {
		t.Errorf("sign in with the new password: %d", resp.StatusCode)
	}
	// Roles: over the API, admins only.
	if resp := e.do("POST", "/api/v1/users/engineer/role", e.tokens[auth.EngineeringHead], strings.NewReader(`{"role":"admin"}`), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("engineering head changed a role: %d", resp.StatusCode)
	}
	resp = e.do("POST", "/api/v1/users/engineer/role", e.tokens[auth.Admin], strings.NewReader(`{"role":"engineering_head"}`), nil)
	var u auth.User
	jsonBody(t, resp, &u)
	if resp.StatusCode != 200 || u.Role != auth.EngineeringHead {
		t.Errorf("promote: %d %+v", resp.StatusCode, u)
	}
	// The engineer's token now carries the new role at once.
	if resp := e.do("POST", "/api/v1/controls/runs", e.tokens[auth.Engineer], nil, nil); resp.StatusCode != http.StatusCreated {
		t.Errorf("promoted user cannot run controls: %d", resp.StatusCode)
	}
}
