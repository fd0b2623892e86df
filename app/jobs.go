package app

import (
	"context"

	"github.com/opsguard/opsguard/jobs"
)

// registerJobs puts the periodic work of the foundation and of every
// module on the one scheduler; `opsguard serve` starts it.
func (a *App) registerJobs() error {
	cfg := a.Config
	js := []jobs.Job{
		{Name: "controls", Interval: cfg.Controls.Interval, Run: func(ctx context.Context) error {
			_, err := a.Controls.Run(ctx, "system", "schedule")
			return err
		}},
		{Name: "ledger-republish", Interval: cfg.Ledger.CheckpointInterval, Run: a.Republish},
	}
	for _, m := range modules {
		js = append(js, m.jobs(a)...)
	}
	return a.Jobs.Register(js...)
}
