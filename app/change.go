package app

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/change/sources"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/egress"
	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/secret"
	"github.com/opsguard/opsguard/store"
)

// changeModule plugs the change register in: the repositories and their
// changes, the tickets, their controls and the periodic sync.
var changeModule = module{
	name: "change",
	open: func(a *App) {
		a.Change = change.NewService(store.Bind[change.Tx](a.DB), a.Log, change.Options{
			ReposDir:   a.Config.ReposDir(),
			ReviewDays: a.Config.Change.PostFactoReviewBusinessDays,
			Provider:   a.provider,
			Lock:       a.DB.WithJobLock,
			Now:        a.Now,
			Egress:     a.Egress(),
			Secrets:    a.Secrets(),
		})
		a.Tickets = change.NewTickets(store.Bind[change.TicketTx](a.DB), a.Log, a.Now)
	},
	controls: func(a *App) []control.Control {
		return append(a.Change.Controls(), a.Tickets.Controls()...)
	},
	jobs: func(a *App) []jobs.Job {
		return []jobs.Job{{Name: "change-sync", Interval: a.Config.Change.SyncInterval, Run: a.SyncAll}}
	},
}

// Egress is the operator's rule on where a repository and a forge may be.
func (a *App) Egress() egress.Policy {
	return egress.Policy{AllowedHosts: a.Config.Change.AllowedHosts, AllowLocal: a.Config.Change.AllowLocalRepos}
}

// Secrets is the server's secrets: the files of secrets_dir and the key
// that seals the values sent through the API.
func (a *App) Secrets() secret.Vault {
	return secret.Vault{Dir: a.Config.SecretsDir(), KeyFile: a.Config.SecretsKeyFile()}
}

// provider builds the forge client of a repository watched through GitHub
// or GitLab, reading its token at each sync so that a rotated token is
// picked up without a restart. Its API URL is checked again (a repository
// stored before the rule) and every connection goes through the egress
// policy.
func (a *App) provider(r change.Repository, progress change.Progress) (change.Provider, error) {
	pol := a.Egress()
	if r.APIURL != "" {
		if err := pol.APIURL(r.APIURL); err != nil {
			return nil, fmt.Errorf("api_url: %w", err)
		}
	}
	opts := sources.Options{BaseURL: r.APIURL, Project: r.Project, Progress: progress, Now: a.Now, HTTPClient: pol.Client(time.Minute)}
	tok, err := a.token(r)
	if err != nil {
		return nil, err
	}
	opts.Token = tok
	switch r.Source {
	case change.SourceGitHub:
		return sources.NewGitHub(opts)
	case change.SourceGitLab:
		return sources.NewGitLab(opts)
	}
	return nil, fmt.Errorf("repository %s: no provider for source %q", r.Name, r.Source)
}

// token returns a repository's forge token: its named secret, its sealed
// value, or, for a repository that named a token file before tokens were
// the server's secrets, the secret of that file's name; "" for none.
func (a *App) token(r change.Repository) (string, error) {
	v := a.Secrets()
	switch {
	case r.TokenSecret != "":
		// Checked again: the operator may have unlisted the host since.
		if err := change.SecretDestination(a.Egress(), r.APIURL); err != nil {
			return "", err
		}
		return v.Read(r.TokenSecret)
	case r.SealedToken != "":
		return v.Open(r.SealedToken, "repository/"+r.ID)
	case r.LegacyTokenFile != "":
		// Only the file's name is kept, looked up in secrets_dir: moving
		// the file there keeps the repository working; nothing outside
		// is read.
		name := filepath.Base(r.LegacyTokenFile)
		if secret.ValidName(name) != nil {
			return "", fmt.Errorf("the token file %s this repository named before tokens became the server's secrets is no longer read: put the token in the secrets directory under a name of lowercase letters, digits, - and _, equal to the file's", r.LegacyTokenFile)
		}
		tok, err := v.Read(name)
		if err != nil {
			return "", fmt.Errorf("token file %s (read from the secrets directory only): %w", r.LegacyTokenFile, err)
		}
		return tok, nil
	}
	return "", nil
}

// SyncAll syncs every watched repository; a repository that fails is
// logged and recorded on itself, and does not stop the others. The error
// names those that failed.
func (a *App) SyncAll(ctx context.Context) error {
	repos, err := a.Change.Repositories(ctx)
	if err != nil {
		return fmt.Errorf("list repositories: %w", err)
	}
	var failed []string
	for _, r := range repos {
		res, err := a.Change.Sync(ctx, "system", r.Name, func(msg string) { a.Logger.Info("sync", "repo", r.Name, "msg", msg) })
		if err != nil {
			a.Logger.Warn("sync failed", "repo", r.Name, "err", err)
			failed = append(failed, fmt.Sprintf("%s: %v", r.Name, err))
			continue
		}
		a.Logger.Info("synced", "repo", r.Name, "result", res)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d repositories failed to sync: %s", len(failed), len(repos), strings.Join(failed, "; "))
	}
	return nil
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
