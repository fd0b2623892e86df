package app

import (
	"context"

	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/backup/sources"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/store"
)

// backupModule plugs the backup register in: data sets, their copies and
// snapshots, the BK controls and the periodic collection.
var backupModule = module{
	name: "backup",
	open: func(a *App) {
		b := a.Config.Backup
		a.Backup = backup.NewService(store.Bind[backup.Tx](a.DB), a.Log, backup.Options{
			Policy:     backup.Policy{MaxAgeHours: b.MaxAgeHours, RetentionDays: b.RetentionDays, OffsiteCopies: b.OffsiteCopies},
			Sources:    sources.Sources(),
			Secrets:    a.Secrets(),
			AllowLocal: b.AllowLocalRepos,
			Remote:     a.Egress().Host,
			Now:        a.Now,
		})
	},
	controls: func(a *App) []control.Control { return a.Backup.Controls() },
	jobs: func(a *App) []jobs.Job {
		return []jobs.Job{{Name: "backup-collect", Interval: a.Config.Backup.CollectInterval, Run: a.collectBackups}}
	},
}

// collectBackups reads every copy's snapshots; a copy that fails is
// recorded on itself and named in the error.
func (a *App) collectBackups(ctx context.Context) error {
	res, err := a.Backup.Collect(ctx, "system")
	for _, r := range res {
		if r.Error == "" && (r.New > 0 || r.Gone > 0) {
			a.Logger.Info("backups collected", "dataset", r.DataSet, "copy", r.Copy, "new", r.New, "gone", r.Gone)
		}
	}
	return err
}
