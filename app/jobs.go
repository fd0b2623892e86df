package app

import (
	"context"
	"time"

	"github.com/opsguard/opsguard/jobs"
)

// registerJobs puts the periodic work of every module on the one
// scheduler; `opsguard serve` starts it.
func (a *App) registerJobs() error {
	cfg := a.Config
	return a.Jobs.Register(
		jobs.Job{Name: "controls", Interval: cfg.Controls.Interval, Run: func(ctx context.Context) error {
			_, err := a.Controls.Run(ctx, "system", "schedule")
			return err
		}},
		jobs.Job{Name: "change-sync", Interval: cfg.Change.SyncInterval, Run: a.SyncAll},
		jobs.Job{Name: "vuln-expiry", Interval: time.Hour, Run: a.reopenExpired},
		jobs.Job{Name: "ledger-republish", Interval: cfg.Ledger.CheckpointInterval, Run: a.Republish},
	)
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
