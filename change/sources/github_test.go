package sources_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/change/sources"
)

const (
	ghToken  = "ghp_R3c0rdedT0kenThatMustNeverLeak0000"
	head42   = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
	merge42  = "9c4a2f1e8b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a"
	squash57 = "e5bd3914e2e596debea16f433f57875b5b90bcd6"
	head57   = "3f1c0a1e5d2b4c6a8e9f0b1d2c3e4f5a6b7c8d9e"
	orphan   = "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9f"
)

// link is a GitHub Link header: rel and page, in pairs.
func link(path string, relPage ...any) string {
	var parts []string
	for i := 0; i+1 < len(relPage); i += 2 {
		parts = append(parts, fmt.Sprintf(`<{base}%s?per_page=100&page=%d>; rel="%s"`, path, relPage[i+1], relPage[i]))
	}
	return strings.Join(parts, ", ")
}

// pr42 is the forge's record of a merge commit's pull request: reviews
// and check runs over two pages each, commits over three.
var pr42 = map[string][]reply{
	"GET /repos/acme/shop/pulls/42": {ok("github/pull-42.json")},
	"GET /repos/acme/shop/pulls/42/reviews": {ok("github/pull-42-reviews-1.json",
		"Link", link("/repos/acme/shop/pulls/42/reviews", "next", 2, "last", 2))},
	"GET /repos/acme/shop/pulls/42/reviews?page=2": {ok("github/pull-42-reviews-2.json",
		"Link", link("/repos/acme/shop/pulls/42/reviews", "prev", 1, "first", 1))},
	"GET /repos/acme/shop/commits/" + head42 + "/check-runs": {ok("github/check-runs-1.json",
		"Link", link("/repos/acme/shop/commits/"+head42+"/check-runs", "next", 2, "last", 2))},
	"GET /repos/acme/shop/commits/" + head42 + "/check-runs?page=2": {ok("github/check-runs-2.json")},
	"GET /repos/acme/shop/commits/" + head42 + "/status":            {ok("github/status-42.json")},
	// The last page is fetched straight from the first's rel="last":
	// page 2 is never asked for.
	"GET /repos/acme/shop/pulls/42/commits": {ok("github/pull-42-commits-1.json",
		"Link", link("/repos/acme/shop/pulls/42/commits", "next", 2, "last", 3))},
	"GET /repos/acme/shop/pulls/42/commits?page=3": {ok("github/pull-42-commits-3.json",
		"Link", link("/repos/acme/shop/pulls/42/commits", "prev", 2, "first", 1))},
}

var want42 = &change.PullRequest{
	Number:        42,
	URL:           "https://github.com/acme/shop/pull/42",
	Title:         "Fix rounding of the checkout total",
	Author:        "mallory",
	MergedBy:      "dave",
	MergedAt:      time.Date(2026, 3, 1, 16, 20, 5, 0, time.UTC),
	HeadSHA:       head42,
	LastCommitter: "mallory",
	// bob approved, then requested changes: his approval no longer
	// stands; alice's later comment does not withdraw hers; carol's
	// review was dismissed.
	Approvals: []change.Approval{{By: "alice", At: time.Date(2026, 3, 1, 15, 2, 11, 0, time.UTC), Commit: head42, Source: "github"}},
	Checks: []change.Check{
		{Name: "build", Conclusion: "success", URL: "https://github.com/acme/shop/actions/runs/400/job/4001"},
		{Name: "test", Conclusion: "success", URL: "https://github.com/acme/shop/actions/runs/400/job/4002"},
		{Name: "deploy-preview", Conclusion: "pending", URL: "https://github.com/acme/shop/actions/runs/400/job/4003"},
		{Name: "ci/jenkins", Conclusion: "failure", URL: "https://ci.acme.example/job/shop/812/"},
		{Name: "security/snyk", Conclusion: "success", URL: "https://app.snyk.io/org/acme/pr-checks/42"},
	},
	Labels: []string{"bug", "emergency"},
}

// pr57 is a squash merge, found from its commit.
var pr57 = map[string][]reply{
	"GET /repos/acme/shop/commits/" + squash57 + "/pulls":    {ok("github/commit-pulls-squash.json")},
	"GET /repos/acme/shop/pulls/57":                          {ok("github/pull-57.json")},
	"GET /repos/acme/shop/pulls/57/reviews":                  {ok("github/pull-57-reviews.json")},
	"GET /repos/acme/shop/commits/" + head57 + "/check-runs": {ok("github/check-runs-57.json")},
	"GET /repos/acme/shop/commits/" + head57 + "/status":     {ok("github/status-57.json")},
	"GET /repos/acme/shop/pulls/57/commits":                  {ok("github/pull-57-commits.json")},
}

var want57 = &change.PullRequest{
	Number:        57,
	URL:           "https://github.com/acme/shop/pull/57",
	Title:         "Add coupon codes",
	Author:        "bob",
	MergedBy:      "alice",
	MergedAt:      time.Date(2026, 2, 28, 17, 45, 12, 0, time.UTC),
	HeadSHA:       head57,
	LastCommitter: "Bob Builder", // no GitHub account: the commit's committer name
	Approvals:     []change.Approval{{By: "carol", At: time.Date(2026, 2, 28, 17, 30, 0, 0, time.UTC), Commit: head57, Source: "github"}},
	Checks:        []change.Check{{Name: "build", Conclusion: "success", URL: "https://github.com/acme/shop/actions/runs/500/job/5001"}},
	Labels:        []string{"enhancement"},
}

func ghError(status int, file string, header ...string) reply {
	r := ok(file, header...)
	r.status = status
	return r
}

func TestGitHubPullRequest(t *testing.T) {
	t.Parallel()
	reset := func(d time.Duration) string { return fmt.Sprint(newClock().Now().Add(d).Unix()) }
	tests := []struct {
		name       string
		routes     map[string][]reply
		sha        string
		number     int
		maxWait    time.Duration
		want       *change.PullRequest
		wantErr    string // a part of the error's message
		wantStatus int
		wantSleeps []time.Duration
		wantSaid   string
	}{
		{name: "merge commit named by its message", routes: pr42, sha: merge42, number: 42, want: want42},
		{name: "squash commit found from the commit", routes: pr57, sha: squash57, want: want57},
		{name: "message names an issue, not a pull request", sha: squash57, number: 12, want: want57,
			routes: merge(pr57, map[string][]reply{"GET /repos/acme/shop/pulls/12": {ghError(404, "github/error-404.json")}})},
		{name: "message names a pull request that did not land the commit", sha: squash57, number: 42, want: want57,
			routes: merge(pr57, map[string][]reply{"GET /repos/acme/shop/pulls/42": {ok("github/pull-42.json")}})},
		{name: "commit without pull request", sha: orphan,
			routes: map[string][]reply{"GET /repos/acme/shop/commits/" + orphan + "/pulls": {ok("github/commit-pulls-none.json")}}},
		{name: "primary rate limit: wait for the reset, then resume", sha: merge42, number: 42, want: want42,
			wantSleeps: []time.Duration{30 * time.Second}, wantSaid: "GitHub rate limit reached: waiting 30s until 12:03:04 UTC",
			routes: merge(pr42, map[string][]reply{"GET /repos/acme/shop/pulls/42/reviews": {
				ghError(403, "github/rate-limit.json", "X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0",
					"X-RateLimit-Used", "5000", "X-RateLimit-Resource", "core", "X-RateLimit-Reset", reset(30*time.Second)),
				pr42["GET /repos/acme/shop/pulls/42/reviews"][0]}})},
		{name: "secondary rate limit: wait Retry-After, then resume", sha: merge42, number: 42, want: want42,
			wantSleeps: []time.Duration{time.Minute}, wantSaid: "GitHub secondary rate limit reached: waiting 1m0s",
			routes: merge(pr42, map[string][]reply{"GET /repos/acme/shop/commits/" + head42 + "/check-runs?page=2": {
				ghError(429, "github/secondary-rate-limit.json", "Retry-After", "60"),
				ok("github/check-runs-2.json")}})},
		{name: "a wait longer than MaxWait fails", sha: merge42, number: 42, maxWait: 10 * time.Minute,
			wantErr: "longer than the 10m0s accepted", wantStatus: 429,
			routes: merge(pr42, map[string][]reply{"GET /repos/acme/shop/pulls/42": {
				ghError(403, "github/rate-limit.json", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset(2*time.Hour))}})},
		{name: "401", sha: merge42, number: 42, wantErr: "GitHub rejected the token (401): check the token file", wantStatus: 401,
			routes: map[string][]reply{"GET /repos/acme/shop/pulls/42": {ghError(401, "github/error-401.json")}}},
		{name: "403 names the permission needed", sha: merge42, number: 42, wantStatus: 403,
			wantErr: "GitHub refused GET /repos/acme/shop/pulls/42/reviews (403 Resource not accessible by personal access token): the token needs the permission pull_requests=read",
			routes: merge(pr42, map[string][]reply{"GET /repos/acme/shop/pulls/42/reviews": {
				ghError(403, "github/error-403.json", "X-Accepted-GitHub-Permissions", "pull_requests=read")}})},
		{name: "403 names the OAuth scope needed", sha: merge42, number: 42, wantStatus: 403,
			wantErr: "the token needs the OAuth scope repo (it has: read:user)",
			routes: map[string][]reply{"GET /repos/acme/shop/pulls/42": {
				ghError(403, "github/error-403.json", "X-Accepted-OAuth-Scopes", "repo", "X-OAuth-Scopes", "read:user")}}},
		{name: "404 repository", sha: merge42, number: 42, wantStatus: 404,
			wantErr: "repository acme/shop not found on GitHub (or the token cannot see it)",
			routes: map[string][]reply{
				"GET /repos/acme/shop/pulls/42":                      {ghError(404, "github/error-404.json")},
				"GET /repos/acme/shop/commits/" + merge42 + "/pulls": {ghError(404, "github/error-404.json")}}},
		{name: "500", sha: merge42, number: 42, wantStatus: 500,
			wantErr: "GitHub answered 500 Internal Server Error for GET /repos/acme/shop/pulls/42: try again later",
			routes:  map[string][]reply{"GET /repos/acme/shop/pulls/42": {ghError(500, "github/error-500.json")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rp := newReplay(t, tc.routes, func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer "+ghToken })
			clk := newClock()
			o := clk.options(rp.srv.URL+"/", "acme/shop", ghToken)
			o.MaxWait = tc.maxWait
			gh, err := sources.NewGitHub(o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := gh.PullRequest(context.Background(), tc.sha, "main", tc.number)
			checkResult(t, got, err, tc.want, tc.wantErr, tc.wantStatus, ghToken)
			if !slices.Equal(clk.sleeps, tc.wantSleeps) {
				t.Errorf("slept %v, want %v", clk.sleeps, tc.wantSleeps)
			}
			if tc.wantSaid != "" && !slices.ContainsFunc(clk.said, func(s string) bool { return strings.Contains(s, tc.wantSaid) }) {
				t.Errorf("progress %q, want a message with %q", clk.said, tc.wantSaid)
			}
			if tc.wantSaid == "" && len(clk.said) > 0 {
				t.Errorf("progress %q, want none", clk.said)
			}
		})
	}
}

// checkResult compares a provider's answer with the expected one; an
// error must say what it should and never hold the token.
func checkResult(t *testing.T, got *change.PullRequest, err error, want *change.PullRequest, wantErr string, wantStatus int, token string) {
	t.Helper()
	if wantErr != "" {
		if err == nil {
			t.Fatalf("got %+v, want an error with %q", got, wantErr)
		}
		if !strings.Contains(err.Error(), wantErr) {
			t.Errorf("error %q, want one with %q", err, wantErr)
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("error %q holds the token", err)
		}
		var fe *sources.Error
		if !errors.As(err, &fe) || fe.Status != wantStatus {
			t.Errorf("error %#v, want a *sources.Error of status %d", err, wantStatus)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("got\n%s\nwant\n%s", g, w)
	}
}

func TestGitHubReviewsAreReadOnce(t *testing.T) {
	t.Parallel()
	// A page the provider asks twice, or a page it skips, would show
	// here: every page once, and commit page 2 not at all.
	rp := newReplay(t, pr42, func(*http.Request) bool { return true })
	clk := newClock()
	gh, err := sources.NewGitHub(clk.options(rp.srv.URL, "acme/shop", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gh.PullRequest(context.Background(), merge42, "refs/heads/main", 42); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GET /repos/acme/shop/pulls/42",
		"GET /repos/acme/shop/pulls/42/reviews", "GET /repos/acme/shop/pulls/42/reviews?page=2",
		"GET /repos/acme/shop/commits/" + head42 + "/check-runs", "GET /repos/acme/shop/commits/" + head42 + "/check-runs?page=2",
		"GET /repos/acme/shop/commits/" + head42 + "/status",
		"GET /repos/acme/shop/pulls/42/commits", "GET /repos/acme/shop/pulls/42/commits?page=3",
	}
	if got := rp.requests(); !slices.Equal(got, want) {
		t.Errorf("requests\n%q\nwant\n%q", got, want)
	}
}

func TestGitHubOtherBranch(t *testing.T) {
	t.Parallel()
	// Merged, but into another branch: it did not bring the commit to
	// release-1.2's history as this branch sees it.
	rp := newReplay(t, pr57, func(*http.Request) bool { return true })
	gh, err := sources.NewGitHub(newClock().options(rp.srv.URL, "acme/shop", ""))
	if err != nil {
		t.Fatal(err)
	}
	got, err := gh.PullRequest(context.Background(), squash57, "release-1.2", 0)
	if err != nil || got != nil {
		t.Errorf("got %+v, %v; want nil, nil", got, err)
	}
}
