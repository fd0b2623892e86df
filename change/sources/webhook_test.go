package sources_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/change/sources"
)

var hookSecret = []byte("It's a Secret to Everybody")

func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ghHeader(event, signature string) http.Header {
	h := http.Header{}
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	h.Set("X-GitHub-Hook-ID", "109948940")
	h.Set("User-Agent", "GitHub-Hookshot/044aadd")
	if signature != "" {
		h.Set("X-Hub-Signature-256", signature)
	}
	return h
}

func TestParseGitHub(t *testing.T) {
	t.Parallel()
	push := readTestdata(t, "github/webhook-push.json")
	pull := readTestdata(t, "github/webhook-pull_request.json")
	ping := readTestdata(t, "github/webhook-ping.json")
	urls := []string{"https://github.com/acme/shop.git", "git@github.com:acme/shop.git", "https://github.com/acme/shop"}
	const delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
	tests := []struct {
		name    string
		header  http.Header
		body    []byte
		secret  []byte
		want    sources.Event
		wantErr string
		wantSig bool // the error must be ErrSignature
	}{
		{name: "push", header: ghHeader("push", sign(hookSecret, push)), body: push,
			want: sources.Event{Provider: "github", Kind: "push", Project: "acme/shop", CloneURLs: urls, Branch: "main",
				After: "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b", Delivery: delivery}},
		{name: "pull request", header: ghHeader("pull_request", sign(hookSecret, pull)), body: pull,
			want: sources.Event{Provider: "github", Kind: "pull_request", Project: "acme/shop", CloneURLs: urls, Branch: "main", Delivery: delivery}},
		{name: "ping", header: ghHeader("ping", sign(hookSecret, ping)), body: ping,
			want: sources.Event{Provider: "github", Kind: "ping", Project: "acme/shop", CloneURLs: urls, Delivery: delivery}},
		{name: "another event", header: ghHeader("issues", sign(hookSecret, ping)), body: ping,
			want: sources.Event{Provider: "github", Kind: "other", Project: "acme/shop", CloneURLs: urls, Delivery: delivery}},
		{name: "tag push", header: ghHeader("push", sign(hookSecret, []byte(`{"ref":"refs/tags/v1.2.0","after":"aa","repository":{"full_name":"acme/shop"}}`))),
			body: []byte(`{"ref":"refs/tags/v1.2.0","after":"aa","repository":{"full_name":"acme/shop"}}`),
			want: sources.Event{Provider: "github", Kind: "push", Project: "acme/shop", After: "aa", Delivery: delivery}},
		{name: "missing signature", header: ghHeader("push", ""), body: push, wantSig: true, wantErr: "no X-Hub-Signature-256"},
		{name: "signature by another secret", header: ghHeader("push", sign([]byte("guess"), push)), body: push, wantSig: true},
		{name: "signature of another body", header: ghHeader("push", sign(hookSecret, ping)), body: push, wantSig: true},
		{name: "signature not hex", header: ghHeader("push", "sha256=zz"), body: push, wantSig: true},
		{name: "sha1 signature only", header: http.Header{"X-Github-Event": {"push"}, "X-Hub-Signature": {"sha1=0123"}}, body: push, wantSig: true},
		{name: "no secret configured", header: ghHeader("push", sign(nil, push)), body: push, secret: []byte{}, wantSig: true},
		{name: "malformed JSON", header: ghHeader("push", sign(hookSecret, []byte(`{"ref": "refs/heads/main",`))),
			body: []byte(`{"ref": "refs/heads/main",`), wantErr: "github push webhook: malformed JSON"},
		{name: "wrong type", header: ghHeader("push", sign(hookSecret, []byte(`{"ref":"refs/heads/main","repository":{"full_name":7}}`))),
			body: []byte(`{"ref":"refs/heads/main","repository":{"full_name":7}}`), wantErr: "field repository.full_name is a JSON number, want string"},
		{name: "push without repository", header: ghHeader("push", sign(hookSecret, []byte(`{"ref":"refs/heads/main"}`))),
			body: []byte(`{"ref":"refs/heads/main"}`), wantErr: "repository.full_name is missing"},
		{name: "push of a short ref", header: ghHeader("push", sign(hookSecret, []byte(`{"ref":"main","repository":{"full_name":"a/b"}}`))),
			body: []byte(`{"ref":"main","repository":{"full_name":"a/b"}}`), wantErr: `ref "main" is not a full ref name`},
		{name: "no event header", header: http.Header{"X-Hub-Signature-256": {sign(hookSecret, push)}}, body: push, wantErr: "no X-GitHub-Event header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			secret := hookSecret
			if tc.secret != nil {
				secret = tc.secret
			}
			got, err := sources.ParseGitHub(tc.header, tc.body, secret)
			checkEvent(t, got, err, tc.want, tc.wantErr, tc.wantSig)
		})
	}
}

func glHeader(event, token string) http.Header {
	h := http.Header{}
	h.Set("X-Gitlab-Event", event)
	h.Set("X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e")
	h.Set("X-Gitlab-Instance", "https://gitlab.com")
	h.Set("User-Agent", "GitLab/18.9.0-pre")
	if token != "" {
		h.Set("X-Gitlab-Token", token)
	}
	return h
}

func TestParseGitLab(t *testing.T) {
	t.Parallel()
	push := readTestdata(t, "gitlab/webhook-push.json")
	mr := readTestdata(t, "gitlab/webhook-merge_request.json")
	tok := string(hookSecret)
	urls := []string{"git@gitlab.com:acme/platform/shop.git", "https://gitlab.com/acme/platform/shop.git", "https://gitlab.com/acme/platform/shop"}
	const delivery = "13792a34-cac6-4fda-95a8-c58e00a3954e"
	pushEvent := sources.Event{Provider: "gitlab", Kind: "push", Project: "acme/platform/shop", CloneURLs: urls, Branch: "main",
		After: "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0", Delivery: delivery}
	tests := []struct {
		name    string
		header  http.Header
		body    []byte
		secret  []byte
		want    sources.Event
		wantErr string
		wantSig bool
	}{
		{name: "push", header: glHeader("Push Hook", tok), body: push, want: pushEvent},
		{name: "system hook push", header: glHeader("System Hook", tok), body: push, want: pushEvent},
		{name: "merge request", header: glHeader("Merge Request Hook", tok), body: mr,
			want: sources.Event{Provider: "gitlab", Kind: "pull_request", Project: "acme/platform/shop", CloneURLs: urls, Branch: "main", Delivery: delivery}},
		{name: "pipeline", header: glHeader("Pipeline Hook", tok), body: mr,
			want: sources.Event{Provider: "gitlab", Kind: "other", Project: "acme/platform/shop", CloneURLs: urls, Delivery: delivery}},
		{name: "wrong token", header: glHeader("Push Hook", tok+"x"), body: push, wantSig: true},
		{name: "missing token", header: glHeader("Push Hook", ""), body: push, wantSig: true, wantErr: "no X-Gitlab-Token"},
		{name: "no secret configured", header: glHeader("Push Hook", ""), body: push, secret: []byte{}, wantSig: true},
		{name: "malformed JSON", header: glHeader("Push Hook", tok), body: []byte(`{"object_kind":"push" "ref":1}`),
			wantErr: "gitlab Push Hook: malformed JSON at byte 23"},
		{name: "not an object", header: glHeader("Push Hook", tok), body: []byte(`["push"]`), wantErr: "the body is a JSON array, want an object"},
		{name: "empty body", header: glHeader("Push Hook", tok), body: nil, wantErr: "empty body"},
		{name: "merge request without attributes", header: glHeader("Merge Request Hook", tok),
			body: []byte(`{"object_kind":"merge_request","project":{"path_with_namespace":"a/b"}}`), wantErr: "object_attributes is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			secret := hookSecret
			if tc.secret != nil {
				secret = tc.secret
			}
			got, err := sources.ParseGitLab(tc.header, tc.body, secret)
			checkEvent(t, got, err, tc.want, tc.wantErr, tc.wantSig)
		})
	}
}

func checkEvent(t *testing.T, got sources.Event, err error, want sources.Event, wantErr string, wantSig bool) {
	t.Helper()
	if wantErr != "" || wantSig {
		if err == nil {
			t.Fatalf("got %+v, want an error", got)
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Errorf("error %q, want one with %q", err, wantErr)
		}
		if errors.Is(err, sources.ErrSignature) != wantSig {
			t.Errorf("error %q: errors.Is(err, ErrSignature) = %v, want %v", err, !wantSig, wantSig)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// FuzzParseGitHub signs whatever body it is given, so that the fuzzer
// explores the parser behind the signature check, not the check.
func FuzzParseGitHub(f *testing.F) {
	for _, ev := range []string{"push", "pull_request", "ping"} {
		f.Add(ev, readTestdata(f, "github/webhook-"+ev+".json"))
	}
	f.Add("push", []byte(`{"ref":"refs/heads/x","repository":null}`))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		h := http.Header{}
		h.Set("X-GitHub-Event", event)
		h.Set("X-Hub-Signature-256", sign(hookSecret, body))
		ev, err := sources.ParseGitHub(h, body, hookSecret)
		checkFuzzed(t, "github", ev, err)
	})
}

// FuzzParseGitLab gives the right token, so that the fuzzer explores the
// parser.
func FuzzParseGitLab(f *testing.F) {
	f.Add("Push Hook", readTestdata(f, "gitlab/webhook-push.json"))
	f.Add("Merge Request Hook", readTestdata(f, "gitlab/webhook-merge_request.json"))
	f.Add("System Hook", readTestdata(f, "gitlab/webhook-merge_request.json"))
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		h := http.Header{}
		h.Set("X-Gitlab-Event", event)
		h.Set("X-Gitlab-Token", string(hookSecret))
		ev, err := sources.ParseGitLab(h, body, hookSecret)
		checkFuzzed(t, "gitlab", ev, err)
	})
}

func checkFuzzed(t *testing.T, provider string, ev sources.Event, err error) {
	if errors.Is(err, sources.ErrSignature) {
		t.Fatalf("a correctly signed body failed the signature check: %v", err)
	}
	if err != nil {
		return
	}
	if ev.Provider != provider || !slices.Contains([]string{"push", "pull_request", "ping", "other"}, ev.Kind) {
		t.Fatalf("event %+v: wrong provider or kind", ev)
	}
	if (ev.Kind == "push" || ev.Kind == "pull_request") && ev.Project == "" {
		t.Fatalf("a %s event without a project: %+v", ev.Kind, ev)
	}
}
