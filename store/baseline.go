package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/baseline"
)

// The queries of host baselines, drift and software (CF-1, CF-2, CF-4).
// *Tx implements host.ConfigTx.

var _ host.ConfigTx = (*Tx)(nil)

const baselineColumns = `id, grp, version, state, document, sha256, author, created_at, decided_by, decided_at, note`

func scanBaseline(sc row) (host.Baseline, error) {
	var b host.Baseline
	var created, decided string
	err := sc.Scan(&b.ID, &b.Group, &b.Version, &b.State, &b.Document, &b.SHA256, &b.Author, &created, &b.DecidedBy, &decided, &b.Note)
	if err != nil {
		return b, err
	}
	if b.CreatedAt, err = parseTS(created); err != nil {
		return b, err
	}
	b.DecidedAt, err = optTS(decided)
	return b, err
}

// optTS reads a time stored as "" when there is none.
func optTS(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := parseTS(s)
	return &t, err
}

func optTSString(t *time.Time) string {
	if t == nil {
		return ""
	}
	return ts(*t)
}

// InsertBaseline stores a new version.
func (tx *Tx) InsertBaseline(ctx context.Context, b host.Baseline) error {
	_, err := tx.exec(ctx, "INSERT INTO baselines ("+baselineColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		b.ID, b.Group, b.Version, b.State, b.Document, b.SHA256, b.Author, ts(b.CreatedAt), b.DecidedBy, optTSString(b.DecidedAt), b.Note)
	return conflict(err, "baseline %s exists", b.ID)
}

// UpdateBaseline writes a version's decision.
func (tx *Tx) UpdateBaseline(ctx context.Context, b host.Baseline) error {
	_, err := tx.exec(ctx, "UPDATE baselines SET state = ?, decided_by = ?, decided_at = ?, note = ? WHERE id = ?",
		b.State, b.DecidedBy, optTSString(b.DecidedAt), b.Note, b.ID)
	return err
}

// BaselineByID returns a version.
func (tx *Tx) BaselineByID(ctx context.Context, id string) (host.Baseline, error) {
	b, err := scanBaseline(tx.queryRow(ctx, "SELECT "+baselineColumns+" FROM baselines WHERE id = ?", id))
	return b, notFound(err, "baseline "+id)
}

// ListBaselines returns a group's versions (every group's for ""), newest first.
func (tx *Tx) ListBaselines(ctx context.Context, group string) ([]host.Baseline, error) {
	return queryAll(ctx, tx, scanBaseline, "SELECT "+baselineColumns+" FROM baselines WHERE grp = ? OR ? = '' ORDER BY grp, version DESC", group, group)
}

const checkResultColumns = `host_id, check_id, baseline_id, kind, pass, observed, detail, at`

func scanResult(sc row) (host.CheckResult, error) {
	var r host.CheckResult
	var pass int64
	var observed, at string
	err := sc.Scan(&r.HostID, &r.Check, &r.Baseline, &r.Kind, &pass, &observed, &r.Detail, &at)
	if err != nil {
		return r, err
	}
	r.Pass = pass == 1
	if err := json.Unmarshal([]byte(observed), &r.Observed); err != nil {
		return r, fmt.Errorf("result %s/%s: observed: %w", r.HostID, r.Check, err)
	}
	r.At, err = parseTS(at)
	return r, err
}

// BaselineResults returns a host's newest results (every host's for "").
func (tx *Tx) BaselineResults(ctx context.Context, hostID string) ([]host.CheckResult, error) {
	return queryAll(ctx, tx, scanResult, "SELECT "+checkResultColumns+" FROM baseline_results WHERE host_id = ? OR ? = '' ORDER BY host_id, check_id", hostID, hostID)
}

// PutBaselineResult inserts or replaces a host's result of a check.
func (tx *Tx) PutBaselineResult(ctx context.Context, r host.CheckResult) error {
	obs, err := json.Marshal(nonNilObs(r.Observed))
	if err != nil {
		return err
	}
	pass := 0
	if r.Pass {
		pass = 1
	}
	_, err = tx.exec(ctx, "INSERT INTO baseline_results ("+checkResultColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (host_id, check_id) DO UPDATE SET baseline_id = excluded.baseline_id, kind = excluded.kind, pass = excluded.pass,
		observed = excluded.observed, detail = excluded.detail, at = excluded.at`,
		r.HostID, r.Check, r.Baseline, r.Kind, pass, string(obs), r.Detail, ts(r.At))
	return err
}

func nonNilObs(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// DeleteBaselineResult removes a check no longer evaluated on a host.
func (tx *Tx) DeleteBaselineResult(ctx context.Context, hostID, check string) error {
	_, err := tx.exec(ctx, "DELETE FROM baseline_results WHERE host_id = ? AND check_id = ?", hostID, check)
	return err
}

const driftColumns = `id, host_id, check_id, baseline_id, at, before_value, after_value, status, ticket_id, closed_at, closed_why`

func scanDrift(sc row) (host.Drift, error) {
	var d host.Drift
	var at, before, after, closed string
	err := sc.Scan(&d.ID, &d.HostID, &d.Check, &d.Baseline, &at, &before, &after, &d.Status, &d.TicketID, &closed, &d.ClosedWhy)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(before), &d.Before); err != nil {
		return d, fmt.Errorf("drift %s: before: %w", d.ID, err)
	}
	if err := json.Unmarshal([]byte(after), &d.After); err != nil {
		return d, fmt.Errorf("drift %s: after: %w", d.ID, err)
	}
	if d.At, err = parseTS(at); err != nil {
		return d, err
	}
	d.ClosedAt, err = optTS(closed)
	return d, err
}

// InsertDrift stores a drift.
func (tx *Tx) InsertDrift(ctx context.Context, d host.Drift) error {
	before, _ := json.Marshal(nonNilObs(d.Before))
	after, _ := json.Marshal(nonNilObs(d.After))
	_, err := tx.exec(ctx, "INSERT INTO drifts ("+driftColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.ID, d.HostID, d.Check, d.Baseline, ts(d.At), string(before), string(after), d.Status, d.TicketID, optTSString(d.ClosedAt), d.ClosedWhy)
	return err
}

// UpdateDrift writes a drift's closing.
func (tx *Tx) UpdateDrift(ctx context.Context, d host.Drift) error {
	_, err := tx.exec(ctx, "UPDATE drifts SET status = ?, ticket_id = ?, closed_at = ?, closed_why = ? WHERE id = ?",
		d.Status, d.TicketID, optTSString(d.ClosedAt), d.ClosedWhy, d.ID)
	return err
}

// Drifts returns a host's drifts (every host's for ""), newest first.
func (tx *Tx) Drifts(ctx context.Context, hostID string, open bool) ([]host.Drift, error) {
	return queryAll(ctx, tx, scanDrift, "SELECT "+driftColumns+` FROM drifts WHERE (host_id = ? OR ? = '') AND (closed_at = '' OR NOT ?)
		ORDER BY at DESC, id DESC`, hostID, hostID, open)
}

// HostPackages returns a host's packages by name.
func (tx *Tx) HostPackages(ctx context.Context, hostID string) ([]baseline.Package, error) {
	return queryAll(ctx, tx, func(r row) (p baseline.Package, err error) { return p, r.Scan(&p.Name, &p.Version) },
		"SELECT name, version FROM host_packages WHERE host_id = ? ORDER BY name", hostID)
}

// PutHostPackage inserts or replaces a host's package.
func (tx *Tx) PutHostPackage(ctx context.Context, hostID string, p baseline.Package) error {
	_, err := tx.exec(ctx, `INSERT INTO host_packages (host_id, name, version) VALUES (?, ?, ?)
		ON CONFLICT (host_id, name) DO UPDATE SET version = excluded.version`, hostID, p.Name, p.Version)
	return err
}

// DeleteHostPackage removes a package no longer installed.
func (tx *Tx) DeleteHostPackage(ctx context.Context, hostID, name string) error {
	_, err := tx.exec(ctx, "DELETE FROM host_packages WHERE host_id = ? AND name = ?", hostID, name)
	return err
}
