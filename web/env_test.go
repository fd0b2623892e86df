package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/web"
)

var ctx = context.Background()

const password = "correct horse battery staple"

// env is a running opsguard server with one user and one API token per role.
type env struct {
	t      testing.TB
	app    *app.App
	server *web.Server
	http   *httptest.Server
	tokens map[auth.Role]string
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newEnvB is newEnv for benchmarks (SQLite).
func newEnvB(b *testing.B) *env {
	return newEnv(b, filepath.Join(b.TempDir(), "opsguard.db"))
}

// newEnv starts a server on dsn; each of tune adjusts its config.
func newEnv(t testing.TB, dsn string, tune ...func(*config.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Server.DataDir = dir
	if !strings.HasSuffix(dsn, ".db") {
		cfg.Server.Database = dsn
	}
	for _, f := range tune {
		f(&cfg)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	a, _, err := app.Init(ctx, cfg, "admin", password, app.Options{Logger: logger, Argon2: auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e := &env{t: t, app: a, tokens: map[auth.Role]string{}, logs: logs}
	cli := auth.CLI("test")
	for _, r := range auth.Roles {
		name := strings.ReplaceAll(string(r), "_", "-")
		if r != auth.Admin {
			if _, err := a.Auth.CreateUser(ctx, cli, auth.NewUser{Username: name, Role: r, Password: password}); err != nil {
				t.Fatal(err)
			}
		} else {
			name = "admin"
		}
		e.tokens[r] = ownToken(t, a, name)
	}
	e.server = web.New(a, logger)
	e.http = httptest.NewServer(e.server.Handler())
	t.Cleanup(e.http.Close)
	return e
}

func newSQLiteEnv(t *testing.T, tune ...func(*config.Config)) *env {
	return newEnv(t, filepath.Join(t.TempDir(), "opsguard.db"), tune...)
}

// localRepos lets API callers watch the test's local repositories.
func localRepos(c *config.Config) { c.Change.AllowLocalRepos = true }

// do sends a request; token may be "" for none.
func (e *env) do(method, path, token string, body io.Reader, hdr map[string]string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// jsonBody decodes a response body into v.
func jsonBody(t testing.TB, resp *http.Response, v any) {
	t.Helper()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: decode body: %v", resp.Request.URL.Path, err)
	}
}

// errorOf decodes the error shape and checks it is one.
func errorOf(t testing.TB, resp *http.Response) web.ErrorBody {
	t.Helper()
	var b web.ErrorBody
	jsonBody(t, resp, &b)
	if b.Error.Code == "" || b.Error.Message == "" || b.Error.Details["request_id"] == nil {
		t.Fatalf("%s %s: not the error shape: %+v", resp.Request.Method, resp.Request.URL.Path, b)
	}
	return b
}

// signIn signs in through the API and returns the session cookie and CSRF token.
func (e *env) signIn(user string) (*http.Cookie, string) {
	e.t.Helper()
	resp := e.do("POST", "/api/v1/session", "", strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`), nil)
	if resp.StatusCode != 200 {
		e.t.Fatalf("sign in %s: %d", user, resp.StatusCode)
	}
	var me struct {
		CSRFToken string `json:"csrf_token"`
	}
	jsonBody(e.t, resp, &me)
	for _, c := range resp.Cookies() {
		if c.Name == "opsguard_session" {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				e.t.Errorf("session cookie not HttpOnly/SameSite=Lax: %+v", c)
			}
			return c, me.CSRFToken
		}
	}
	e.t.Fatal("no session cookie")
	return nil, ""
}

var _ = storetest.Backends

// ownToken makes a token for the user name as that user would, signed in
// (an agent's as an administrator would): nobody else may.
func ownToken(t testing.TB, a *app.App, name string) string {
	t.Helper()
	users, err := a.Auth.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	by := auth.CLI("test")
	for _, u := range users {
		if u.Username == name && u.Role != auth.Agent {
			by = auth.Principal{User: u, Via: "session"}
		}
	}
	_, secret, err := a.Auth.CreateToken(ctx, by, name, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}
