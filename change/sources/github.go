package sources

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/go-github/v84/github"

	"github.com/opsguard/opsguard/change"
)

// GitHub is the change.Provider of GitHub and GitHub Enterprise.
type GitHub struct {
	o           Options
	c           *github.Client
	owner, name string
}

var _ change.Provider = (*GitHub)(nil)

// NewGitHub returns the provider of the repository o.Project ("owner/name").
func NewGitHub(o Options) (*GitHub, error) {
	o = o.withDefaults("https://api.github.com/")
	owner, name, ok := strings.Cut(o.Project, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("GitHub project %q: want owner/name", o.Project)
	}
	base, err := url.Parse(o.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q: want an absolute URL such as https://github.example.com/api/v3/", o.BaseURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	c := github.NewClient(o.HTTPClient)
	if o.Token != "" {
		c = c.WithAuthToken(o.Token)
	}
	c.BaseURL = base
	c.UserAgent = "opsguard"
	// The client's own bookkeeping refuses requests until a reset measured
	// on the real clock; the provider waits itself, on o.Now and o.Sleep,
	// and says so.
	c.DisableRateLimitCheck = true
	return &GitHub{o: o, c: c, owner: owner, name: name}, nil
}

// PullRequest implements change.Provider. A number taken from a commit
// message is checked against the commit (merged into branch, with sha as
// its merge commit), because anyone can write "(#12)" in a message pushed
// straight to the branch; when it does not match, the commit's own
// associated pull requests are asked.
func (g *GitHub) PullRequest(ctx context.Context, sha, branch string, number int) (*change.PullRequest, error) {
	branch = trimBranch(branch)
	var pr *github.PullRequest
	if number > 0 {
		p, err := g.pull(ctx, number)
		var fe *Error
		switch {
		case errors.As(err, &fe) && fe.Status == http.StatusNotFound:
			// An issue's number, not a pull request's.
		case err != nil:
			return nil, err
		case landed(p, sha, branch):
			pr = p
		}
	}
	if pr == nil {
		n, err := g.pullOfCommit(ctx, sha, branch)
		if err != nil || n == 0 {
			return nil, err
		}
		if pr, err = g.pull(ctx, n); err != nil {
			return nil, err
		}
		if !landed(pr, sha, branch) {
			return nil, nil
		}
	}
	out := &change.PullRequest{
		Number:   pr.GetNumber(),
		URL:      pr.GetHTMLURL(),
		Title:    pr.GetTitle(),
		Author:   pr.GetUser().GetLogin(),
		MergedBy: pr.GetMergedBy().GetLogin(),
		MergedAt: pr.GetMergedAt().Time.UTC(),
		HeadSHA:  pr.GetHead().GetSHA(),
		Labels:   []string{},
	}
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	var err error
	if out.Approvals, err = g.approvals(ctx, out.Number); err != nil {
		return nil, err
	}
	if out.Checks, err = g.checks(ctx, out.HeadSHA); err != nil {
		return nil, err
	}
	if out.LastCommitter, err = g.lastCommitter(ctx, out.Number); err != nil {
		return nil, err
	}
	return out, nil
}

// landed reports whether pull request p brought commit sha to branch.
func landed(p *github.PullRequest, sha, branch string) bool {
	merged := p.GetMerged() || p.MergedAt != nil // the list endpoints leave "merged" out
	mc := p.GetMergeCommitSHA()
	return merged && p.GetBase().GetRef() == branch && (mc == "" || mc == sha)
}

func (g *GitHub) pull(ctx context.Context, n int) (*github.PullRequest, error) {
	p, _, err := ghCall(ctx, g, func() (*github.PullRequest, *github.Response, error) {
		return g.c.PullRequests.Get(ctx, g.owner, g.name, n)
	})
	return p, err
}

// pullOfCommit returns the number of the merged pull request into branch
// associated with sha, one whose merge commit is sha first; 0 when none.
func (g *GitHub) pullOfCommit(ctx context.Context, sha, branch string) (int, error) {
	ps, err := ghPages(ctx, g, func(opt *github.ListOptions) ([]*github.PullRequest, *github.Response, error) {
		return g.c.PullRequests.ListPullRequestsWithCommit(ctx, g.owner, g.name, sha, opt)
	})
	if err != nil {
		return 0, err
	}
	ps = slices.DeleteFunc(ps, func(p *github.PullRequest) bool { return !landed(p, sha, branch) })
	if len(ps) == 0 {
		return 0, nil
	}
	if i := slices.IndexFunc(ps, func(p *github.PullRequest) bool { return p.GetMergeCommitSHA() == sha }); i >= 0 {
		return ps[i].GetNumber(), nil
	}
	return ps[0].GetNumber(), nil
}

// approvals returns the reviewers whose latest deciding review is an
// approval: a later request for changes or a dismissal withdraws it, a
// later comment does not.
func (g *GitHub) approvals(ctx context.Context, n int) ([]change.Approval, error) {
	rs, err := ghPages(ctx, g, func(opt *github.ListOptions) ([]*github.PullRequestReview, *github.Response, error) {
		return g.c.PullRequests.ListReviews(ctx, g.owner, g.name, n, opt)
	})
	if err != nil {
		return nil, err
	}
	latest := map[string]*github.PullRequestReview{}
	var order []string
	for _, r := range rs { // the API lists reviews oldest first
		who := strings.ToLower(r.GetUser().GetLogin())
		switch r.GetState() {
		case "APPROVED", "CHANGES_REQUESTED", "DISMISSED":
		default:
			continue
		}
		if who == "" {
			continue
		}
		if prev, ok := latest[who]; !ok {
			order = append(order, who)
		} else if r.GetSubmittedAt().Before(prev.GetSubmittedAt().Time) {
			continue
		}
		latest[who] = r
	}
	out := []change.Approval{}
	for _, who := range order {
		if r := latest[who]; r.GetState() == "APPROVED" {
			out = append(out, change.Approval{By: r.GetUser().GetLogin(), At: r.GetSubmittedAt().Time.UTC(),
				Commit: r.GetCommitID(), Source: change.SourceGitHub})
		}
	}
	return out, nil
}

// checks returns the check runs and the commit statuses at sha: CI may
// report either way.
func (g *GitHub) checks(ctx context.Context, sha string) ([]change.Check, error) {
	runs, err := ghPages(ctx, g, func(opt *github.ListOptions) ([]*github.CheckRun, *github.Response, error) {
		res, resp, err := g.c.Checks.ListCheckRunsForRef(ctx, g.owner, g.name, sha, &github.ListCheckRunsOptions{ListOptions: *opt})
		if err != nil {
			return nil, resp, err
		}
		return res.CheckRuns, resp, nil
	})
	if err != nil {
		return nil, err
	}
	out := []change.Check{}
	for _, r := range runs {
		c := change.Check{Name: r.GetName(), Conclusion: r.GetConclusion(), URL: r.GetHTMLURL()}
		if r.GetStatus() != "completed" {
			c.Conclusion = "pending"
		}
		out = append(out, c)
	}
	sts, err := ghPages(ctx, g, func(opt *github.ListOptions) ([]*github.RepoStatus, *github.Response, error) {
		res, resp, err := g.c.Repositories.GetCombinedStatus(ctx, g.owner, g.name, sha, opt)
		if err != nil {
			return nil, resp, err
		}
		return res.Statuses, resp, nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range sts {
		out = append(out, change.Check{Name: s.GetContext(), Conclusion: conclusion(s.GetState()), URL: s.GetTargetURL()})
	}
	return out, nil
}

// lastCommitter returns who committed the pull request's last commit:
// the first page says which page is last, so at most two requests.
func (g *GitHub) lastCommitter(ctx context.Context, n int) (string, error) {
	opt := &github.ListOptions{PerPage: 100}
	for {
		cs, resp, err := ghCall(ctx, g, func() ([]*github.RepositoryCommit, *github.Response, error) {
			return g.c.PullRequests.ListCommits(ctx, g.owner, g.name, n, opt)
		})
		if err != nil {
			return "", err
		}
		next := resp.LastPage
		if next == 0 {
			next = resp.NextPage
		}
		if next <= opt.Page || next <= 1 {
			if len(cs) == 0 {
				return "", nil
			}
			c := cs[len(cs)-1]
			return cmp.Or(c.GetCommitter().GetLogin(), c.GetCommit().GetCommitter().GetName()), nil
		}
		opt.Page = next
	}
}

// ghCall makes one GitHub API call (see forgeCall).
func ghCall[T any](ctx context.Context, g *GitHub, call func() (T, *github.Response, error)) (T, *github.Response, error) {
	return forgeCall(ctx, &g.o, "GitHub", g.limited, g.explain, call)
}

// ghPages collects every page of a list.
func ghPages[T any](ctx context.Context, g *GitHub, list func(*github.ListOptions) ([]T, *github.Response, error)) ([]T, error) {
	opt := &github.ListOptions{PerPage: 100}
	var all []T
	for {
		items, resp, err := ghCall(ctx, g, func() ([]T, *github.Response, error) { return list(opt) })
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if resp.NextPage <= max(opt.Page, 1) {
			return all, nil
		}
		opt.Page = resp.NextPage
	}
}

// limited tells a rate limit from other refusals. The primary limit
// (remaining 0) resets at X-RateLimit-Reset; a secondary limit says
// Retry-After, or nothing and then a minute is the documented wait.
func (g *GitHub) limited(err error) (limit, bool) {
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	var er *github.ErrorResponse
	now := g.o.Now()
	switch {
	case errors.As(err, &rl) && rl.Response != nil:
		return limit{"rate limit", waitFrom(rl.Response.Header, "X-RateLimit-Reset", now)}, true
	case errors.As(err, &ab) && ab.Response != nil:
		return limit{"secondary rate limit", waitFrom(ab.Response.Header, "X-RateLimit-Reset", now)}, true
	case errors.As(err, &er) && er.Response != nil && (er.Response.StatusCode == http.StatusTooManyRequests ||
		er.Response.StatusCode == http.StatusForbidden && er.Response.Header.Get("Retry-After") != ""):
		return limit{"secondary rate limit", waitFrom(er.Response.Header, "X-RateLimit-Reset", now)}, true
	}
	return limit{}, false
}

// explain turns a refusal into an *Error that says what to fix. A 5xx
// is not retried here: syncs are incremental, so the next one resumes
// from the last verified commit at the cost of one request.
func (g *GitHub) explain(err error) error {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.Request == nil {
		return asError("GitHub", g.o.Token, err)
	}
	r := er.Response
	req := r.Request.Method + " " + r.Request.URL.Path
	detail := ""
	if er.Message != "" {
		detail = " " + er.Message
	}
	var msg string
	switch s := r.StatusCode; {
	case s == http.StatusUnauthorized && g.o.Token == "":
		msg = "GitHub requires a token (401): set the repository's token file"
	case s == http.StatusUnauthorized:
		msg = "GitHub rejected the token (401): check the token file"
	case s == http.StatusForbidden:
		msg = fmt.Sprintf("GitHub refused %s (403%s): %s", req, detail, needs(r.Header))
	case s == http.StatusNotFound:
		msg = fmt.Sprintf("repository %s/%s not found on GitHub (or the token cannot see it): %s answered 404", g.owner, g.name, req)
	case s >= 500:
		msg = fmt.Sprintf("GitHub answered %d %s for %s: try again later", s, http.StatusText(s), req)
	default:
		msg = fmt.Sprintf("GitHub answered %d %s for %s:%s", s, http.StatusText(s), req, cmp.Or(detail, " no reason given"))
	}
	return &Error{Forge: "GitHub", Status: r.StatusCode, Message: redact(msg, g.o.Token)}
}

// needs says what a token lacks, from what GitHub names in its headers:
// the fine-grained permission (X-Accepted-GitHub-Permissions) or the
// classic token's OAuth scope (X-Accepted-OAuth-Scopes).
func needs(h http.Header) string {
	if p := h.Get("X-Accepted-GitHub-Permissions"); p != "" {
		return "the token needs the permission " + p
	}
	if s := h.Get("X-Accepted-OAuth-Scopes"); s != "" {
		has := cmp.Or(h.Get("X-OAuth-Scopes"), "none")
		return fmt.Sprintf("the token needs the OAuth scope %s (it has: %s)", s, has)
	}
	return "check that the token may read the repository's pull requests, checks and statuses"
}
