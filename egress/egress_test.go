package egress_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opsguard/opsguard/egress"
)

func TestRepoURL(t *testing.T) {
	t.Parallel()
	strict := egress.Policy{}
	allowed := egress.Policy{AllowedHosts: []string{"127.0.0.1", "localhost", "10.1.0.0/16"}}
	locals := egress.Policy{AllowLocal: true}
	tests := []struct {
		name  string
		p     egress.Policy
		url   string
		local bool   // the in-process CLI
		kind  string // "" when refused
	}{
		{"https", strict, "https://github.com/acme/shop.git", false, egress.Remote},
		{"ssh", strict, "ssh://git@gitlab.com/acme/shop.git", false, egress.Remote},
		{"scp-like", strict, "git@github.com:acme/shop.git", false, egress.Remote},
		{"public address", strict, "https://140.82.112.3/acme/shop.git", false, egress.Remote},
		{"file URL", strict, "file:///etc", false, ""},
		{"local path", strict, "/etc", false, ""},
		{"relative path", strict, "shop", false, ""},
		{"plain http", strict, "http://github.com/acme/shop.git", false, ""},
		{"git protocol", strict, "git://github.com/acme/shop.git", false, ""},
		{"ext", strict, "ext::sh -c touch% /tmp/pwned", true, ""},
		{"fd", strict, "fd::3", true, ""},
		{"option", strict, "--upload-pack=touch /tmp/pwned", true, ""},
		{"loopback", strict, "https://127.0.0.1:8080/x.git", false, ""},
		{"loopback scp", strict, "git@127.0.0.1:x.git", false, ""},
		{"localhost", strict, "https://localhost/x.git", false, ""},
		{"localhost scp", strict, "git@localhost:x.git", false, ""},
		{"sub.localhost", strict, "https://a.localhost/x.git", false, ""},
		{"10.x", strict, "https://10.0.0.7/x.git", false, ""},
		{"192.168.x", strict, "ssh://git@192.168.1.20/x.git", false, ""},
		{"172.16.x", strict, "https://172.16.0.1/x.git", false, ""},
		{"169.254.x metadata", strict, "https://169.254.169.254/latest", false, ""},
		{"::1", strict, "https://[::1]/x.git", false, ""},
		{"mapped loopback", strict, "https://[::ffff:127.0.0.1]/x.git", false, ""},
		{"unique local v6", strict, "https://[fd00::1]/x.git", false, ""},
		{"unspecified", strict, "https://0.0.0.0/x.git", false, ""},
		{"decimal address", strict, "https://2130706433/x.git", false, ""},
		{"short address", strict, "https://127.1/x.git", false, ""},
		{"hex address", strict, "https://0x7f.0.0.1/x.git", false, ""},
		{"CGNAT", strict, "https://100.64.1.1/x.git", false, ""},
		{"allowed loopback", allowed, "https://127.0.0.1:8080/x.git", false, egress.Remote},
		{"allowed localhost", allowed, "git@localhost:x.git", false, egress.Remote},
		{"allowed prefix", allowed, "https://10.1.2.3/x.git", false, egress.Remote},
		{"outside the allowed prefix", allowed, "https://10.2.0.1/x.git", false, ""},
		{"CLI local path", strict, "/srv/git/shop", true, egress.Local},
		{"CLI file URL", strict, "file:///srv/git/shop", true, egress.Local},
		{"CLI loopback still refused", strict, "https://127.0.0.1/x.git", true, ""},
		{"allow_local path", locals, "/srv/git/shop", false, egress.Local},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, kind, err := tc.p.RepoURL(tc.url, tc.local)
			if tc.kind == "" && err == nil {
				t.Fatalf("RepoURL(%q) accepted as %s", tc.url, kind)
			}
			if tc.kind != "" && (err != nil || kind != tc.kind) {
				t.Fatalf("RepoURL(%q) = %s, %v; want %s", tc.url, kind, err, tc.kind)
			}
		})
	}
}

// A refused local path says the same whether it exists or not, and a
// relative path is made absolute for the CLI.
func TestRepoURLLocalPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, _, there := egress.Policy{}.RepoURL(dir, false)
	_, _, missing := egress.Policy{}.RepoURL(filepath.Join(dir, "missing"), false)
	if !errors.Is(there, egress.ErrLocal) || !errors.Is(missing, egress.ErrLocal) || there.Error() != missing.Error() {
		t.Errorf("existing: %v; missing: %v", there, missing)
	}
	got, kind, err := egress.Policy{}.RepoURL("shop", true)
	wd, _ := os.Getwd()
	if err != nil || kind != egress.Local || got != filepath.Join(wd, "shop") {
		t.Errorf("relative path = %q %s %v", got, kind, err)
	}
}

func TestAPIURL(t *testing.T) {
	t.Parallel()
	strict := egress.Policy{}
	allowed := egress.Policy{AllowedHosts: []string{"127.0.0.1"}}
	tests := []struct {
		name string
		p    egress.Policy
		url  string
		ok   bool
	}{
		{"GitHub Enterprise", strict, "https://github.example.com/api/v3/", true},
		{"plain http", strict, "http://github.example.com/api/v3/", false},
		{"loopback", strict, "https://127.0.0.1:9/", false},
		{"localhost", strict, "https://localhost/api/v4", false},
		{"metadata", strict, "http://169.254.169.254/latest/meta-data/", false},
		{"private", strict, "https://192.168.0.10/api/v4", false},
		{"file", strict, "file:///etc/passwd", false},
		{"relative", strict, "github.example.com", false},
		{"credentials", strict, "https://u:p@github.example.com/", false},
		{"allowed plain http", allowed, "http://127.0.0.1:8080/", true},
		{"http to a public host even when others are allowed", allowed, "http://github.example.com/", false},
	}
	for _, tc := range tests {
		if err := tc.p.APIURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("%s: APIURL(%q) = %v", tc.name, tc.url, err)
		}
	}
}

// A name that resolves to loopback is refused when connecting, whatever
// it resolved to when the repository was added (DNS rebinding), unless
// the operator allowed it.
func TestClientChecksResolvedAddresses(t *testing.T) {
	t.Parallel()
	var hit atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Add(1) }))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	rebound := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	target := "http://forge.example.com:" + u.Port() + "/"

	p := egress.Policy{Lookup: rebound}
	if err := p.Host("forge.example.com"); err != nil {
		t.Fatalf("the name itself is public: %v", err)
	}
	if err := p.Resolve(context.Background(), "forge.example.com"); err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("Resolve = %v", err)
	}
	if resp, err := p.Client(0).Get(target); err == nil {
		resp.Body.Close()
		t.Fatal("a name rebound to loopback was reached")
	}
	if resp, err := p.Client(0).Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatal("a loopback address was reached")
	}
	if n := hit.Load(); n != 0 {
		t.Fatalf("the server was hit %d times", n)
	}

	for _, allow := range []string{"forge.example.com", "127.0.0.1"} {
		p := egress.Policy{Lookup: rebound, AllowedHosts: []string{allow}}
		resp, err := p.Client(0).Get(target)
		if err != nil {
			t.Fatalf("allowed %s: %v", allow, err)
		}
		resp.Body.Close()
	}
	if n := hit.Load(); n != 2 {
		t.Errorf("allowed requests: %d, want 2", n)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	if err := egress.Check([]string{"git.internal", "10.0.0.0/8", "127.0.0.1", "::1"}); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "https://git.internal", "a b", "host:22"} {
		if egress.Check([]string{bad}) == nil {
			t.Errorf("Check(%q) passed", bad)
		}
	}
}
