package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/backup"
)

// The queries of restore drills, their root-cause analyses and the
// tabletop exercises.

const drillColumns = `r.id, r.dataset_id, d.name, r.copy_id, c.name, r.kind, r.state, r.selector, r.snapshot_id, r.snapshot_time,
	r.run_by, r.run_by_user, r.started_at, r.finished_at, r.duration_ms, r.rpo_seconds, r.bytes_restored, r.files, r.checks, r.notes,
	r.log_ref, r.approved_by, r.approved_at`

const drillFrom = ` FROM backup_drills r JOIN backup_datasets d ON d.id = r.dataset_id JOIN backup_copies c ON c.id = r.copy_id`

func scanDrill(sc row) (backup.Drill, error) {
	var d backup.Drill
	var snapTime, finished, approvedBy, approvedAt sql.NullString
	var started, checks, notes string
	err := sc.Scan(&d.ID, &d.DataSetID, &d.DataSet, &d.CopyID, &d.Copy, &d.Kind, &d.State, &d.Selector, &d.SnapshotID, &snapTime,
		&d.RunBy, &d.RunByUser, &started, &finished, &d.DurationMS, &d.RPOSeconds, &d.BytesRestored, &d.Files, &checks, &notes,
		&d.LogRef, &approvedBy, &approvedAt)
	if err != nil {
		return d, err
	}
	d.ApprovedBy = approvedBy.String
	if err := json.Unmarshal([]byte(checks), &d.Checks); err != nil {
		return d, fmt.Errorf("drill %s: checks: %w", d.ID, err)
	}
	if err := json.Unmarshal([]byte(notes), &d.Notes); err != nil {
		return d, fmt.Errorf("drill %s: notes: %w", d.ID, err)
	}
	if d.StartedAt, err = parseTS(started); err != nil {
		return d, err
	}
	if d.SnapshotTime, err = parseNullTS(snapTime); err != nil {
		return d, err
	}
	if d.FinishedAt, err = parseNullTS(finished); err != nil {
		return d, err
	}
	d.ApprovedAt, err = parseNullTS(approvedAt)
	return d, err
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// InsertDrill stores a drill as it starts.
func (tx *Tx) InsertDrill(ctx context.Context, d backup.Drill) error {
	checks, err := jsonText(d.Checks)
	if err != nil {
		return err
	}
	notes, err := jsonText(d.Notes)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO backup_drills (id, dataset_id, copy_id, kind, state, selector, snapshot_id, snapshot_time, run_by, run_by_user,
		started_at, finished_at, duration_ms, rpo_seconds, bytes_restored, files, checks, notes, log_ref, approved_by, approved_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.DataSetID, d.CopyID, d.Kind, d.State, d.Selector, d.SnapshotID, nullTS(d.SnapshotTime), d.RunBy, d.RunByUser,
		ts(d.StartedAt), nullTS(d.FinishedAt), d.DurationMS, d.RPOSeconds, d.BytesRestored, d.Files, checks, notes, d.LogRef,
		nullText(d.ApprovedBy), nullTS(d.ApprovedAt))
	return err
}

// UpdateDrill stores a drill's end and its approval.
func (tx *Tx) UpdateDrill(ctx context.Context, d backup.Drill) error {
	checks, err := jsonText(d.Checks)
	if err != nil {
		return err
	}
	notes, err := jsonText(d.Notes)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `UPDATE backup_drills SET state = ?, snapshot_id = ?, snapshot_time = ?, finished_at = ?, duration_ms = ?, rpo_seconds = ?,
		bytes_restored = ?, files = ?, checks = ?, notes = ?, log_ref = ?, approved_by = ?, approved_at = ? WHERE id = ?`,
		d.State, d.SnapshotID, nullTS(d.SnapshotTime), nullTS(d.FinishedAt), d.DurationMS, d.RPOSeconds,
		d.BytesRestored, d.Files, checks, notes, d.LogRef, nullText(d.ApprovedBy), nullTS(d.ApprovedAt), d.ID)
	return err
}

// DrillByID returns a drill.
func (tx *Tx) DrillByID(ctx context.Context, id string) (backup.Drill, error) {
	d, err := scanDrill(tx.queryRow(ctx, "SELECT "+drillColumns+drillFrom+" WHERE r.id = ?", id))
	return d, notFound(err, "drill "+id)
}

// ListDrills returns a data set's drills (every one's for ""), newest
// first, at most limit.
func (tx *Tx) ListDrills(ctx context.Context, dataSetID string, limit int) ([]backup.Drill, error) {
	return queryAll(ctx, tx, scanDrill, "SELECT "+drillColumns+drillFrom+" WHERE ? = '' OR r.dataset_id = ? ORDER BY r.started_at DESC, r.id LIMIT ?",
		dataSetID, dataSetID, limit)
}

// RunningDrill returns a drill of the data set still running that started
// after since.
func (tx *Tx) RunningDrill(ctx context.Context, dataSetID string, since time.Time) (backup.Drill, error) {
	d, err := scanDrill(tx.queryRow(ctx, "SELECT "+drillColumns+drillFrom+" WHERE r.dataset_id = ? AND r.state = 'running' AND r.started_at > ? ORDER BY r.started_at DESC LIMIT 1",
		dataSetID, ts(since)))
	return d, notFound(err, "running drill")
}

// DrillSummaries returns, per data set with a drill or an analysis, its
// newest ended drill, its newest passing drill and its open analyses.
func (tx *Tx) DrillSummaries(ctx context.Context) ([]backup.DrillSummary, error) {
	return queryAll(ctx, tx, func(sc row) (backup.DrillSummary, error) {
		var s backup.DrillSummary
		var last, passed, state, id sql.NullString
		err := sc.Scan(&s.DataSetID, &last, &state, &id, &passed, &s.OpenRCAs)
		if err != nil {
			return s, err
		}
		s.LastState, s.LastID = state.String, id.String
		if s.LastAt, err = parseNullTS(last); err != nil {
			return s, err
		}
		s.LastPassed, err = parseNullTS(passed)
		return s, err
	}, `SELECT d.id,
		(SELECT MAX(r.started_at) FROM backup_drills r WHERE r.dataset_id = d.id AND r.state <> 'running'),
		(SELECT r.state FROM backup_drills r WHERE r.dataset_id = d.id AND r.state <> 'running' ORDER BY r.started_at DESC, r.id DESC LIMIT 1),
		(SELECT r.id FROM backup_drills r WHERE r.dataset_id = d.id AND r.state <> 'running' ORDER BY r.started_at DESC, r.id DESC LIMIT 1),
		(SELECT MAX(r.started_at) FROM backup_drills r WHERE r.dataset_id = d.id AND r.state = 'passed'),
		(SELECT COUNT(*) FROM backup_rcas a WHERE a.dataset_id = d.id AND a.recorded_at IS NULL)
		FROM backup_datasets d`)
}

const rcaColumns = `a.id, a.drill_id, a.dataset_id, d.name, r.run_by, a.opened_at, a.cause, a.action, a.recorded_by, a.recorded_at`

const rcaFrom = ` FROM backup_rcas a JOIN backup_datasets d ON d.id = a.dataset_id JOIN backup_drills r ON r.id = a.drill_id`

func scanRCA(sc row) (backup.RCA, error) {
	var r backup.RCA
	var opened string
	var by, at sql.NullString
	err := sc.Scan(&r.ID, &r.DrillID, &r.DataSetID, &r.DataSet, &r.DrillRunBy, &opened, &r.Cause, &r.Action, &by, &at)
	if err != nil {
		return r, err
	}
	r.RecordedBy = by.String
	if r.OpenedAt, err = parseTS(opened); err != nil {
		return r, err
	}
	r.RecordedAt, err = parseNullTS(at)
	return r, err
}

// InsertRCA stores an open root-cause analysis.
func (tx *Tx) InsertRCA(ctx context.Context, r backup.RCA) error {
	_, err := tx.exec(ctx, `INSERT INTO backup_rcas (id, drill_id, dataset_id, opened_at, cause, action, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.DrillID, r.DataSetID, ts(r.OpenedAt), r.Cause, r.Action, nullText(r.RecordedBy), nullTS(r.RecordedAt))
	return err
}

// UpdateRCA stores an analysis's cause and action.
func (tx *Tx) UpdateRCA(ctx context.Context, r backup.RCA) error {
	_, err := tx.exec(ctx, "UPDATE backup_rcas SET cause = ?, action = ?, recorded_by = ?, recorded_at = ? WHERE id = ?",
		r.Cause, r.Action, nullText(r.RecordedBy), nullTS(r.RecordedAt), r.ID)
	return err
}

// RCAByID returns an analysis.
func (tx *Tx) RCAByID(ctx context.Context, id string) (backup.RCA, error) {
	r, err := scanRCA(tx.queryRow(ctx, "SELECT "+rcaColumns+rcaFrom+" WHERE a.id = ?", id))
	return r, notFound(err, "root-cause analysis "+id)
}

// ListRCAs returns the analyses, open ones first, newest first.
func (tx *Tx) ListRCAs(ctx context.Context) ([]backup.RCA, error) {
	return queryAll(ctx, tx, scanRCA, "SELECT "+rcaColumns+rcaFrom+" ORDER BY CASE WHEN a.recorded_at IS NULL THEN 0 ELSE 1 END, a.opened_at DESC, a.id")
}

// InsertExercise stores a tabletop exercise.
func (tx *Tx) InsertExercise(ctx context.Context, e backup.Exercise) error {
	ps, err := jsonText(e.Participants)
	if err != nil {
		return err
	}
	as, err := jsonText(e.Actions)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO backup_exercises (id, scenario, held_on, participants, findings, actions, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Scenario, e.Date, ps, e.Findings, as, ts(e.CreatedAt), e.CreatedBy)
	return err
}

// ListExercises returns the exercises, newest date first.
func (tx *Tx) ListExercises(ctx context.Context) ([]backup.Exercise, error) {
	return queryAll(ctx, tx, func(sc row) (backup.Exercise, error) {
		var e backup.Exercise
		var ps, as, created string
		err := sc.Scan(&e.ID, &e.Scenario, &e.Date, &ps, &e.Findings, &as, &created, &e.CreatedBy)
		if err != nil {
			return e, err
		}
		if err := json.Unmarshal([]byte(ps), &e.Participants); err != nil {
			return e, err
		}
		if err := json.Unmarshal([]byte(as), &e.Actions); err != nil {
			return e, err
		}
		e.CreatedAt, err = parseTS(created)
		return e, err
	}, "SELECT id, scenario, held_on, participants, findings, actions, created_at, created_by FROM backup_exercises ORDER BY held_on DESC, created_at DESC")
}

// RunningDrills returns every drill marked running, oldest first.
func (tx *Tx) RunningDrills(ctx context.Context) ([]backup.Drill, error) {
	return queryAll(ctx, tx, scanDrill, "SELECT "+drillColumns+drillFrom+" WHERE r.state = 'running' ORDER BY r.started_at")
}
