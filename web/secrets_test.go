package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/store/storetest"
)

// forge is a GitHub on loopback that records every request it receives
// and answers that no pull request brought any commit.
type forge struct {
	*httptest.Server
	mu   sync.Mutex
	seen bytes.Buffer // every request: line, headers, body
	auth []string     // the Authorization headers
}

func newForge(t *testing.T) *forge {
	f := &forge{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		r.Write(&f.seen)
		f.seen.Write(body)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/pulls") {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "[]")
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *forge) saw(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Contains(f.seen.String(), s)
}

func (f *forge) headers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...)
}

// keySecret returns the private part of a note signing key
// (PRIVATE+KEY+<name>+<hash>+<base64 key>), which may itself hold a "+".
func keySecret(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(strings.TrimSpace(string(raw)), "+", 5)
	if len(parts) != 5 || len(parts[4]) < 40 {
		t.Fatalf("%s is not a note signing key", path)
	}
	return parts[4]
}

func allowLoopback(c *config.Config) { c.Change.AllowedHosts = []string{"127.0.0.1"} }

// The ledger's private key never leaves the server, whatever a caller
// with repos.manage puts in any field of a repository: a token file or a
// secret's name that is a path, an API URL or a repository URL naming the
// key or the data directory. A secret's name outside the secrets
// directory is refused with one answer whether the file exists or not.
func TestLedgerKeyNeverLeaves(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			f := newForge(t)
			// allow_local_repos lets the attempts reach the token: the
			// secrets rule alone must keep the key in.
			e := newEnv(t, be.DSN(t), allowLoopback, localRepos)
			src := newSrcRepo(t)
			src.commit("Erik <erik@example.com>", "Initial import")
			keyFile := e.app.Config.KeyFile()
			secretPart := keySecret(t, keyFile)
			data := e.app.Config.Server.DataDir
			field := func(k, v string) map[string]any { return map[string]any{k: v} }
			attempts := []map[string]any{
				field("token_file", keyFile),
				field("token_secret", keyFile),
				field("token_secret", "../ledger.key"),
				field("token_secret", "ledger.key"),
				field("token_secret", "ledger"),
				field("token_secret", "../../"+filepath.Base(data)+"/ledger.key"),
				field("api_url", "file://"+keyFile),
				field("api_url", "http://127.0.0.1:1"+keyFile),
				field("url", keyFile),
				field("url", "file://"+keyFile),
				field("url", data),
				field("project", "../../"+keyFile),
				field("token", "@"+keyFile),
			}
			for i, extra := range attempts {
				body := map[string]any{"name": "r" + strings.Repeat("x", i), "url": src.dir, "source": "github", "project": "o/r", "api_url": f.URL}
				for k, v := range extra {
					body[k] = v
				}
				b, _ := json.Marshal(body)
				resp := e.do("POST", "/api/v1/repositories", e.tokens[auth.InfraOps], bytes.NewReader(b), nil)
				out, _ := io.ReadAll(resp.Body)
				if strings.Contains(string(out), secretPart) {
					t.Errorf("%v: the answer holds the key", extra)
				}
				if resp.StatusCode == http.StatusCreated {
					sync := e.do("POST", "/api/v1/repositories/"+body["name"].(string)+"/sync", e.tokens[auth.InfraOps], nil, nil)
					if out, _ := io.ReadAll(sync.Body); strings.Contains(string(out), secretPart) {
						t.Errorf("%v: the sync's answer holds the key", extra)
					}
				}
			}
			if len(f.headers()) == 0 {
				t.Error("no sync reached the forge: the test proves nothing")
			}
			if f.saw(secretPart) {
				t.Errorf("the forge received the ledger key:\n%s", f.seen.String())
			}
			for _, path := range []string{"/api/v1/repositories", "/api/v1/ledger/entries?limit=500", "/api/v1/ledger/export"} {
				out, _ := io.ReadAll(e.do("GET", path, e.tokens[auth.Auditor], nil, nil).Body)
				if strings.Contains(string(out), secretPart) {
					t.Errorf("%s holds the key", path)
				}
			}
			if strings.Contains(e.logs.String(), secretPart) {
				t.Error("the log holds the key")
			}

			// Outside the secrets directory: one answer, existing or not.
			var msgs []string
			for i, name := range []string{"/etc/shadow", "/nonexistent/token", keyFile, filepath.Join(data, "missing.key")} {
				b, _ := json.Marshal(map[string]any{"name": "s" + strings.Repeat("x", i), "url": "https://github.com/o/r.git", "source": "github", "project": "o/r", "token_secret": name})
				resp := e.do("POST", "/api/v1/repositories", e.tokens[auth.InfraOps], bytes.NewReader(b), nil)
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("token_secret %s: %d", name, resp.StatusCode)
					continue
				}
				msgs = append(msgs, strings.ReplaceAll(errorOf(t, resp).Error.Message, name, "N"))
			}
			for _, m := range msgs[1:] {
				if m != msgs[0] {
					t.Errorf("answers differ: %q, %q", msgs[0], m)
				}
			}
		})
	}
}

// Over the API the server's files, its loopback and the private network
// are refused as a repository's URL when it is added; the operator's
// change.allowed_hosts lets a host through.
func TestRepositoryURLsOverTheAPI(t *testing.T) {
	e := newSQLiteEnv(t, allowLoopback)
	dir := t.TempDir()
	tests := []struct {
		url  string
		want int
	}{
		{"file://" + dir, http.StatusBadRequest},
		{dir, http.StatusBadRequest},
		{filepath.Join(dir, "missing"), http.StatusBadRequest},
		{"ext::sh -c id", http.StatusBadRequest},
		{"https://10.0.0.1/x.git", http.StatusBadRequest},
		{"https://192.168.1.1/x.git", http.StatusBadRequest},
		{"https://169.254.169.254/x.git", http.StatusBadRequest},
		{"https://[::1]/x.git", http.StatusBadRequest},
		{"https://localhost/x.git", http.StatusBadRequest},
		{"https://127.0.0.1:9/x.git", http.StatusCreated}, // allowed_hosts
		{"git@github.com:o/r.git", http.StatusCreated},
	}
	var local []string
	for i, tc := range tests {
		b, _ := json.Marshal(map[string]any{"name": "r" + strings.Repeat("x", i), "url": tc.url})
		resp := e.do("POST", "/api/v1/repositories", e.tokens[auth.InfraOps], bytes.NewReader(b), nil)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.url, resp.StatusCode, tc.want)
			continue
		}
		if resp.StatusCode == http.StatusBadRequest && strings.HasPrefix(tc.url, "/") {
			local = append(local, strings.ReplaceAll(errorOf(t, resp).Error.Message, tc.url, "P"))
		}
	}
	if len(local) != 2 || local[0] != local[1] {
		t.Errorf("an existing and a missing path answer differently: %q", local)
	}
}

// A token sent through the API is sealed at rest: not in the database in
// clear, not in any answer, the ledger or the log; and it is the one the
// forge receives at sync, as is a token named among the secrets.
func TestSentTokenIsSealedAndUsed(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			f := newForge(t)
			e := newEnv(t, be.DSN(t), allowLoopback, localRepos)
			src := newSrcRepo(t)
			src.commit("Erik <erik@example.com>", "Initial import")
			const sent = "ghp_sentThroughTheAPI42"
			b, _ := json.Marshal(map[string]any{"name": "app", "url": src.dir, "source": "github", "project": "o/r", "api_url": f.URL + "/", "token": sent})
			resp := e.do("POST", "/api/v1/repositories", e.tokens[auth.InfraOps], bytes.NewReader(b), nil)
			out, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusCreated || strings.Contains(string(out), sent) || !strings.Contains(string(out), `"token_set":true`) {
				t.Fatalf("add: %d %s", resp.StatusCode, out)
			}
			if n := storetest.Exec(t, e.app.DB, `UPDATE repositories SET sync_error = sync_error WHERE token_sealed <> '' AND token_sealed NOT LIKE '%`+sent+`%'
				AND url NOT LIKE '%`+sent+`%' AND token_secret NOT LIKE '%`+sent+`%' AND token_file NOT LIKE '%`+sent+`%'`); n != 1 {
				t.Errorf("the token is not sealed at rest: %d rows", n)
			}
			os.WriteFile(filepath.Join(e.app.Config.SecretsDir(), "github"), []byte("ghp_named7\n"), 0o600)
			b, _ = json.Marshal(map[string]any{"name": "named", "url": src.dir, "source": "github", "project": "o/r", "api_url": f.URL + "/", "token_secret": "github"})
			if resp := e.do("POST", "/api/v1/repositories", e.tokens[auth.InfraOps], bytes.NewReader(b), nil); resp.StatusCode != http.StatusCreated {
				t.Fatalf("add named: %+v", errorOf(t, resp))
			}
			for _, name := range []string{"app", "named"} {
				if resp := e.do("POST", "/api/v1/repositories/"+name+"/sync", e.tokens[auth.InfraOps], nil, nil); resp.StatusCode != http.StatusOK {
					t.Fatalf("sync %s: %+v", name, errorOf(t, resp))
				}
			}
			got := strings.Join(f.headers(), ",")
			if !strings.Contains(got, "Bearer "+sent) || !strings.Contains(got, "Bearer ghp_named7") {
				t.Errorf("the forge received %q", got)
			}
			for _, path := range []string{"/api/v1/repositories", "/api/v1/repositories/app", "/api/v1/ledger/entries?limit=500", "/api/v1/ledger/export"} {
				out, _ := io.ReadAll(e.do("GET", path, e.tokens[auth.Auditor], nil, nil).Body)
				if strings.Contains(string(out), sent) {
					t.Errorf("%s holds the token", path)
				}
			}
			if strings.Contains(e.logs.String(), sent) {
				t.Error("the log holds the token")
			}
		})
	}
}

// A repository that named a token file before tokens were the server's
// secrets: the file's name is looked up in secrets_dir and nothing else
// is read, so a row naming the ledger key sends nothing.
func TestLegacyTokenFile(t *testing.T) {
	f := newForge(t)
	e := newSQLiteEnv(t, allowLoopback, localRepos)
	src := newSrcRepo(t)
	src.commit("Erik <erik@example.com>", "Initial import")
	os.WriteFile(filepath.Join(e.app.Config.SecretsDir(), "gh-token"), []byte("ghp_legacy9\n"), 0o600)
	for name, file := range map[string]string{"moved": "/etc/opsguard/gh-token", "key": e.app.Config.KeyFile()} {
		b, _ := json.Marshal(map[string]any{"name": name, "url": src.dir, "source": "github", "project": "o/r", "api_url": f.URL + "/"})
		if resp := e.do("POST", "/api/v1/repositories", e.tokens[auth.InfraOps], bytes.NewReader(b), nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("add: %+v", errorOf(t, resp))
		}
		if n := storetest.Exec(t, e.app.DB, "UPDATE repositories SET token_file = ? WHERE name = ?", file, name); n != 1 {
			t.Fatal(n)
		}
	}
	if resp := e.do("POST", "/api/v1/repositories/moved/sync", e.tokens[auth.InfraOps], nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("sync moved: %+v", errorOf(t, resp))
	}
	resp := e.do("POST", "/api/v1/repositories/key/sync", e.tokens[auth.InfraOps], nil, nil)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(errorOf(t, resp).Error.Message, "no longer read") {
		t.Errorf("sync of a row naming the ledger key: %d", resp.StatusCode)
	}
	if got := strings.Join(f.headers(), ","); !strings.Contains(got, "Bearer ghp_legacy9") || f.saw(keySecret(t, e.app.Config.KeyFile())) {
		t.Errorf("the forge received %q\n%s", got, f.seen.String())
	}
}
