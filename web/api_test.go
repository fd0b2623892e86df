package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store/storetest"
)

func TestCSRF(t *testing.T) {
	e := newSQLiteEnv(t)
	cookie, csrf := e.signIn("security-officer")
	withCookie := func(extra map[string]string) map[string]string {
		h := map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	// Reads need no token.
	if resp := e.do("GET", "/api/v1/me", "", nil, withCookie(nil)); resp.StatusCode != 200 {
		t.Fatalf("GET with session: %d", resp.StatusCode)
	}
	tests := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"no token", nil, http.StatusForbidden},
		{"wrong token", map[string]string{"X-CSRF-Token": strings.Repeat("x", len(csrf))}, http.StatusForbidden},
		{"right token", map[string]string{"X-CSRF-Token": csrf}, http.StatusCreated},
		{"cross-site", map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do("POST", "/api/v1/controls/runs", "", nil, withCookie(tc.hdr))
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	// The UI's forms carry it as a field.
	form := func(v string) io.Reader { return strings.NewReader(url.Values{"csrf_token": {v}}.Encode()) }
	ct := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if resp := e.do("POST", "/controls/run", "", form("bogus"), withCookie(ct)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("form without the right token: %d", resp.StatusCode)
	}
	if resp := e.do("POST", "/controls/run", "", form(csrf), withCookie(ct)); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("form with the token: %d", resp.StatusCode)
	}
	// Bearer tokens are not cookies: no CSRF token needed.
	if resp := e.do("POST", "/api/v1/controls/runs", e.tokens[auth.SecurityOfficer], nil, nil); resp.StatusCode != http.StatusCreated {
		t.Errorf("bearer POST: %d", resp.StatusCode)
	}
}

func TestTokenRevokeTakesEffectImmediately(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnv(t, b.DSN(t))
			resp := e.do("POST", "/api/v1/tokens", e.tokens[auth.Engineer], strings.NewReader(`{"name":"ci-trivy","ttl_days":30}`), nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create: %d", resp.StatusCode)
			}
			var created struct {
				Token  auth.Token `json:"token"`
				Secret string     `json:"secret"`
			}
			jsonBody(t, resp, &created)
			if created.Token.Username != "engineer" || created.Secret == "" {
				t.Fatalf("created = %+v", created)
			}
			if resp := e.do("GET", "/api/v1/me", created.Secret, nil, nil); resp.StatusCode != 200 {
				t.Fatalf("new token: %d", resp.StatusCode)
			}
			// Another engineer may not revoke it; its owner may.
			if resp := e.do("DELETE", "/api/v1/tokens/"+created.Token.ID, e.tokens[auth.InfraOps], nil, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("revoke by another user: %d", resp.StatusCode)
			}
			if resp := e.do("DELETE", "/api/v1/tokens/"+created.Token.ID, e.tokens[auth.Engineer], nil, nil); resp.StatusCode != 200 {
				t.Fatalf("revoke: %d", resp.StatusCode)
			}
			resp = e.do("GET", "/api/v1/me", created.Secret, nil, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("revoked token: %d", resp.StatusCode)
			}
			errorOf(t, resp)
		})
	}
}

func TestBadRequestsGetTheErrorShape(t *testing.T) {
	e := newSQLiteEnv(t)
	admin := e.tokens[auth.Admin]
	tests := []struct {
		name, method, path, token, body string
		status                          int
		code, msg                       string
	}{
		{"truncated body", "POST", "/api/v1/users", admin, `{"username": "bob", "role": "engi`, 400, "invalid", "truncated"},
		{"wrong type", "POST", "/api/v1/users", admin, `{"username": 7}`, 400, "invalid", `"username"`},
		{"unknown field", "POST", "/api/v1/users", admin, `{"user": "bob"}`, 400, "invalid", "user"},
		{"empty body", "POST", "/api/v1/session", "", ``, 400, "invalid", "empty"},
		{"trailing data", "POST", "/api/v1/session", "", `{} {}`, 400, "invalid", "after"},
		{"short password", "POST", "/api/v1/users", admin, `{"username":"bob","role":"engineer","password":"x"}`, 400, "invalid", "password"},
		{"unknown role", "POST", "/api/v1/users", admin, `{"username":"bob","role":"boss","password":"correct horse battery"}`, 400, "invalid", "role"},
		{"duplicate user", "POST", "/api/v1/users", admin, `{"username":"engineer","role":"engineer","password":"correct horse battery"}`, 409, "conflict", "exists"},
		{"wrong password", "POST", "/api/v1/session", "", `{"username":"admin","password":"not it at all"}`, 401, "unauthenticated", "wrong"},
		{"malformed bearer", "GET", "/api/v1/me", "garbage", ``, 401, "unauthenticated", ""},
		{"bad seq", "GET", "/api/v1/ledger/entries/abc", admin, ``, 400, "invalid", "seq"},
		{"missing entry", "GET", "/api/v1/ledger/entries/999999", admin, ``, 404, "not_found", ""},
		{"bad query", "GET", "/api/v1/ledger/entries?limit=-3", admin, ``, 400, "invalid", "limit"},
		{"proof without seq", "GET", "/api/v1/ledger/proof/inclusion", admin, ``, 400, "invalid", "seq"},
		{"no such route", "GET", "/api/v1/nope", admin, ``, 404, "not_found", "no route"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" || tc.method == "POST" {
				body = strings.NewReader(tc.body)
			}
			resp := e.do(tc.method, tc.path, tc.token, body, nil)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			b := errorOf(t, resp)
			if b.Error.Code != tc.code || !strings.Contains(b.Error.Message, tc.msg) {
				t.Errorf("error = %+v, want code %s and %q", b.Error, tc.code, tc.msg)
			}
		})
	}
	// Nothing half-written: the rejected users do not exist.
	users, _ := e.app.Auth.ListUsers(ctx)
	for _, u := range users {
		if u.Username == "bob" {
			t.Error("a rejected request created bob")
		}
	}
}

func TestLedgerAPIProofsVerifyWithThePublicKey(t *testing.T) {
	e := newSQLiteEnv(t)
	tok := e.tokens[auth.Auditor]
	var cp struct {
		Size      int64  `json:"size"`
		Note      string `json:"note"`
		PublicKey string `json:"public_key"`
	}
	jsonBody(t, e.do("GET", "/api/v1/ledger/checkpoint", tok, nil, nil), &cp)
	if cp.Size < 10 || !strings.HasPrefix(cp.PublicKey, "opsguard/") {
		t.Fatalf("checkpoint = %+v", cp)
	}
	v, err := ledger.NewVerifier(cp.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var inc struct {
		Entry      ledger.Entry `json:"entry"`
		Checkpoint string       `json:"checkpoint"`
		Hashes     [][]byte     `json:"hashes"`
	}
	jsonBody(t, e.do("GET", "/api/v1/ledger/proof/inclusion?seq=3", tok, nil, nil), &inc)
	if err := ledger.VerifyInclusion(v, []byte(inc.Checkpoint), &inc.Entry, inc.Hashes); err != nil {
		t.Errorf("inclusion: %v", err)
	}
	var con struct {
		FromCheckpoint string   `json:"from_checkpoint"`
		ToCheckpoint   string   `json:"to_checkpoint"`
		Hashes         [][]byte `json:"hashes"`
	}
	jsonBody(t, e.do("GET", "/api/v1/ledger/proof/consistency?from=2&to="+itoa(cp.Size), tok, nil, nil), &con)
	if err := ledger.VerifyConsistency(v, []byte(con.FromCheckpoint), []byte(con.ToCheckpoint), con.Hashes); err != nil {
		t.Errorf("consistency: %v", err)
	}
	var rep struct {
		OK      bool  `json:"ok"`
		Entries int64 `json:"entries"`
	}
	jsonBody(t, e.do("POST", "/api/v1/ledger/verify", tok, nil, nil), &rep)
	if !rep.OK || rep.Entries != cp.Size {
		t.Errorf("verify = %+v", rep)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestMetricsAndAccessLog(t *testing.T) {
	e := newSQLiteEnv(t)
	e.do("POST", "/api/v1/session", "", strings.NewReader(`{"username":"admin","password":"`+password+`"}`), nil)
	resp := e.do("GET", "/metrics", e.tokens[auth.Auditor], nil, nil)
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`opsguard_http_requests_total{code="200",method="POST",route="POST /api/v1/session"} 1`, "opsguard_ledger_entries "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	resp = e.do("GET", "/healthz", "", nil, map[string]string{"X-Request-ID": "trace-42"})
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-ID") != "trace-42" {
		t.Errorf("healthz: %d, request id %q", resp.StatusCode, resp.Header.Get("X-Request-ID"))
	}
	if resp := e.do("GET", "/readyz", "", nil, nil); resp.StatusCode != 200 {
		t.Errorf("readyz: %d", resp.StatusCode)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"request_id":"trace-42"`) || !strings.Contains(logs, `"route":"GET /metrics"`) || !strings.Contains(logs, `"actor":"auditor"`) {
		t.Errorf("access log lacks request id, route or actor:\n%s", logs)
	}
	for _, secret := range []string{password, e.tokens[auth.Auditor]} {
		if strings.Contains(logs, secret) {
			t.Fatal("a secret reached the log")
		}
	}
}

// Session cookies are Secure except on plain HTTP to a loopback host, and
// the config can force either way.
func TestSessionCookieSecure(t *testing.T) {
	e := newSQLiteEnv(t)
	body := `{"username":"admin","password":"` + password + `"}`
	cookie := func(hdr map[string]string) *http.Cookie {
		resp := e.do("POST", "/api/v1/session", "", strings.NewReader(body), hdr)
		for _, c := range resp.Cookies() {
			if c.Name == "opsguard_session" {
				return c
			}
		}
		t.Fatalf("no cookie (%d)", resp.StatusCode)
		return nil
	}
	if c := cookie(nil); c.Secure {
		t.Error("loopback plain HTTP got a Secure cookie, which browsers would not send back")
	}
	if c := cookie(map[string]string{"X-Forwarded-Proto": "https"}); !c.Secure {
		t.Error("behind a TLS proxy the cookie is not Secure")
	}
	if c := cookie(map[string]string{"Host": "opsguard.example.com"}); !c.Secure {
		t.Error("a non-loopback host got a cookie without Secure")
	}
}

// LG-1: forbidden attempts and refused credentials are in the ledger; a
// client hammering with a dead token is recorded once per window.
func TestUnauthorisedAttemptsAreLedgered(t *testing.T) {
	e := newSQLiteEnv(t)
	e.do("POST", "/api/v1/users", e.tokens[auth.Engineer], strings.NewReader(`{}`), nil)
	for i := 0; i < 5; i++ {
		e.do("GET", "/api/v1/me", "tok_00000000000000000000000000000000.deadbeefdeadbeefdeadbeefdeadbeefdeadbeef", nil, nil)
	}
	e.do("GET", "/api/v1/me", "", nil, nil) // no credentials: not an attempt to record
	kinds := map[string]int{}
	var denied string
	es, _ := e.app.Entries(ctx, ledger.EntryFilter{Limit: 1000})
	for _, en := range es {
		kinds[en.Kind]++
		if en.Kind == "auth.denied" {
			denied = en.Actor + " " + string(en.Payload)
		}
	}
	if kinds["auth.denied"] != 1 || !strings.Contains(denied, "engineer") || !strings.Contains(denied, "POST /api/v1/users") {
		t.Errorf("denied: %d entries, %s", kinds["auth.denied"], denied)
	}
	if kinds["auth.credential_rejected"] != 1 {
		t.Errorf("rejected tokens ledgered %d times, want once", kinds["auth.credential_rejected"])
	}
}
