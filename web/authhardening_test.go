package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/web"
)

// An administrator holds no credential of another person: its token for a
// security officer is refused, for an agent allowed; it revokes anyone's.
func TestAdminTokensOnlyForAgents(t *testing.T) {
	e := newSQLiteEnv(t)
	admin := e.tokens[auth.Admin]
	cases := []struct {
		body string
		want int
	}{
		{`{"name":"x","user":"security-officer"}`, http.StatusForbidden},
		{`{"name":"x","user":"engineer"}`, http.StatusForbidden},
		{`{"name":"x","user":"agent"}`, http.StatusCreated},
		{`{"name":"x"}`, http.StatusCreated},
	}
	for _, tc := range cases {
		if resp := e.do("POST", "/api/v1/tokens", admin, strings.NewReader(tc.body), nil); resp.StatusCode != tc.want {
			t.Errorf("admin POST /api/v1/tokens %s: %d, want %d", tc.body, resp.StatusCode, tc.want)
		}
	}
	soID, _, _ := strings.Cut(e.tokens[auth.SecurityOfficer], ".")
	if resp := e.do("DELETE", "/api/v1/tokens/"+soID, admin, nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("admin revoking the officer's token: %d", resp.StatusCode)
	}
}

// A write made with a token names the token in its ledger entry.
func TestLedgerEntryNamesTheToken(t *testing.T) {
	e := newSQLiteEnv(t)
	tok := e.tokens[auth.SecurityOfficer]
	if resp := e.do("POST", "/api/v1/controls/runs", tok, nil, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("run: %d", resp.StatusCode)
	}
	var es struct{ Items []ledger.Entry }
	jsonBody(t, e.do("GET", "/api/v1/ledger/entries?kind=controls.run&actor=security-officer", tok, nil, nil), &es)
	id, _, _ := strings.Cut(tok, ".")
	if len(es.Items) != 1 || es.Items[0].Actor != "security-officer via "+id {
		t.Errorf("%d entries, first by %q; want one by security-officer via %s", len(es.Items), actorOf(es.Items), id)
	}
}

// A reset password serves only to choose a new one.
func TestPasswordResetForcesAChange(t *testing.T) {
	e := newSQLiteEnv(t)
	resp := e.do("POST", "/api/v1/users/engineer/password/reset", e.tokens[auth.Admin], strings.NewReader(`{}`), nil)
	var reset struct {
		OneTimePassword string `json:"one_time_password"`
	}
	jsonBody(t, resp, &reset)
	if resp.StatusCode != http.StatusOK || reset.OneTimePassword == "" {
		t.Fatalf("reset: %d %+v", resp.StatusCode, reset)
	}
	if resp := e.do("POST", "/api/v1/users/engineer/password", e.tokens[auth.Admin], strings.NewReader(`{"password":"chosen by the admin"}`), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("admin setting a password: %d", resp.StatusCode)
	}
	signIn := func(pw string) (map[string]string, string) {
		resp := e.do("POST", "/api/v1/session", "", strings.NewReader(`{"username":"engineer","password":"`+pw+`"}`), nil)
		var me struct {
			User      auth.User `json:"user"`
			CSRFToken string    `json:"csrf_token"`
		}
		jsonBody(t, resp, &me)
		if resp.StatusCode != 200 {
			t.Fatalf("sign in: %d", resp.StatusCode)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "opsguard_session" {
				return map[string]string{"Cookie": c.Name + "=" + c.Value, "X-CSRF-Token": me.CSRFToken}, me.CSRFToken
			}
		}
		t.Fatal("no session cookie")
		return nil, ""
	}
	hdr, _ := signIn(reset.OneTimePassword)
	resp = e.do("GET", "/api/v1/findings", "", nil, hdr)
	if b := errorOf(t, resp); resp.StatusCode != http.StatusForbidden || b.Error.Details["must_change_password"] != true {
		t.Errorf("a read before the change: %d %+v", resp.StatusCode, b)
	}
	if resp := e.do("POST", "/api/v1/tokens", "", strings.NewReader(`{"name":"keep"}`), hdr); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a token before the change: %d", resp.StatusCode)
	}
	if resp := e.do("GET", "/", "", nil, hdr); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account" {
		t.Errorf("the dashboard before the change: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := e.do("GET", "/api/v1/me", "", nil, hdr); resp.StatusCode != http.StatusOK {
		t.Errorf("me before the change: %d", resp.StatusCode)
	}
	body, _ := json.Marshal(map[string]string{"current_password": reset.OneTimePassword, "password": "the engineer's own"})
	if resp := e.do("POST", "/api/v1/users/engineer/password", "", strings.NewReader(string(body)), hdr); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("change: %d", resp.StatusCode)
	}
	hdr, _ = signIn("the engineer's own")
	if resp := e.do("GET", "/api/v1/findings", "", nil, hdr); resp.StatusCode != http.StatusOK {
		t.Errorf("a read after the change: %d", resp.StatusCode)
	}
	var es struct{ Items []ledger.Entry }
	jsonBody(t, e.do("GET", "/api/v1/ledger/entries?kind=user.password_reset", e.tokens[auth.Auditor], nil, nil), &es)
	if len(es.Items) != 1 || !strings.HasPrefix(es.Items[0].Actor, "admin via tok_") {
		t.Errorf("%d reset entries, first by %q", len(es.Items), actorOf(es.Items))
	}
}

// Behind a trusted proxy the client is the X-Forwarded-For address, and
// one person's typos there lock out only that person at that address;
// from anyone else the header is ignored.
func TestSignInThrottleBehindAProxy(t *testing.T) {
	e := newSQLiteEnv(t)
	direct := e.http
	e.app.Config.Server.TrustedProxies = []string{"127.0.0.0/8"}
	proxied := httptest.NewServer(web.New(e.app, nil).Handler())
	defer proxied.Close()
	signIn := func(srv *httptest.Server, user, pw, xff string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/session", strings.NewReader(`{"username":"`+user+`","password":"`+pw+`"}`))
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 5 {
		signIn(proxied, "engineer", "wrong password!", "203.0.113.5, 127.0.0.2")
	}
	checks := []struct {
		name     string
		srv      *httptest.Server
		user, pw string
		xff      string
		want     int
	}{
		{"the typist at its address", proxied, "engineer", password, "203.0.113.5", http.StatusTooManyRequests},
		{"a colleague at that address", proxied, "auditor", password, "203.0.113.5", http.StatusOK},
		{"the typist elsewhere", proxied, "engineer", password, "198.51.100.7", http.StatusOK},
	}
	for _, c := range checks {
		if got := signIn(c.srv, c.user, c.pw, c.xff); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	var es struct{ Items []ledger.Entry }
	jsonBody(t, e.do("GET", "/api/v1/ledger/entries?kind=auth.sign_in_failed&limit=1", e.tokens[auth.Auditor], nil, nil), &es)
	if len(es.Items) != 1 || !strings.Contains(string(es.Items[0].Payload), `"remote_addr":"203.0.113.5"`) {
		t.Errorf("newest failure: %s, want remote_addr 203.0.113.5", payloadOf(es.Items))
	}
	// Without trust, a client cannot pick a fresh address per attempt.
	for i := range 5 {
		signIn(direct, "infra-ops", "wrong password!", "192.0.2."+string(rune('1'+i)))
	}
	if got := signIn(direct, "infra-ops", password, "192.0.2.99"); got != http.StatusTooManyRequests {
		t.Errorf("a forged X-Forwarded-For from an untrusted peer: %d, want 429", got)
	}
}

func actorOf(es []ledger.Entry) string {
	if len(es) == 0 {
		return ""
	}
	return es[0].Actor
}

func payloadOf(es []ledger.Entry) string {
	if len(es) == 0 {
		return ""
	}
	return string(es[0].Payload)
}
