package sources_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/change/sources"
)

const (
	glToken = "glpat-R3c0rdedT0kenThatMustNeverLeak"
	glP     = "/api/v4/projects/acme%2Fplatform%2Fshop"
	head17  = "8f3b9c2d1e0a4f5b6c7d8e9f0a1b2c3d4e5f6a7b"
	merge17 = "c7a1e2d3f4b5a6978812a3b4c5d6e7f8091a2b3c"
)

// mr17 is the forge's record of a merge commit's merge request, its
// pipelines over two pages (offset pagination with a Link header, as
// GitLab sends both).
var mr17 = map[string][]reply{
	"GET " + glP + "/repository/commits/" + merge17 + "/merge_requests": {ok("gitlab/commit-mrs.json",
		"X-Page", "1", "X-Per-Page", "100", "X-Total", "2", "X-Total-Pages", "1")},
	"GET " + glP + "/merge_requests/17":           {ok("gitlab/mr-17.json")},
	"GET " + glP + "/merge_requests/17/approvals": {ok("gitlab/mr-17-approvals.json")},
	"GET " + glP + "/merge_requests/17/pipelines": {ok("gitlab/mr-17-pipelines-1.json",
		"X-Page", "1", "X-Next-Page", "2", "X-Per-Page", "1", "X-Total", "3", "X-Total-Pages", "2",
		"Link", `<{base}`+glP+`/merge_requests/17/pipelines?page=2&per_page=100>; rel="next", <{base}`+glP+`/merge_requests/17/pipelines?page=1&per_page=100>; rel="first", <{base}`+glP+`/merge_requests/17/pipelines?page=2&per_page=100>; rel="last"`)},
	"GET " + glP + "/merge_requests/17/pipelines?page=2": {ok("gitlab/mr-17-pipelines-2.json",
		"X-Page", "2", "X-Next-Page", "", "X-Prev-Page", "1", "X-Per-Page", "100", "X-Total", "3", "X-Total-Pages", "2")},
}

var want17 = &change.PullRequest{
	Number:   17,
	URL:      "https://gitlab.com/acme/platform/shop/-/merge_requests/17",
	Title:    "Fix VAT rounding on invoices",
	Author:   "pat",
	MergedBy: "sam",
	MergedAt: time.Date(2026, 2, 27, 10, 15, 42, 318e6, time.UTC),
	HeadSHA:  head17,
	Approvals: []change.Approval{
		{By: "quinn", At: time.Date(2026, 2, 27, 9, 40, 12, 0, time.UTC), Source: "gitlab"},
		{By: "rosa", At: time.Date(2026, 2, 27, 10, 2, 55, 0, time.UTC), Source: "gitlab"},
	},
	// The pipeline at the head commit, on page 2, not the newer
	// merged-results pipeline of page 1.
	Checks: []change.Check{{Name: "pipeline #9102", Conclusion: "success", URL: "https://gitlab.com/acme/platform/shop/-/pipelines/9102"}},
	Labels: []string{"bug", "emergency"},
}

func TestGitLabPullRequest(t *testing.T) {
	t.Parallel()
	stale := *want17
	stale.Checks = []change.Check{{Name: "pipeline #9103", Conclusion: "pending", URL: "https://gitlab.com/acme/platform/shop/-/pipelines/9103"}}
	reset := func(d time.Duration) string { return fmt.Sprint(newClock().Now().Add(d).Unix()) }
	glError := func(status int, file string, header ...string) reply {
		r := ok(file, header...)
		r.status = status
		return r
	}
	tooMany := func(wait time.Duration) reply {
		return reply{status: 429, body: "Retry later\n", header: map[string]string{"Content-Type": "text/plain",
			"RateLimit-Name": "throttle_authenticated_api", "RateLimit-Limit": "2000", "RateLimit-Observed": "2001",
			"RateLimit-Remaining": "0", "RateLimit-Reset": reset(wait), "Retry-After": fmt.Sprint(int(wait.Seconds()))}}
	}
	tests := []struct {
		name       string
		routes     map[string][]reply
		sha        string
		number     int
		want       *change.PullRequest
		wantErr    string
		wantStatus int
		wantSleeps []time.Duration
		wantSaid   string
	}{
		{name: "merge request found from its merge commit", routes: mr17, sha: merge17, want: want17},
		{name: "merge request named by the message", sha: merge17, number: 17, want: want17,
			routes: merge(mr17, map[string][]reply{"GET " + glP + "/repository/commits/" + merge17 + "/merge_requests": nil})},
		{name: "no pipeline at the head: the newest", sha: merge17, number: 17, want: &stale,
			routes: merge(mr17, map[string][]reply{
				"GET " + glP + "/merge_requests/17/pipelines":        {ok("gitlab/mr-17-pipelines-stale.json")},
				"GET " + glP + "/merge_requests/17/pipelines?page=2": nil})},
		{name: "commit without merge request", sha: orphan,
			routes: map[string][]reply{"GET " + glP + "/repository/commits/" + orphan + "/merge_requests": {{status: 200, body: "[]"}}}},
		{name: "429: wait, then resume", sha: merge17, want: want17,
			wantSleeps: []time.Duration{20 * time.Second}, wantSaid: "GitLab rate limit reached: waiting 20s until 12:02:54 UTC",
			routes: merge(mr17, map[string][]reply{"GET " + glP + "/merge_requests/17/approvals": {
				tooMany(20 * time.Second), ok("gitlab/mr-17-approvals.json")}})},
		{name: "429 longer than MaxWait", sha: merge17, wantErr: "GitLab rate limit reached: the reset is 2h0m0s away", wantStatus: 429,
			routes: merge(mr17, map[string][]reply{"GET " + glP + "/merge_requests/17": {tooMany(2 * time.Hour)}})},
		{name: "401", sha: merge17, number: 17, wantErr: "GitLab rejected the token (401): check the token file", wantStatus: 401,
			routes: map[string][]reply{"GET " + glP + "/merge_requests/17": {glError(401, "gitlab/error-401.json")}}},
		{name: "403 names the scope", sha: merge17, number: 17, wantStatus: 403,
			wantErr: "the token needs one of the scopes api, read_api",
			routes:  map[string][]reply{"GET " + glP + "/merge_requests/17": {glError(403, "gitlab/error-403.json")}}},
		{name: "404 project", sha: merge17, number: 17, wantStatus: 404,
			wantErr: "project acme/platform/shop not found on GitLab (or the token cannot see it)",
			routes: map[string][]reply{
				"GET " + glP + "/merge_requests/17":                                 {glError(404, "gitlab/error-404.json")},
				"GET " + glP + "/repository/commits/" + merge17 + "/merge_requests": {glError(404, "gitlab/error-404.json")}}},
		{name: "500", sha: merge17, wantStatus: 500,
			wantErr: "GitLab answered 500 Internal Server Error for GET " + glP + "/merge_requests/17/pipelines: try again later",
			routes:  merge(mr17, map[string][]reply{"GET " + glP + "/merge_requests/17/pipelines": {glError(500, "gitlab/error-500.json")}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rp := newReplay(t, tc.routes, func(r *http.Request) bool { return r.Header.Get("PRIVATE-TOKEN") == glToken })
			clk := newClock()
			gl, err := sources.NewGitLab(clk.options(rp.srv.URL+"/api/v4", "acme/platform/shop", glToken))
			if err != nil {
				t.Fatal(err)
			}
			got, err := gl.PullRequest(context.Background(), tc.sha, "main", tc.number)
			checkResult(t, got, err, tc.want, tc.wantErr, tc.wantStatus, glToken)
			if !slices.Equal(clk.sleeps, tc.wantSleeps) {
				t.Errorf("slept %v, want %v", clk.sleeps, tc.wantSleeps)
			}
			if tc.wantSaid != "" && !slices.ContainsFunc(clk.said, func(s string) bool { return strings.Contains(s, tc.wantSaid) }) {
				t.Errorf("progress %q, want a message with %q", clk.said, tc.wantSaid)
			}
			// A 500 is not retried: one request, and the error.
			if tc.wantStatus == 500 {
				if n := countOf(rp.requests(), "GET "+glP+"/merge_requests/17/pipelines"); n != 1 {
					t.Errorf("asked the failing route %d times, want 1", n)
				}
			}
		})
	}
}

func countOf(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

func TestGitLabPublicProject(t *testing.T) {
	t.Parallel()
	// Without a token the client must send no token header at all: an
	// empty PRIVATE-TOKEN is a bad credential to GitLab.
	rp := newReplay(t, mr17, func(r *http.Request) bool { _, set := r.Header["Private-Token"]; return !set })
	gl, err := sources.NewGitLab(newClock().options(rp.srv.URL, "acme/platform/shop", ""))
	if err != nil {
		t.Fatal(err)
	}
	got, err := gl.PullRequest(context.Background(), merge17, "main", 0)
	if err != nil || got == nil || got.Number != 17 {
		t.Errorf("got %+v, %v; want merge request 17", got, err)
	}
}
