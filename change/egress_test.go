package change_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/egress"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/secret"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// policyEnv is a register under an egress policy, with secrets in a
// secrets directory beside a ledger key.
type policyEnv struct {
	*env
	vault   secret.Vault
	keyFile string
}

func newPolicyEnv(t *testing.T, db *store.DB, pol egress.Policy) *policyEnv {
	t.Helper()
	e := newEnv(t, db)
	data := t.TempDir()
	pe := &policyEnv{env: e, keyFile: filepath.Join(data, "ledger.key"),
		vault: secret.Vault{Dir: filepath.Join(data, "secrets"), KeyFile: filepath.Join(data, "secrets.key")}}
	if _, err := ledger.CreateKey(pe.keyFile); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(pe.vault.Dir, 0o700)
	os.WriteFile(filepath.Join(pe.vault.Dir, "github"), []byte("ghp_named\n"), 0o600)
	e.svc = pe.service(t, db, pol)
	return pe
}

// service is a register on the same store, ledger key, mirrors and
// secrets under another policy.
func (pe *policyEnv) service(t *testing.T, db *store.DB, pol egress.Policy) *change.Service {
	t.Helper()
	key, err := ledger.LoadKey(pe.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return change.NewService(store.Bind[change.Tx](db), ledger.New(key, ledger.Options{}), change.Options{
		ReposDir: pe.repos, ReviewDays: 3, Now: func() time.Time { return pe.now }, Egress: pol, Secrets: pe.vault})
}

func fieldOf(err error) string {
	var oe *opsguard.Error
	if !errors.As(err, &oe) || oe.Code != opsguard.EInvalid {
		return ""
	}
	f, _ := oe.Details["field"].(string)
	return f
}

// Over the API a repository's URL and its forge's API reach only public
// hosts over https or ssh: the server's files, its loopback and the
// private network are refused when the repository is added, with an
// answer that does not say whether a path exists. The in-process CLI may
// watch a local path; the operator may allow hosts and local paths.
func TestAddRepositoryEgress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newPolicyEnv(t, db, egress.Policy{})
		api := carolU // an API caller with repos.manage
		cli := change.Actor{Name: "cli:root", Username: "root", Local: true}
		n := 0
		add := func(by change.Actor, r change.Repository) (change.Repository, error) {
			n++
			r.Name = "r" + strings.Repeat("x", n)
			return e.svc.AddRepository(ctx, by, r)
		}
		dir := t.TempDir()
		refused := []struct {
			name  string
			r     change.Repository
			field string
		}{
			{"file URL", change.Repository{URL: "file://" + dir}, "url"},
			{"local path", change.Repository{URL: dir}, "url"},
			{"the ledger key", change.Repository{URL: e.keyFile}, "url"},
			{"another instance's repositories", change.Repository{URL: e.repos}, "url"},
			{"relative path", change.Repository{URL: "shop"}, "url"},
			{"ext", change.Repository{URL: "ext::sh -c id"}, "url"},
			{"loopback", change.Repository{URL: "https://127.0.0.1:3000/x.git"}, "url"},
			{"localhost", change.Repository{URL: "git@localhost:x.git"}, "url"},
			{"10.x", change.Repository{URL: "https://10.0.0.1/x.git"}, "url"},
			{"192.168.x", change.Repository{URL: "ssh://git@192.168.1.1/x.git"}, "url"},
			{"169.254.x", change.Repository{URL: "https://169.254.169.254/x"}, "url"},
			{"::1", change.Repository{URL: "https://[::1]/x.git"}, "url"},
			{"plain http", change.Repository{URL: "http://github.com/o/r.git"}, "url"},
			{"api_url loopback", change.Repository{URL: "https://github.com/o/r.git", Source: change.SourceGitHub, Project: "o/r", APIURL: "http://127.0.0.1:9/"}, "api_url"},
			{"api_url localhost", change.Repository{URL: "https://gitlab.com/o/r.git", Source: change.SourceGitLab, Project: "o/r", APIURL: "https://localhost/api/v4"}, "api_url"},
			{"api_url file", change.Repository{URL: "https://github.com/o/r.git", Source: change.SourceGitHub, Project: "o/r", APIURL: "file://" + e.keyFile}, "api_url"},
		}
		for _, tc := range refused {
			if _, err := add(api, tc.r); fieldOf(err) != tc.field {
				t.Errorf("%s: %v, want invalid %s", tc.name, err, tc.field)
			}
		}
		// Whether the path exists or not, the answer is the same.
		_, there := add(api, change.Repository{URL: dir})
		_, missing := add(api, change.Repository{URL: filepath.Join(dir, "missing")})
		if there == nil || missing == nil || strings.ReplaceAll(there.Error(), dir, "P") != strings.ReplaceAll(missing.Error(), filepath.Join(dir, "missing"), "P") {
			t.Errorf("existing: %v; missing: %v", there, missing)
		}
		if rs, _ := e.svc.Repositories(ctx); len(rs) != 0 {
			t.Fatalf("refused repositories were stored: %+v", rs)
		}

		for _, u := range []string{"https://github.com/o/r.git", "git@github.com:o/r.git", "ssh://git@gitlab.com/o/r.git"} {
			if _, err := add(api, change.Repository{URL: u}); err != nil {
				t.Errorf("%s: %v", u, err)
			}
		}
		r, err := add(cli, change.Repository{URL: dir})
		if err != nil || !r.AddedLocally {
			t.Errorf("CLI local path: %+v %v", r, err)
		}
		wd, _ := os.Getwd()
		if r, err := add(cli, change.Repository{URL: "shop"}); err != nil || r.URL != filepath.Join(wd, "shop") {
			t.Errorf("CLI relative path: %q %v", r.URL, err)
		}

		// The operator's leave.
		op := e.service(t, db, egress.Policy{AllowLocal: true, AllowedHosts: []string{"127.0.0.1", "localhost"}})
		for i, r := range []change.Repository{
			{URL: dir},
			{URL: "file://" + dir},
			{URL: "https://127.0.0.1:3000/x.git"},
			{URL: "git@localhost:x.git"},
			{URL: "https://github.com/o/r.git", Source: change.SourceGitHub, Project: "o/r", APIURL: "http://127.0.0.1:9/"},
		} {
			r.Name = "allowed" + strings.Repeat("x", i)
			if got, err := op.AddRepository(ctx, api, r); err != nil || got.AddedLocally {
				t.Errorf("allowed %s: %+v %v", r.URL, got, err)
			}
		}
	})
}

// The policy holds again at sync: a local repository added under
// allow_local_repos is not fetched once the operator withdraws it, and one
// the in-process CLI added still is.
func TestSyncRechecksEgress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		src := newGitRepo(t, start)
		src.commit(alice, "Initial import")
		loose := newPolicyEnv(t, db, egress.Policy{AllowLocal: true})
		if _, err := loose.svc.AddRepository(ctx, carolU, change.Repository{Name: "api", URL: src.dir}); err != nil {
			t.Fatal(err)
		}
		if _, err := loose.svc.AddRepository(ctx, change.Actor{Name: "cli:root", Local: true}, change.Repository{Name: "cli", URL: src.dir}); err != nil {
			t.Fatal(err)
		}
		strict := loose.service(t, db, egress.Policy{})
		if _, err := strict.Sync(ctx, "test", "api", nil); err == nil || !errors.Is(err, egress.ErrLocal) {
			t.Errorf("a local path synced after allow_local_repos was withdrawn: %v", err)
		}
		if _, err := os.Stat(loose.repos); err == nil {
			t.Error("a mirror was made for a refused URL")
		}
		if res, err := strict.Sync(ctx, "test", "cli", nil); err != nil || res.Branches[0].New != 1 {
			t.Errorf("the CLI's repository: %+v %v", res, err)
		}
	})
}

// A forge token is one of the server's secrets: a name in the secrets
// directory, never a path (the same answer for a file that exists and one
// that does not), or a value sealed at rest, never returned nor ledgered.
func TestRepositoryTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newPolicyEnv(t, db, egress.Policy{})
		gh := func(name string) change.Repository {
			return change.Repository{Name: name, URL: "https://github.com/o/r.git", Source: change.SourceGitHub, Project: "o/r"}
		}
		var first string
		for i, name := range []string{"../ledger.key", e.keyFile, "/etc/shadow", "/nonexistent/token", filepath.Join(e.vault.Dir, "github"), "../secrets/github", "ledger.key"} {
			r := gh("t" + strings.Repeat("x", i))
			r.TokenSecret = name
			_, err := e.svc.AddRepository(ctx, carolU, r)
			if fieldOf(err) != "token_secret" {
				t.Errorf("token_secret %q: %v", name, err)
				continue
			}
			if msg := strings.ReplaceAll(err.Error(), name, "N"); first == "" {
				first = msg
			} else if msg != first {
				t.Errorf("token_secret %q answers %q, another %q", name, msg, first)
			}
		}
		r := gh("missing")
		r.TokenSecret = "gitlab"
		if _, err := e.svc.AddRepository(ctx, carolU, r); fieldOf(err) != "token_secret" {
			t.Errorf("a missing secret: %v", err)
		}
		r = gh("both")
		r.TokenSecret, r.Token = "github", "ghp_x"
		if _, err := e.svc.AddRepository(ctx, carolU, r); fieldOf(err) != "token" {
			t.Errorf("a name and a token: %v", err)
		}
		r = gh("named")
		r.TokenSecret = "github"
		if got, err := e.svc.AddRepository(ctx, carolU, r); err != nil || got.TokenSecret != "github" || got.TokenSet {
			t.Errorf("named secret: %+v %v", got, err)
		}

		// A named secret of the server goes only to the forge's public API
		// or to a host the operator listed: an API URL of the caller's own
		// would receive the company's token.
		r = gh("exfiltrate")
		r.TokenSecret, r.APIURL = "github", "https://collector.example.net/api/v3/"
		if _, err := e.svc.AddRepository(ctx, carolU, r); fieldOf(err) != "api_url" {
			t.Errorf("a named secret sent to an unlisted API host: %v", err)
		}
		listed := e.service(t, db, egress.Policy{AllowedHosts: []string{"ghe.example.net"}})
		r = gh("enterprise")
		r.TokenSecret, r.APIURL = "github", "https://ghe.example.net/api/v3/"
		if _, err := listed.AddRepository(ctx, carolU, r); err != nil {
			t.Errorf("a named secret sent to a listed API host: %v", err)
		}
		r = gh("own-token")
		r.Token, r.APIURL = "ghp_mine", "https://collector.example.net/api/v3/"
		if _, err := e.svc.AddRepository(ctx, carolU, r); err != nil {
			t.Errorf("a caller's own token to a public API host: %v", err)
		}

		r = gh("sealed")
		r.Token = "ghp_sentonce123"
		got, err := e.svc.AddRepository(ctx, carolU, r)
		if err != nil || got.Token != "" || !got.TokenSet || got.SealedToken == "" || strings.Contains(got.SealedToken, "sentonce") {
			t.Fatalf("sealed token: %+v %v", got, err)
		}
		stored, _, err := e.svc.Repository(ctx, "sealed")
		if err != nil || stored.Token != "" || !stored.TokenSet {
			t.Fatalf("stored: %+v %v", stored, err)
		}
		if tok, err := e.vault.Open(stored.SealedToken, "repository/"+stored.ID); err != nil || tok != "ghp_sentonce123" {
			t.Errorf("the sealed token opens to %q, %v", tok, err)
		}
		if n := storetest.Exec(t, db, `UPDATE repositories SET sync_error = sync_error WHERE url LIKE '%sentonce%' OR token_secret LIKE '%sentonce%'
			OR token_sealed LIKE '%sentonce%' OR token_file LIKE '%sentonce%' OR project LIKE '%sentonce%'`); n != 0 {
			t.Errorf("the token is stored in clear: %d rows", n)
		}
		if n := storetest.Exec(t, db, "UPDATE ledger_entries SET seq = seq WHERE payload LIKE '%sentonce%'"); n != 0 {
			t.Errorf("the token is in the ledger: %d rows", n)
		}
	})
}
