package app

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/change/sources"
)

// provider builds the forge client of a repository watched through GitHub
// or GitLab, reading its token from the token file at each sync so that a
// rotated token is picked up without a restart.
func (a *App) provider(r change.Repository, progress change.Progress) (change.Provider, error) {
	opts := sources.Options{BaseURL: r.APIURL, Project: r.Project, Progress: progress, Now: a.Now}
	if r.TokenFile != "" {
		tok, err := sources.ReadToken(r.TokenFile)
		if err != nil {
			return nil, err
		}
		opts.Token = tok
	}
	switch r.Source {
	case change.SourceGitHub:
		return sources.NewGitHub(opts)
	case change.SourceGitLab:
		return sources.NewGitLab(opts)
	}
	return nil, fmt.Errorf("repository %s: no provider for source %q", r.Name, r.Source)
}

// SyncAll syncs every watched repository; a repository that fails is
// logged and recorded on itself, and does not stop the others.
func (a *App) SyncAll(ctx context.Context) {
	repos, err := a.Change.Repositories(ctx)
	if err != nil {
		a.Logger.Error("list repositories", "err", err)
		return
	}
	for _, r := range repos {
		res, err := a.Change.Sync(ctx, "system", r.Name, func(msg string) { a.Logger.Info("sync", "repo", r.Name, "msg", msg) })
		if err != nil {
			a.Logger.Warn("sync failed", "repo", r.Name, "err", err)
			continue
		}
		a.Logger.Info("synced", "repo", r.Name, "result", res)
	}
}

// RunSyncs syncs every repository at start and then every interval until
// ctx ends.
func (a *App) RunSyncs(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		a.SyncAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// WebhookResult says what a webhook delivery set off.
type WebhookResult struct {
	Event    string   `json:"event"`
	Project  string   `json:"project"`
	Syncing  []string `json:"syncing"` // the watched repositories synced because of it
	Delivery string   `json:"delivery,omitempty"`
}

// Webhook verifies a GitHub or GitLab delivery with the shared secret and
// syncs, in the background, every watched repository it concerns. A
// delivery that fails verification is ledgered (it may be an attack or a
// misconfigured hook) and refused.
func (a *App) Webhook(ctx context.Context, provider string, header http.Header, body []byte, from string) (WebhookResult, error) {
	secret := ""
	if a.Config.Change.WebhookSecretFile != "" {
		var err error
		if secret, err = ReadSecretFile(a.Config.Change.WebhookSecretFile); err != nil {
			return WebhookResult{}, err
		}
	}
	var ev sources.Event
	var err error
	switch {
	case secret == "":
		err = fmt.Errorf("%w: no webhook secret is configured (change.webhook_secret_file)", sources.ErrSignature)
	case provider == change.SourceGitHub:
		ev, err = sources.ParseGitHub(header, body, []byte(secret))
	case provider == change.SourceGitLab:
		ev, err = sources.ParseGitLab(header, body, []byte(secret))
	default:
		return WebhookResult{}, fmt.Errorf("unknown webhook provider %q", provider)
	}
	if err != nil {
		a.recordRejectedWebhook(ctx, provider, from, err)
		return WebhookResult{}, err
	}
	res := WebhookResult{Event: ev.Kind, Project: ev.Project, Delivery: ev.Delivery, Syncing: []string{}}
	if ev.Kind != "push" && ev.Kind != "pull_request" {
		return res, nil
	}
	repos, err := a.Change.Repositories(ctx)
	if err != nil {
		return res, err
	}
	for _, r := range repos {
		if !concerns(r, ev) {
			continue
		}
		res.Syncing = append(res.Syncing, r.Name)
		a.pending.Add(1)
		go func(name string) {
			defer a.pending.Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Minute)
			defer cancel()
			if _, err := a.Change.Sync(ctx, "webhook:"+provider, name, nil); err != nil {
				a.Logger.Warn("webhook sync failed", "repo", name, "err", err)
			}
		}(r.Name)
	}
	return res, nil
}

// concerns reports whether a delivery is about a watched repository and,
// for a push, one of its protected branches.
func concerns(r change.Repository, ev sources.Event) bool {
	same := r.Project != "" && strings.EqualFold(r.Project, ev.Project) ||
		slices.ContainsFunc(ev.CloneURLs, func(u string) bool {
			return u != "" && strings.EqualFold(strings.TrimSuffix(u, ".git"), strings.TrimSuffix(r.URL, ".git"))
		})
	if !same {
		return false
	}
	// A tag push names no branch: nothing protected moved.
	return slices.Contains(r.Branches, ev.Branch)
}

// recordRejectedWebhook ledgers a refused delivery as a rejected
// credential: once per address and window, so that a flood of forged
// deliveries cannot flood the ledger.
func (a *App) recordRejectedWebhook(ctx context.Context, provider, from string, cause error) {
	a.Auth.RecordRejected(ctx, from, "webhook:"+provider+": "+cause.Error())
}
