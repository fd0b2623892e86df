package app

import (
	"context"
	"time"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// vulnModule plugs the vulnerability register in: its service, its
// controls, and the hourly reopening of expired acceptances with the
// escalation of SLA breaches.
var vulnModule = module{
	name: "vuln",
	open: func(a *App) {
		a.Vuln = vuln.NewService(store.Bind[vuln.Tx](a.DB), a.Log, a.Config.Vuln, vuln.Options{Formats: importers.Formats{}, Now: a.Now})
	},
	controls: func(a *App) []control.Control { return a.Vuln.Controls() },
	jobs: func(a *App) []jobs.Job {
		return []jobs.Job{{Name: "vuln-expiry", Interval: time.Hour, Run: a.reopenExpired}}
	},
}

// reopenExpired reopens expired risk acceptances and escalates SLA
// breaches; each breach is notified once, then every
// vuln.escalation_reminder_days.
func (a *App) reopenExpired(ctx context.Context) error {
	n, err := a.Vuln.ReopenExpired(ctx)
	if n > 0 {
		a.Logger.Info("reopened expired risk acceptances", "findings", n)
	}
	if err != nil {
		return err
	}
	sum, err := a.Escalate(ctx)
	if sum.Escalated > 0 {
		a.Logger.Info("escalated SLA breaches", "findings", sum.Escalated, "assets", sum.Assets, "digests", sum.Digests)
	}
	return err
}
