package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/backup/drill"
	"github.com/opsguard/opsguard/backup/sources"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/store"
)

// backupModule plugs the backup register in: data sets, their copies and
// snapshots, restore drills, the BK controls, the periodic collection and
// the scheduled drills.
var backupModule = module{
	name: "backup",
	open: func(a *App) {
		b := a.Config.Backup
		a.Backup = backup.NewService(store.Bind[backup.Tx](a.DB), a.Log, backup.Options{
			Policy: backup.Policy{MaxAgeHours: b.MaxAgeHours, RetentionDays: b.RetentionDays, OffsiteCopies: b.OffsiteCopies,
				RestoreTestIntervalDays: b.RestoreTestIntervalDays, TabletopExerciseIntervalDays: b.TabletopExerciseIntervalDays},
			Sources:         sources.Sources(),
			Secrets:         a.Secrets(),
			AllowLocal:      b.AllowLocalRepos,
			Remote:          a.Egress().Host,
			Now:             a.Now,
			ScratchRoot:     a.Config.ScratchDir(),
			ScratchPostgres: b.ScratchPostgres,
			Notifier:        backupNotifier{a},
		})
		a.cleanDrillScratch()
	},
	controls: func(a *App) []control.Control { return a.Backup.Controls() },
	jobs: func(a *App) []jobs.Job {
		return []jobs.Job{
			{Name: "backup-collect", Interval: a.Config.Backup.CollectInterval, Run: a.collectBackups},
			{Name: "backup-drills", Interval: a.Config.Backup.DrillCheckInterval, Run: a.drillDue},
		}
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

// drillDue drills every data set whose last drill is older than its
// interval.
func (a *App) drillDue(ctx context.Context) error {
	res, err := a.Backup.DrillDue(ctx, backup.Actor{Name: "system", Username: "system"})
	for _, r := range res {
		if r.Error == "" {
			a.Logger.Info("restore drill", "dataset", r.DataSet, "drill", r.Drill, "state", r.State)
		}
	}
	return err
}

// cleanDrillScratch removes what drills killed mid-way left behind: their
// scratch directories and, on the scratch PostgreSQL server, their
// databases. It runs when the instance opens, before any drill.
func (a *App) cleanDrillScratch() {
	removed, err := a.Backup.CleanStale()
	if err != nil {
		a.Logger.Warn("restore drills: cleaning the scratch directory", "err", err)
	}
	if len(removed) > 0 {
		a.Logger.Info("restore drills: removed the scratch of killed drills", "paths", removed)
	}
	if dsn := a.Config.Backup.ScratchPostgres; dsn != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dropped, err := drill.CleanStaleDatabases(ctx, dsn)
		if err != nil {
			a.Logger.Warn("restore drills: cleaning the scratch databases", "err", err)
		}
		if len(dropped) > 0 {
			a.Logger.Info("restore drills: dropped the scratch databases of killed drills", "databases", dropped)
		}
	}
}

// StartDrill starts a drill of a data set. With req.Wait it returns the
// finished drill; otherwise the running one, while the drill goes on in
// the background (Close waits for it, a bounded time).
func (a *App) StartDrill(ctx context.Context, by backup.Actor, dataSet string, req backup.DrillRequest) (backup.Drill, error) {
	d, run, err := a.Backup.StartDrill(ctx, by, dataSet, req)
	if err != nil || req.Wait {
		if err != nil {
			return d, err
		}
		return run(ctx)
	}
	a.pending.Add(1)
	go func() {
		defer a.pending.Done()
		if _, err := run(context.WithoutCancel(ctx)); err != nil {
			a.Logger.Error("restore drill", "dataset", dataSet, "drill", d.ID, "err", err)
		}
	}()
	return d, nil
}

// backupNotifier queues the register's notices ("backup.drill_failed")
// to the channels of their kind and to the owner's e-mail address, read
// afresh for each notice.
type backupNotifier struct{ a *App }

func (b backupNotifier) Notify(ctx context.Context, tx backup.Tx, kind, subject, summary string, data map[string]any) error {
	return (&notifier{a: b.a}).send(ctx, tx, kind, subject, summary, data)
}

// BackupAtStart applies the data sets declared in the process config
// (backup.datasets): the missing ones are created with their copies, as
// actor "config"; one that differs from its stored self is reported here
// and left as it is, since it may be managed by hand. A data set that
// cannot be applied is logged and named in the error; the others are
// applied all the same. The server calls it at start.
func (a *App) BackupAtStart(ctx context.Context) error {
	by := backup.Actor{Name: "config", Username: "config", Local: true}
	var errs []error
	for i, cd := range a.Config.Backup.DataSets {
		d, copies, err := declaredDataSet(cd)
		if err == nil {
			var res backup.Declared
			res, err = a.Backup.Declare(ctx, by, d, copies)
			a.logDeclared(res)
		}
		if err != nil {
			a.Logger.Error("backup data set from the process config", "dataset", cd.Name, "err", err)
			errs = append(errs, fmt.Errorf("backup.datasets[%d] (%s): %w", i, cd.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (a *App) logDeclared(res backup.Declared) {
	if res.Created {
		a.Logger.Info("backup data set created from the process config", "dataset", res.DataSet, "copies", res.Copies)
	} else if len(res.Copies) > 0 {
		a.Logger.Info("backup copies added from the process config", "dataset", res.DataSet, "copies", res.Copies)
	}
	if len(res.Differences) > 0 {
		a.Logger.Warn("backup data set differs from the process config; the stored one is kept (change it through the CLI, API or UI)",
			"dataset", res.DataSet, "differences", res.Differences)
	}
}

// declaredDataSet turns a config declaration into the register's types.
func declaredDataSet(cd config.DataSet) (backup.DataSet, []backup.Copy, error) {
	d := backup.DataSet{Name: cd.Name, Owner: cd.Owner, Classification: cd.Classification, Description: cd.Description,
		Frequency: cd.Frequency, Type: cd.Type, RetentionDays: cd.RetentionDays, Instructions: cd.Instructions}
	if len(cd.Drill) > 0 {
		spec, err := json.Marshal(cd.Drill)
		if err != nil {
			return d, nil, fmt.Errorf("drill: %w", err)
		}
		d.Drill = spec
	}
	copies := make([]backup.Copy, len(cd.Copies))
	for i, c := range cd.Copies {
		copies[i] = backup.Copy{Name: c.Name, Source: c.Source, Location: c.Location, PasswordSecret: c.PasswordSecret, Offsite: c.Offsite}
	}
	return d, copies, nil
}
