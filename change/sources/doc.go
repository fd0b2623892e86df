// Package sources holds what opsguard learns from the forges: the
// providers that ask GitHub and GitLab which merged pull (merge) request
// brought a commit to a protected branch, with its approvals, checks,
// labels and who merged it, and the parsers of their webhooks, which tell
// a sync to start.
//
// The git history alone cannot prove a review happened; only the forge
// knows. The providers follow every page of every list, because an
// approval or a failing check on page two counts as much as one on page
// one. A rate limit does not fail a sync: the provider reports the wait
// through change.Progress, sleeps until the forge's reset and resumes the
// same request, unless the wait is longer than Options.MaxWait. Other
// refusals become an *Error that says what to fix (the token, its scope,
// the project name) and never carries the token.
//
// A webhook is only a hint to sync sooner: its payload is verified (HMAC
// on GitHub, the shared token on GitLab) and then trusted for nothing but
// which repository and branch moved; the register is rebuilt from git and
// the API, never from the payload.
//
//	gh, err := sources.NewGitHub(sources.Options{Project: "acme/shop", Token: token})
//	pr, err := gh.PullRequest(ctx, sha, "main", 0) // nil, nil: no pull request brought sha
package sources
