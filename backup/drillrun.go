package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/backup/drill"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Notifier queues a notification in the transaction of the event it tells
// of (app writes it to the outbox).
type Notifier interface {
	Notify(ctx context.Context, tx Tx, kind, subject, summary string, data map[string]any) error
}

// DrillFunc performs a drill: drill.Run, or a test's stand-in.
type DrillFunc func(ctx context.Context, spec drill.Spec) (*drill.Report, error)

// abandonAfter is how long after its start a drill still marked running
// is taken for one whose process died: no drill runs longer than its
// limit, and the limit is at most a week.
func abandonAfter(p DrillPlan) time.Duration {
	if p.MaxMinutes > 0 {
		return time.Duration(p.MaxMinutes)*time.Minute + 10*time.Minute
	}
	return drill.DefaultMaxDuration + 10*time.Minute
}

// prepared is a drill ready to run.
type prepared struct {
	d    Drill
	plan DrillPlan
	spec drill.Spec
	pw   string
}

// StartDrill records a drill of a data set as running and returns it with
// the function that performs it and records its end. One drill of a data
// set runs at a time: a second is refused (conflict) while one runs.
func (s *Service) StartDrill(ctx context.Context, by Actor, dataSet string, req DrillRequest) (Drill, func(context.Context) (Drill, error), error) {
	p, err := s.prepare(ctx, by, dataSet, req)
	if err != nil {
		return Drill{}, nil, err
	}
	if _, busy := s.drilling.LoadOrStore(p.d.DataSetID, p.d.ID); busy {
		return Drill{}, nil, opsguard.Errorf(opsguard.EConflict, "a drill of data set %s is running: wait for it to end", dataSet)
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if r, err := tx.RunningDrill(ctx, p.d.DataSetID, p.d.StartedAt.Add(-abandonAfter(p.plan))); err == nil {
			return opsguard.Errorf(opsguard.EConflict, "drill %s of data set %s is running since %s: wait for it to end", r.ID, dataSet, r.StartedAt.Format(time.RFC3339))
		} else if opsguard.ErrorCode(err) != opsguard.ENotFound {
			return err
		}
		if err := tx.InsertDrill(ctx, p.d); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "backup.drill_started", Subject: p.d.subject(),
			Payload: map[string]any{"dataset": p.d.DataSet, "copy": p.d.Copy, "kind": p.d.Kind, "snapshot": p.d.Selector}})
		return err
	})
	if err != nil {
		s.drilling.Delete(p.d.DataSetID)
		return Drill{}, nil, err
	}
	return p.d, func(ctx context.Context) (Drill, error) {
		defer s.drilling.Delete(p.d.DataSetID)
		return s.runDrill(ctx, by, p)
	}, nil
}

// Drill runs a drill of a data set to its end and returns its record.
func (s *Service) Drill(ctx context.Context, by Actor, dataSet string, req DrillRequest) (Drill, error) {
	_, run, err := s.StartDrill(ctx, by, dataSet, req)
	if err != nil {
		return Drill{}, err
	}
	return run(ctx)
}

// prepare reads the data set, its plan and copy, and builds the spec.
func (s *Service) prepare(ctx context.Context, by Actor, dataSet string, req DrillRequest) (prepared, error) {
	var p prepared
	var d DataSet
	var cs []Copy
	var live []Snapshot
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if d, err = tx.DataSetByName(ctx, dataSet); err != nil {
			return err
		}
		if cs, err = tx.ListCopies(ctx, d.ID); err != nil {
			return err
		}
		live, err = tx.ListSnapshots(ctx, d.ID, false, 10000)
		return err
	})
	if err != nil {
		return p, err
	}
	plan, err := ParseDrillPlan(d.Drill)
	if err != nil {
		return p, err
	}
	c, err := drillCopy(d, cs, plan, req.Copy)
	if err != nil {
		return p, err
	}
	sel := strings.TrimSpace(req.Snapshot)
	if sel == "" {
		sel = plan.Snapshot
	}
	if sel == "" {
		sel = "latest"
	}
	if len(sel) > 200 || strings.ContainsAny(sel, "/\\\x00\n\r") || strings.HasPrefix(sel, "-") {
		return p, invalid("snapshot", "snapshot %q: latest, random or a snapshot's ID", sel)
	}
	p.d = Drill{ID: id.New("drl"), DataSetID: d.ID, DataSet: d.Name, CopyID: c.ID, Copy: c.Name, Kind: c.Source, State: DrillRunning, Selector: sel,
		RunBy: by.Name, RunByUser: by.user(), StartedAt: s.now(), Checks: []drill.Check{}, Notes: []string{}}
	p.plan = plan
	p.spec = drill.Spec{Snapshot: sel, MaxBytes: plan.MaxBytes, MaxDuration: time.Duration(plan.MaxMinutes) * time.Minute,
		ExpectedPaths: plan.ExpectedPaths, Assertions: plan.Assertions}
	switch c.Source {
	case SourceRestic:
		if s.opts.ScratchRoot == "" {
			return p, opsguard.Errorf(opsguard.EInvalid, "this server has no scratch directory for drills")
		}
		if p.pw, err = s.Password(c); err != nil {
			return p, fmt.Errorf("data set %s, copy %s: password: %w", d.Name, c.Name, err)
		}
		p.spec.Kind, p.spec.Location, p.spec.ScratchRoot = drill.Restic, c.Location, s.opts.ScratchRoot
	case SourcePgDump:
		if s.opts.ScratchPostgres == "" {
			return p, invalid("copy", "data set %s, copy %s: a pg_dump drill restores into a scratch PostgreSQL server: set backup.scratch_postgres", d.Name, c.Name)
		}
		sn, err := pickDump(c, live, sel)
		if err != nil {
			return p, err
		}
		p.spec.Kind, p.spec.Location, p.spec.DSN, p.spec.Snapshot = drill.PGDump, filepath.Join(c.Location, sn.ID), s.opts.ScratchPostgres, ""
	case SourcePgBackRest:
		if s.opts.ScratchRoot == "" {
			return p, opsguard.Errorf(opsguard.EInvalid, "this server has no scratch directory for drills")
		}
		p.spec.Kind, p.spec.Location, p.spec.ScratchRoot, p.spec.Database = drill.PgBackRest, c.Location, s.opts.ScratchRoot, plan.Database
	}
	return p, nil
}

// drillCopy is the copy a drill restores from: the one asked for, the
// plan's, or the first restic, pg_dump or pgBackRest copy.
func drillCopy(d DataSet, cs []Copy, plan DrillPlan, name string) (Copy, error) {
	if name == "" {
		name = plan.Copy
	}
	drillable := func(c Copy) bool { return c.Source != SourceManifest }
	for _, c := range cs {
		if (name == "" || c.Name == name) && drillable(c) {
			return c, nil
		}
	}
	if name != "" {
		return Copy{}, invalid("copy", "data set %s has no restic, pg_dump or pgBackRest copy named %q", d.Name, name)
	}
	return Copy{}, invalid("copy", "data set %s has no restic, pg_dump or pgBackRest copy to drill (opsguard backup copy add)", d.Name)
}

// pickDump chooses a pg_dump file among the copy's collected snapshots.
func pickDump(c Copy, live []Snapshot, sel string) (Snapshot, error) {
	var mine []Snapshot
	for _, sn := range live {
		if sn.CopyID == c.ID {
			mine = append(mine, sn)
		}
	}
	if len(mine) == 0 {
		return Snapshot{}, invalid("snapshot", "data set %s, copy %s: no dump on record: run opsguard backup collect first", c.DataSet, c.Name)
	}
	switch sel {
	case "latest":
		return mine[0], nil // newest first
	case "random":
		return mine[rand.IntN(len(mine))], nil
	}
	if i := slices.IndexFunc(mine, func(sn Snapshot) bool { return sn.ID == sel }); i >= 0 {
		return mine[i], nil
	}
	return Snapshot{}, invalid("snapshot", "data set %s, copy %s: no dump %q on record", c.DataSet, c.Name, sel)
}

// runDrill performs a prepared drill and records its end: a drill that
// could not run at all is recorded failed with the cause as its check.
func (s *Service) runDrill(ctx context.Context, by Actor, p prepared) (Drill, error) {
	rep, err := s.perform(ctx, p)
	if err != nil {
		rep = &drill.Report{Checks: []drill.Check{{Name: "drill", Expected: "the drill runs", Actual: err.Error()}}, Log: err.Error()}
	}
	return s.finishDrill(context.WithoutCancel(ctx), by, p.d, rep)
}

func (s *Service) perform(ctx context.Context, p prepared) (*drill.Report, error) {
	if p.spec.Kind == drill.Restic {
		file, remove, err := s.passwordFile(p.d.ID, p.pw)
		if err != nil {
			return nil, err
		}
		defer remove()
		p.spec.PasswordFile = file
	}
	run := s.opts.Drill
	if run == nil {
		run = func(ctx context.Context, spec drill.Spec) (*drill.Report, error) {
			return drill.Run(ctx, spec, drill.Options{})
		}
	}
	return run(ctx, p.spec)
}

// passwordDir holds the repository passwords of the drills running, one
// file each (mode 0600), removed when the drill ends.
func (s *Service) passwordDir() string { return filepath.Join(s.opts.ScratchRoot, ".passwords") }

func (s *Service) passwordFile(drillID, pw string) (string, func(), error) {
	dir := s.passwordDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("password directory: %w", err)
	}
	f := filepath.Join(dir, drillID)
	if err := os.WriteFile(f, []byte(pw), 0o600); err != nil {
		return "", nil, fmt.Errorf("password file: %w", err)
	}
	return f, func() { os.Remove(f) }, nil
}

// CleanStale removes what drills killed mid-way left: scratch directories
// (drill.CleanStale) and password files older than any drill runs.
func (s *Service) CleanStale() ([]string, error) {
	if s.opts.ScratchRoot == "" {
		return nil, nil
	}
	removed, err := drill.CleanStale(s.opts.ScratchRoot)
	entries, rerr := os.ReadDir(s.passwordDir())
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	for _, e := range entries {
		if info, ierr := e.Info(); ierr == nil && time.Since(info.ModTime()) > 8*24*time.Hour {
			f := filepath.Join(s.passwordDir(), e.Name())
			if os.Remove(f) == nil {
				removed = append(removed, f)
			}
		}
	}
	return removed, err
}

// maxDrillLog bounds the log kept as evidence.
const maxDrillLog = 1 << 20

// finishDrill records a drill's end in one transaction: the record, its
// log as evidence, and for a failed drill its root-cause analysis and the
// notice to the data set's owner.
func (s *Service) finishDrill(ctx context.Context, by Actor, d Drill, rep *drill.Report) (Drill, error) {
	end := s.now()
	d.FinishedAt, d.State = &end, verdict(rep.Passed)
	d.SnapshotID, d.Checks, d.Notes = rep.SnapshotID, rep.Checks, rep.Notes
	if !rep.SnapshotTime.IsZero() {
		t := rep.SnapshotTime.UTC().Truncate(time.Microsecond)
		d.SnapshotTime = &t
	}
	if d.Checks == nil {
		d.Checks = []drill.Check{}
	}
	if d.Notes == nil {
		d.Notes = []string{}
	}
	d.DurationMS, d.RPOSeconds = rep.Duration.Milliseconds(), int64(rep.SnapshotAge/time.Second)
	d.BytesRestored, d.Files = rep.BytesRestored, rep.Files
	log := rep.Log
	if len(log) > maxDrillLog {
		log = log[:maxDrillLog] + "\n[cut]"
	}
	if log == "" {
		log = "(the tools wrote nothing)"
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		blob, err := s.log.PutBlob(ctx, tx, "text/plain; charset=utf-8", []byte(log))
		if err != nil {
			return err
		}
		d.LogRef = blob.Ref()
		if err := tx.UpdateDrill(ctx, d); err != nil {
			return err
		}
		events := []ledger.Event{{Actor: by.Name, Kind: "backup.drill_" + d.State, Subject: d.subject(),
			Payload: map[string]any{"drill": d, "evidence": []string{d.LogRef}}}}
		if !rep.Passed {
			ev, err := s.openRCA(ctx, tx, d)
			if err != nil {
				return err
			}
			events = append(events, ev)
		}
		if _, err := s.log.Append(ctx, tx, events...); err != nil {
			return err
		}
		if rep.Passed || s.opts.Notifier == nil {
			return nil
		}
		return s.notifyFailed(ctx, tx, d)
	})
	return d, err
}

func (s *Service) openRCA(ctx context.Context, tx Tx, d Drill) (ledger.Event, error) {
	r := RCA{ID: id.New("rca"), DrillID: d.ID, DataSetID: d.DataSetID, DataSet: d.DataSet, DrillRunBy: d.RunBy, OpenedAt: *d.FinishedAt}
	if err := tx.InsertRCA(ctx, r); err != nil {
		return ledger.Event{}, err
	}
	return ledger.Event{Actor: "system", Kind: "backup.rca_opened", Subject: "backup-rca/" + r.ID, Payload: r}, nil
}

func (s *Service) notifyFailed(ctx context.Context, tx Tx, d Drill) error {
	ds, err := tx.DataSetByName(ctx, d.DataSet)
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("The restore drill %s of data set %s (copy %s) failed: %s. A root-cause analysis is open (opsguard backup rca list).",
		d.ID, d.DataSet, d.Copy, summarize(d))
	return s.opts.Notifier.Notify(ctx, tx, "backup.drill_failed", d.subject(), summary,
		map[string]any{"owner": ds.Owner, "dataset": d.DataSet, "copy": d.Copy, "drill": d.ID, "snapshot": d.SnapshotID, "run_by": d.RunBy})
}
