package app

import (
	"context"
	"time"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/policy"
	"github.com/opsguard/opsguard/store"
)

// policyModule plugs governance in: the documents written from this
// config, their approvals and reviews, attestations and the compliance
// view; the daily job redrafts on a config change and sends the review
// notices.
var policyModule = module{
	name: "policy",
	open: func(a *App) {
		g, day := a.Config.Governance, 24*time.Hour
		a.Policy = policy.NewService(store.Bind[policy.Tx](a.DB), a.Log, policy.Options{
			Company: g.Company, DefaultClassification: g.DefaultClassification,
			ReviewInterval: time.Duration(g.ReviewIntervalDays) * day, ReviewNotice: time.Duration(g.ReviewNoticeDays) * day,
			FeedMaxAge: time.Duration(g.FeedMaxAgeDays) * day, AttestationMaxAge: time.Duration(g.AttestationMaxDays) * day,
			MaxEvidenceBytes: g.MaxEvidenceBytes, AttestRoles: g.AttestRoles, Numbers: policy.NumbersFrom(a.Config),
			Holders:     a.roleHolders,
			Staff:       a.staff,
			Catalog:     func(ctx context.Context) ([]control.Item, error) { return a.Controls.Catalog(ctx) },
			FeedImports: a.feedImports,
			Now:         a.Now,
		})
	},
	controls: func(a *App) []control.Control { return a.Policy.Controls() },
	jobs: func(a *App) []jobs.Job {
		return []jobs.Job{{Name: "policy-reviews", Interval: 24 * time.Hour, Run: a.PolicyReviews},
			{Name: "compliance-record", Interval: time.Hour, Run: func(ctx context.Context) error { _, err := a.Policy.RecordCompliance(ctx); return err }}}
	},
}

// PolicyAtStart writes the first versions of the built-in documents and,
// when the config's numbers changed since, a new draft with its review
// flagged (GV-2). The server calls it at start.
func (a *App) PolicyAtStart(ctx context.Context) error {
	made, err := a.Policy.Sync(ctx)
	for _, v := range made {
		a.Logger.Info("policy draft written from the process config", "document", v.DocumentID, "version", v.Number, "summary", v.Summary)
	}
	return err
}

// PolicyReviews redrafts on a config change and sends policy.review_due
// and policy.review_overdue through the outbox.
func (a *App) PolicyReviews(ctx context.Context) error {
	if err := a.PolicyAtStart(ctx); err != nil {
		return err
	}
	n, err := a.Policy.ReviewNotices(ctx, policyNotifier{a})
	if n > 0 {
		a.Logger.Info("policy review notices sent", "notices", n)
	}
	return err
}

type policyNotifier struct{ a *App }

func (n policyNotifier) Notify(ctx context.Context, tx policy.Tx, kind, subject, summary string, data map[string]any) error {
	return n.a.enqueue(ctx, tx, notify.Message{Kind: kind, Subject: subject, Summary: summary, Time: n.a.Now(), Data: data})
}

// roleHolders names the active users of each role, for the documents.
func (a *App) roleHolders(ctx context.Context) (map[string][]string, error) {
	us, err := a.Auth.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, u := range us {
		if u.Active() {
			name := u.Username
			if u.DisplayName != "" && u.DisplayName != u.Username {
				name = u.DisplayName + " (" + u.Username + ")"
			}
			out[string(u.Role)] = append(out[string(u.Role)], name)
		}
	}
	return out, nil
}

// staff is the role of every active user.
func (a *App) staff(ctx context.Context) (map[string]string, error) {
	us, err := a.Auth.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, u := range us {
		if u.Active() {
			out[u.Username] = string(u.Role)
		}
	}
	return out, nil
}

// feedImports says when each vulnerability feed was last imported, from
// the ledger's feed.imported entries (VM-8).
func (a *App) feedImports(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for _, kind := range []string{"kev", "epss"} {
		es, err := a.Entries(ctx, ledger.EntryFilter{Kind: "feed.imported", Subject: "feed/" + kind, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(es) > 0 {
			out[kind] = es[0].Time
		}
	}
	return out, nil
}
