package sources_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/opsguard/opsguard/change/sources"
)

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "acme", "acme/", "/shop", "acme/shop/x"} {
		if _, err := sources.NewGitHub(sources.Options{Project: p}); err == nil {
			t.Errorf("NewGitHub(Project %q): no error", p)
		}
	}
	if _, err := sources.NewGitHub(sources.Options{Project: "acme/shop", BaseURL: "github.example.com"}); err == nil {
		t.Error("NewGitHub with a relative URL: no error")
	}
	for _, p := range []string{"", "/acme/shop", "acme/shop/"} {
		if _, err := sources.NewGitLab(sources.Options{Project: p}); err == nil {
			t.Errorf("NewGitLab(Project %q): no error", p)
		}
	}
	if _, err := sources.NewGitLab(sources.Options{Project: "acme/shop", BaseURL: "gitlab.example.com"}); err == nil {
		t.Error("NewGitLab with a relative URL: no error")
	}
}

func TestWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	// The default Sleep: a sync that is cancelled while it waits out a
	// rate limit stops at once.
	rp := newReplay(t, map[string][]reply{"GET /repos/acme/shop/pulls/42": {ghError(429, "github/secondary-rate-limit.json", "Retry-After", "600")}},
		func(*http.Request) bool { return true })
	gh, err := sources.NewGitHub(sources.Options{BaseURL: rp.srv.URL, Project: "acme/shop"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = gh.PullRequest(ctx, merge42, "main", 42)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("PullRequest = %v after %s, want the context's deadline at once", err, time.Since(start))
	}
}
