package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opsguard/opsguard/control"
)

// The queries of control runs and results. *Tx implements control.Tx.

var _ control.Tx = (*Tx)(nil)

// InsertControlRun stores a run and its results.
func (tx *Tx) InsertControlRun(ctx context.Context, r control.Run) error {
	if _, err := tx.exec(ctx, "INSERT INTO control_runs (id, trigger, actor, started_at, finished_at) VALUES (?, ?, ?, ?, ?)",
		r.ID, r.Trigger, r.Actor, ts(r.StartedAt), ts(r.FinishedAt)); err != nil {
		return err
	}
	stmt, err := tx.prepare(ctx, "INSERT INTO control_results (run_id, control_id, requirement, status, summary, refs, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, res := range r.Results {
		refs, err := json.Marshal(res.Refs)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, r.ID, res.ControlID, res.Requirement, string(res.Status), res.Summary, string(refs), ts(res.EvaluatedAt)); err != nil {
			return fmt.Errorf("result of %s: %w", res.ControlID, err)
		}
	}
	return nil
}

// LastControlRun returns the newest run without its results.
func (tx *Tx) LastControlRun(ctx context.Context) (control.Run, bool, error) {
	var r control.Run
	var started, finished string
	err := tx.queryRow(ctx, "SELECT id, trigger, actor, started_at, finished_at FROM control_runs ORDER BY started_at DESC, id DESC LIMIT 1").
		Scan(&r.ID, &r.Trigger, &r.Actor, &started, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	if r.StartedAt, err = parseTS(started); err != nil {
		return r, false, err
	}
	r.FinishedAt, err = parseTS(finished)
	return r, true, err
}

const resultColumns = "run_id, control_id, requirement, status, summary, refs, evaluated_at"

func (tx *Tx) results(ctx context.Context, q string, args ...any) ([]control.Result, error) {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []control.Result
	for rows.Next() {
		var r control.Result
		var refs, at string
		if err := rows.Scan(&r.RunID, &r.ControlID, &r.Requirement, &r.Status, &r.Summary, &refs, &at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(refs), &r.Refs); err != nil {
			return nil, fmt.Errorf("result %s/%s refs: %w", r.RunID, r.ControlID, err)
		}
		if r.EvaluatedAt, err = parseTS(at); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LatestControlResults returns the newest result of every control.
func (tx *Tx) LatestControlResults(ctx context.Context) ([]control.Result, error) {
	return tx.results(ctx, "SELECT "+resultColumns+` FROM control_results r
		WHERE evaluated_at = (SELECT MAX(evaluated_at) FROM control_results x WHERE x.control_id = r.control_id)
		ORDER BY control_id`)
}

// ControlHistory returns the newest results of one control, newest first.
func (tx *Tx) ControlHistory(ctx context.Context, controlID string, limit int) ([]control.Result, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return tx.results(ctx, "SELECT "+resultColumns+" FROM control_results WHERE control_id = ? ORDER BY evaluated_at DESC LIMIT ?", controlID, limit)
}
