package sources

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/opsguard/opsguard/change"
)

// GitLab is the change.Provider of GitLab, gitlab.com or self-hosted.
type GitLab struct {
	o Options
	c *gitlab.Client
}

var _ change.Provider = (*GitLab)(nil)

// NewGitLab returns the provider of the project o.Project
// ("group/sub/project").
func NewGitLab(o Options) (*GitLab, error) {
	o = o.withDefaults("https://gitlab.com/api/v4")
	if o.Project == "" || strings.HasPrefix(o.Project, "/") || strings.HasSuffix(o.Project, "/") {
		return nil, fmt.Errorf("GitLab project %q: want the project's path, such as group/sub/project", o.Project)
	}
	if !strings.Contains(o.BaseURL, "://") {
		return nil, fmt.Errorf("GitLab API URL %q: want an absolute URL such as https://gitlab.example.com/api/v4", o.BaseURL)
	}
	opts := []gitlab.ClientOptionFunc{
		gitlab.WithBaseURL(o.BaseURL),
		gitlab.WithHTTPClient(o.HTTPClient),
		gitlab.WithUserAgent("opsguard"),
		// The client would retry a 429 or a 5xx itself, silently and on
		// its own schedule; the provider waits on o.Sleep and reports it.
		gitlab.WithoutRetries(),
	}
	var auth gitlab.AuthSource = gitlab.Unauthenticated{}
	if o.Token != "" {
		auth = gitlab.AccessTokenAuthSource{Token: o.Token}
	}
	c, err := gitlab.NewAuthSourceClient(auth, opts...)
	if err != nil {
		return nil, fmt.Errorf("GitLab client: %w", err)
	}
	return &GitLab{o: o, c: c}, nil
}

// PullRequest implements change.Provider for merge requests. As on GitHub,
// a number from a commit message is trusted only when the merge request
// landed sha on branch; otherwise the commit's own merge requests are
// asked.
func (g *GitLab) PullRequest(ctx context.Context, sha, branch string, number int) (*change.PullRequest, error) {
	branch = trimBranch(branch)
	var mr *gitlab.MergeRequest
	if number > 0 {
		m, err := g.mergeRequest(ctx, int64(number))
		var fe *Error
		switch {
		case errors.As(err, &fe) && fe.Status == http.StatusNotFound:
		case err != nil:
			return nil, err
		case mrLanded(&m.BasicMergeRequest, sha, branch):
			mr = m
		}
	}
	if mr == nil {
		iid, err := g.mergeRequestOfCommit(ctx, sha, branch)
		if err != nil || iid == 0 {
			return nil, err
		}
		if mr, err = g.mergeRequest(ctx, iid); err != nil {
			return nil, err
		}
		if !mrLanded(&mr.BasicMergeRequest, sha, branch) {
			return nil, nil
		}
	}
	out := &change.PullRequest{
		Number:  int(mr.IID),
		URL:     mr.WebURL,
		Title:   mr.Title,
		HeadSHA: mr.SHA,
		Labels:  append([]string{}, mr.Labels...),
	}
	if mr.Author != nil {
		out.Author = mr.Author.Username
	}
	if u := cmp.Or(mr.MergeUser, mr.MergedBy); u != nil {
		out.MergedBy = u.Username
	}
	if mr.MergedAt != nil {
		out.MergedAt = mr.MergedAt.UTC()
	}
	var err error
	if out.Approvals, err = g.approvals(ctx, mr.IID); err != nil {
		return nil, err
	}
	if out.Checks, err = g.pipeline(ctx, mr.IID, mr.SHA); err != nil {
		return nil, err
	}
	return out, nil
}

// mrLanded reports whether merge request m brought commit sha to branch:
// as its merge commit, its squash commit, or its head when it was merged
// fast-forward.
func mrLanded(m *gitlab.BasicMergeRequest, sha, branch string) bool {
	if m.State != "merged" || m.TargetBranch != branch {
		return false
	}
	if m.MergeCommitSHA == "" && m.SquashCommitSHA == "" {
		return true
	}
	return sha == m.MergeCommitSHA || sha == m.SquashCommitSHA || sha == m.SHA
}

func (g *GitLab) mergeRequest(ctx context.Context, iid int64) (*gitlab.MergeRequest, error) {
	m, _, err := glCall(ctx, g, func() (*gitlab.MergeRequest, *gitlab.Response, error) {
		return g.c.MergeRequests.GetMergeRequest(g.o.Project, iid, nil, gitlab.WithContext(ctx))
	})
	return m, err
}

// mergeRequestOfCommit returns the iid of the merged request into branch
// that landed sha; 0 when none did.
func (g *GitLab) mergeRequestOfCommit(ctx context.Context, sha, branch string) (int64, error) {
	ms, err := glPages(ctx, g, func(page ...gitlab.RequestOptionFunc) ([]*gitlab.BasicMergeRequest, *gitlab.Response, error) {
		return g.c.Commits.ListMergeRequestsByCommit(g.o.Project, sha, page...)
	})
	if err != nil {
		return 0, err
	}
	for _, m := range ms {
		if mrLanded(m, sha, branch) {
			return m.IID, nil
		}
	}
	return 0, nil
}

// approvals returns who approved the merge request. GitLab drops an
// approval itself when a push resets approvals, so what it lists stands.
func (g *GitLab) approvals(ctx context.Context, iid int64) ([]change.Approval, error) {
	a, _, err := glCall(ctx, g, func() (*gitlab.MergeRequestApprovals, *gitlab.Response, error) {
		return g.c.MergeRequests.GetMergeRequestApprovals(g.o.Project, iid, gitlab.WithContext(ctx))
	})
	if err != nil {
		return nil, err
	}
	out := []change.Approval{}
	for _, u := range a.ApprovedBy {
		if u == nil || u.User == nil {
			continue
		}
		ap := change.Approval{By: u.User.Username, Source: change.SourceGitLab}
		if u.ApprovedAt != nil {
			ap.At = u.ApprovedAt.UTC()
		}
		out = append(out, ap)
	}
	return out, nil
}

// pipeline returns the merge request's pipeline that ran at the head
// commit, else its newest, as one check.
func (g *GitLab) pipeline(ctx context.Context, iid int64, head string) ([]change.Check, error) {
	ps, err := glPages(ctx, g, func(page ...gitlab.RequestOptionFunc) ([]*gitlab.PipelineInfo, *gitlab.Response, error) {
		return g.c.MergeRequests.ListMergeRequestPipelines(g.o.Project, iid, page...)
	})
	if err != nil {
		return nil, err
	}
	var best *gitlab.PipelineInfo
	for _, p := range ps {
		switch {
		case p == nil:
		case best == nil,
			p.SHA == head && best.SHA != head,
			(p.SHA == head) == (best.SHA == head) && p.ID > best.ID:
			best = p
		}
	}
	if best == nil {
		return []change.Check{}, nil
	}
	return []change.Check{{Name: fmt.Sprintf("pipeline #%d", best.ID), Conclusion: conclusion(best.Status), URL: best.WebURL}}, nil
}

// glCall makes one GitLab API call (see forgeCall).
func glCall[T any](ctx context.Context, g *GitLab, call func() (T, *gitlab.Response, error)) (T, *gitlab.Response, error) {
	return forgeCall(ctx, &g.o, "GitLab", g.limited, g.explain, call)
}

// glPages collects every page of a list, offset or keyset paginated.
func glPages[T any](ctx context.Context, g *GitLab, list func(...gitlab.RequestOptionFunc) ([]T, *gitlab.Response, error)) ([]T, error) {
	opts := []gitlab.RequestOptionFunc{gitlab.WithContext(ctx), perPage}
	var all []T
	for range 10000 { // a forge that always answers "next" must not loop forever
		items, resp, err := glCall(ctx, g, func() ([]T, *gitlab.Response, error) { return list(opts...) })
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		next, ok := gitlab.WithNext(resp)
		if !ok {
			return all, nil
		}
		opts = []gitlab.RequestOptionFunc{gitlab.WithContext(ctx), perPage, next}
	}
	return nil, &Error{Forge: "GitLab", Message: "GitLab kept answering with a next page: giving up"}
}

// perPage asks for GitLab's largest page, to spend fewer requests.
func perPage(req *retryablehttp.Request) error {
	q := req.URL.Query()
	if q.Get("per_page") == "" {
		q.Set("per_page", "100")
		req.URL.RawQuery = q.Encode()
	}
	return nil
}

// limited tells a rate limit (429) from other refusals; GitLab says
// Retry-After and RateLimit-Reset.
func (g *GitLab) limited(err error) (limit, bool) {
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) && er.StatusCode == http.StatusTooManyRequests && er.Response != nil {
		return limit{"rate limit", waitFrom(er.Response.Header, "RateLimit-Reset", g.o.Now())}, true
	}
	return limit{}, false
}

// explain turns a refusal into an *Error that says what to fix. A 5xx
// is not retried here: syncs are incremental, so the next one resumes
// from the last verified commit at the cost of one request.
func (g *GitLab) explain(err error) error {
	var er *gitlab.ErrorResponse
	if !errors.As(err, &er) {
		return asError("GitLab", g.o.Token, err)
	}
	req := ""
	if er.Response != nil && er.Response.Request != nil {
		req = er.Response.Request.Method + " " + cmp.Or(er.Response.Request.URL.RawPath, er.Response.Request.URL.Path)
	}
	var msg string
	switch s := er.StatusCode; {
	case s == http.StatusUnauthorized && g.o.Token == "":
		msg = "GitLab requires a token (401): set the repository's token file"
	case s == http.StatusUnauthorized:
		msg = "GitLab rejected the token (401): check the token file"
	case s == http.StatusForbidden:
		msg = fmt.Sprintf("GitLab refused %s (403 %s): %s", req, er.Message, glNeeds(er.Body))
	case s == http.StatusNotFound:
		// The client answers every 404 with one shared error, without the
		// request: the project is the likely culprit.
		msg = fmt.Sprintf("project %s not found on GitLab (or the token cannot see it)", g.o.Project)
	case s >= 500:
		msg = fmt.Sprintf("GitLab answered %d %s for %s: try again later", s, http.StatusText(s), req)
	default:
		msg = fmt.Sprintf("GitLab answered %d %s for %s: %s", s, http.StatusText(s), req, cmp.Or(er.Message, "no reason given"))
	}
	return &Error{Forge: "GitLab", Status: er.StatusCode, Message: redact(msg, g.o.Token)}
}

// glNeeds says which scope a token lacks: GitLab names it in the body of
// an insufficient_scope answer.
func glNeeds(body []byte) string {
	var b struct {
		Error string `json:"error"`
		Scope string `json:"scope"`
	}
	if json.Unmarshal(body, &b) == nil && b.Error == "insufficient_scope" && b.Scope != "" {
		return "the token needs one of the scopes " + strings.Join(strings.Fields(b.Scope), ", ")
	}
	return "check that the token (role Reporter at least, scope read_api) may read the project's merge requests"
}
