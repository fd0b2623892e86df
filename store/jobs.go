package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/jobs"
)

// The record of scheduled job runs and the jobs' locks. *DB implements
// jobs.Store. job_runs is an operational record, not sealed: a run is not
// a state change of its own (the jobs ledger what they change).

var _ jobs.Store = (*DB)(nil)

const jobRunColumns = "id, job, host, started_at, ended_at, outcome, error"

func scanJobRun(r row) (jobs.Run, error) {
	var run jobs.Run
	var started string
	var ended sql.NullString
	if err := r.Scan(&run.ID, &run.Job, &run.Host, &started, &ended, &run.Outcome, &run.Error); err != nil {
		return run, err
	}
	var err error
	if run.StartedAt, err = parseTS(started); err != nil {
		return run, err
	}
	run.EndedAt, err = parseNullTS(ended)
	return run, err
}

// LastJobRuns returns the newest run of each job that has run.
func (db *DB) LastJobRuns(ctx context.Context) ([]jobs.Run, error) {
	var out []jobs.Run
	err := db.View(ctx, func(tx *Tx) error {
		all, err := queryAll(ctx, tx, scanJobRun, "SELECT "+jobRunColumns+" FROM job_runs r"+
			" WHERE started_at = (SELECT MAX(started_at) FROM job_runs WHERE job = r.job) ORDER BY job, id DESC")
		for i, r := range all {
			if i == 0 || all[i-1].Job != r.Job { // two runs started in one microsecond: the later id
				out = append(out, r)
			}
		}
		return err
	})
	return out, err
}

// LastJobRun returns the newest run of job.
func (db *DB) LastJobRun(ctx context.Context, job string) (jobs.Run, bool, error) {
	var r jobs.Run
	err := db.View(ctx, func(tx *Tx) error {
		var err error
		r, err = scanJobRun(tx.queryRow(ctx, "SELECT "+jobRunColumns+" FROM job_runs WHERE job = ? ORDER BY started_at DESC, id DESC LIMIT 1", job))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// JobRuns returns the newest runs of job, newest first, at most limit.
func (db *DB) JobRuns(ctx context.Context, job string, limit int) ([]jobs.Run, error) {
	var out []jobs.Run
	err := db.View(ctx, func(tx *Tx) error {
		var err error
		out, err = queryAll(ctx, tx, scanJobRun, "SELECT "+jobRunColumns+" FROM job_runs WHERE job = ? ORDER BY started_at DESC, id DESC LIMIT ?", job, limit)
		return err
	})
	return out, err
}

// BeginJobRun records r as running and marks the job's other unfinished
// runs abandoned: the caller holds the job's lock, so their replica is gone.
func (db *DB) BeginJobRun(ctx context.Context, r jobs.Run) error {
	return db.Update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, "UPDATE job_runs SET outcome = ?, ended_at = ?, error = ? WHERE job = ? AND outcome = ?",
			jobs.Abandoned, ts(r.StartedAt), "its replica stopped before the run ended; "+r.Host+" took the job over", r.Job, jobs.Running); err != nil {
			return err
		}
		_, err := tx.exec(ctx, "INSERT INTO job_runs ("+jobRunColumns+") VALUES (?, ?, ?, ?, NULL, ?, ?)",
			r.ID, r.Job, r.Host, ts(r.StartedAt), jobs.Running, r.Error)
		return err
	})
}

// EndJobRun records how r ended, unless another replica has marked it
// abandoned meanwhile, and keeps only the job's newest keep runs.
func (db *DB) EndJobRun(ctx context.Context, r jobs.Run, keep int) error {
	return db.Update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, "UPDATE job_runs SET outcome = ?, ended_at = ?, error = ? WHERE id = ? AND outcome = ?",
			r.Outcome, nullTS(r.EndedAt), r.Error, r.ID, jobs.Running); err != nil {
			return err
		}
		_, err := tx.exec(ctx, "DELETE FROM job_runs WHERE job = ? AND id NOT IN"+
			" (SELECT id FROM job_runs WHERE job = ? ORDER BY started_at DESC, id DESC LIMIT ?)", r.Job, r.Job, keep)
		return err
	})
}

// TryJobLock runs fn holding the named job's lock, if nobody holds it, and
// reports whether it ran. On PostgreSQL the lock is a session advisory
// lock keyed by the schema and the name, held on a connection of its own
// for the whole run: another replica's try fails until it is released or
// the connection dies. The connection is checked every JobLockCheck; when
// it is lost, fn's context is cancelled, because another replica may take
// the job over. On SQLite (one process) fn runs at once.
func (db *DB) TryJobLock(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	if db.dialect != Postgres {
		return true, fn(ctx)
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("job lock %s: %w", name, err)
	}
	defer conn.Close()
	const key = "hashtext(current_schema()), hashtext('opsguard-job:' || $1)"
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock("+key+")", name).Scan(&got); err != nil {
		return false, fmt.Errorf("job lock %s: %w", name, err)
	}
	if !got {
		return false, nil
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+key+")", name)
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go db.watchLock(jctx, conn, name, cancel)
	return true, fn(jctx)
}

// watchLock cancels a job whose lock connection stops answering.
func (db *DB) watchLock(ctx context.Context, conn *sql.Conn, name string, cancel context.CancelCauseFunc) {
	t := time.NewTicker(db.opts.JobLockCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, done := context.WithTimeout(ctx, db.opts.JobLockCheck)
		err := conn.PingContext(pctx)
		done()
		if err != nil && ctx.Err() == nil {
			db.opts.Logger.Error("lost the job lock's database connection; stopping the job", "job", name, "err", err)
			cancel(fmt.Errorf("job %s lost its lock: %w", name, err))
			return
		}
	}
}

// WithJobLock returns a function that runs a job only while holding the
// named lock (see TryJobLock); when another replica holds it, the job is
// skipped.
func (db *DB) WithJobLock(name string) func(ctx context.Context, job func(context.Context) error) error {
	return func(ctx context.Context, job func(context.Context) error) error {
		_, err := db.TryJobLock(ctx, name, job)
		return err
	}
}
