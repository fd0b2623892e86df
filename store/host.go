package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/opsguard/opsguard/host"
)

// The queries of the host register. *Tx implements host.Tx.

var _ host.Tx = (*Tx)(nil)

const hostColumns = `id, name, environment, env_set_by, host_groups, address, token_id, first_seen, last_seen, last_seen_unix, received_at, facts, groups_set_by`

func scanHost(sc row) (host.Host, error) {
	var h host.Host
	var groups, first, last, received, facts string
	var lastUnix int64
	var groupsBy sql.NullString
	err := sc.Scan(&h.ID, &h.Name, &h.Environment, &h.EnvSetBy, &groups, &h.Address, &h.TokenID, &first, &last, &lastUnix, &received, &facts, &groupsBy)
	h.GroupsSetBy = groupsBy.String
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal([]byte(groups), &h.Groups); err != nil {
		return h, fmt.Errorf("host %s: groups: %w", h.ID, err)
	}
	if err := json.Unmarshal([]byte(facts), &h.Facts); err != nil {
		return h, fmt.Errorf("host %s: facts: %w", h.ID, err)
	}
	if h.FirstSeen, err = parseTS(first); err != nil {
		return h, err
	}
	if h.LastSeen, err = parseTS(last); err != nil {
		return h, err
	}
	h.ReceivedAt, err = parseTS(received)
	return h, err
}

// HostByID returns a host.
func (tx *Tx) HostByID(ctx context.Context, id string) (host.Host, error) {
	h, err := scanHost(tx.queryRow(ctx, "SELECT "+hostColumns+" FROM hosts WHERE id = ?", id))
	return h, notFound(err, "host "+id)
}

// HostByName returns the host of that name (the newest seen), or of that ID.
func (tx *Tx) HostByName(ctx context.Context, name string) (host.Host, error) {
	h, err := scanHost(tx.queryRow(ctx, "SELECT "+hostColumns+" FROM hosts WHERE name = ? OR id = ? ORDER BY id = ? DESC, last_seen_unix DESC LIMIT 1", name, name, name))
	return h, notFound(err, "host "+name)
}

// ListHosts returns every host by name.
func (tx *Tx) ListHosts(ctx context.Context) ([]host.Host, error) {
	return queryAll(ctx, tx, scanHost, "SELECT "+hostColumns+" FROM hosts ORDER BY name, id")
}

// PutHost inserts or replaces a host.
func (tx *Tx) PutHost(ctx context.Context, h host.Host) error {
	groups, err := json.Marshal(nonNilStrings(h.Groups))
	if err != nil {
		return err
	}
	facts, err := json.Marshal(h.Facts)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO hosts ("+hostColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, environment = excluded.environment, env_set_by = excluded.env_set_by,
		host_groups = excluded.host_groups, address = excluded.address, token_id = excluded.token_id, last_seen = excluded.last_seen,
		last_seen_unix = excluded.last_seen_unix, received_at = excluded.received_at, facts = excluded.facts, groups_set_by = excluded.groups_set_by`,
		h.ID, h.Name, h.Environment, h.EnvSetBy, string(groups), h.Address, h.TokenID, ts(h.FirstSeen), ts(h.LastSeen), h.LastSeen.Unix(),
		ts(h.ReceivedAt), string(facts), nullString(h.GroupsSetBy))
	return err
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// AddHostEnvironment records that a host reported into env.
func (tx *Tx) AddHostEnvironment(ctx context.Context, hostID, env string, at time.Time) error {
	_, err := tx.exec(ctx, "INSERT INTO host_environments (host_id, environment, first_seen) VALUES (?, ?, ?) ON CONFLICT (host_id, environment) DO NOTHING",
		hostID, env, ts(at))
	return err
}

// HostEnvironments maps each host to the environments it reported into.
func (tx *Tx) HostEnvironments(ctx context.Context) (map[string][]string, error) {
	type pair struct{ h, e string }
	ps, err := queryAll(ctx, tx, func(r row) (p pair, err error) { return p, r.Scan(&p.h, &p.e) },
		"SELECT host_id, environment FROM host_environments ORDER BY host_id, environment")
	out := map[string][]string{}
	for _, p := range ps {
		out[p.h] = append(out[p.h], p.e)
	}
	return out, err
}

// InsertSample stores a report's points; false when the host has one at
// that time already.
func (tx *Tx) InsertSample(ctx context.Context, s host.Sample) (bool, error) {
	pts, err := json.Marshal(s.Points)
	if err != nil {
		return false, err
	}
	st, err := tx.stmt(ctx, insertSampleQuery)
	if err != nil {
		return false, err
	}
	res, err := st.ExecContext(ctx, s.HostID, ts(s.At), s.At.Unix(), string(pts))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// kindScale is a series' kind and the factor its values are stored at:
// percentages and loads in hundredths, bytes and inodes as counted.
func kindScale(series string) (string, float64) {
	kind, _, _ := strings.Cut(series, ":")
	if kind == "disk" || kind == "inodes" {
		return kind, 1
	}
	return kind, 100
}

// The statements of ingest, prepared once when the store opens: parsing
// them for every point was most of an ingest's CPU time.
const (
	addHourlyQuery = `INSERT INTO host_hourly (host_id, k, series, kind, hour_unix, n, sum_value, max_value, total) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
		ON CONFLICT (host_id, k) DO UPDATE SET n = host_hourly.n + 1, sum_value = host_hourly.sum_value + excluded.sum_value,
		max_value = CASE WHEN excluded.max_value > host_hourly.max_value THEN excluded.max_value ELSE host_hourly.max_value END, total = excluded.total
		RETURNING n, sum_value`
	addFitQuery = `INSERT INTO host_fit_daily (host_id, k, series, day_unix, n, sx, sxx, sy, sxy, total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (host_id, k) DO UPDATE SET n = host_fit_daily.n + excluded.n, sx = host_fit_daily.sx + excluded.sx,
		sxx = host_fit_daily.sxx + excluded.sxx, sy = host_fit_daily.sy + excluded.sy, sxy = host_fit_daily.sxy + excluded.sxy,
		total = CASE WHEN excluded.total > host_fit_daily.total THEN excluded.total ELSE host_fit_daily.total END`
	insertSampleQuery = "INSERT INTO host_samples (host_id, at, at_unix, points) VALUES (?, ?, ?, ?) ON CONFLICT (host_id, at) DO NOTHING"
)

var hostHotStatements = []string{addHourlyQuery, addFitQuery, insertSampleQuery}

// AddHourly adds a sample's points to their hours' aggregates, and a
// disk or inode point's change of its hour's average to its day's fit.
func (tx *Tx) AddHourly(ctx context.Context, hostID string, at time.Time, ps []host.Point) error {
	hour := at.UTC().Truncate(time.Hour)
	for _, p := range ps {
		kind, scale := kindScale(p.Series)
		v := int64(math.Round(p.Value * scale))
		var n, sum int64
		st, err := tx.stmt(ctx, addHourlyQuery)
		if err != nil {
			return err
		}
		err = st.QueryRowContext(ctx, hostID, ts(hour)+" "+p.Series, p.Series, kind, hour.Unix(), v, v, int64(p.Total)).Scan(&n, &sum)
		if err != nil {
			return err
		}
		if kind == "disk" || kind == "inodes" {
			if err := tx.addFit(ctx, hostID, p.Series, hour, n, sum, v, int64(p.Total)); err != nil {
				return err
			}
		}
	}
	return nil
}

// addFit adds to a day's fit sums the change of an hour's average: the
// hour (n values, their sum, v the newest) counts once, at x its hour of
// the day, y its average.
func (tx *Tx) addFit(ctx context.Context, hostID, series string, hour time.Time, n, sum, v, total int64) error {
	day := hour.Truncate(24 * time.Hour)
	x := int64(hour.Sub(day) / time.Hour)
	avg := func(s, n int64) int64 { return int64(math.Round(float64(s) / float64(n))) }
	dn, dy := int64(1), avg(sum, n)
	if n > 1 {
		dn, dy = 0, dy-avg(sum-v, n-1)
	}
	st, err := tx.stmt(ctx, addFitQuery)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, hostID, ts(day)[:10]+" "+series, series, day.Unix(), dn, dn*x, dn*x*x, dy, dy*x, total)
	return err
}

// Samples returns a host's full-resolution samples since a time, oldest first.
func (tx *Tx) Samples(ctx context.Context, hostID string, since time.Time) ([]host.Sample, error) {
	return queryAll(ctx, tx, func(r row) (host.Sample, error) {
		var s host.Sample
		var at, pts string
		if err := r.Scan(&s.HostID, &at, &pts); err != nil {
			return s, err
		}
		var err error
		if s.At, err = parseTS(at); err != nil {
			return s, err
		}
		return s, json.Unmarshal([]byte(pts), &s.Points)
	}, "SELECT host_id, at, points FROM host_samples WHERE host_id = ? AND at_unix >= ? ORDER BY at_unix", hostID, since.Unix())
}

// Hours returns a series' hourly aggregates since a time, oldest first.
func (tx *Tx) Hours(ctx context.Context, hostID, series string, since time.Time) ([]host.Hour, error) {
	_, scale := kindScale(series)
	return queryAll(ctx, tx, func(r row) (host.Hour, error) {
		h := host.Hour{Series: series}
		var unix, sum, mx, total int64
		err := r.Scan(&unix, &h.N, &sum, &mx, &total)
		h.Hour = time.Unix(unix, 0).UTC()
		if h.N > 0 {
			h.Avg = float64(sum) / float64(h.N) / scale
		}
		h.Max, h.Total = float64(mx)/scale, float64(total)
		return h, err
	}, "SELECT hour_unix, n, sum_value, max_value, total FROM host_hourly WHERE host_id = ? AND series = ? AND hour_unix >= ? ORDER BY hour_unix",
		hostID, series, since.Unix())
}

// FitSums sums the fit of every disk and inode series over the days
// from origin on, x in hours since origin: one row per series and day,
// each day's sums shifted by its offset d from origin (Σ(x+d) = sx + n·d,
// Σ(x+d)² = sxx + 2d·sx + n·d², Σ(x+d)·y = sxy + d·sy).
func (tx *Tx) FitSums(ctx context.Context, origin time.Time) ([]host.FitSum, error) {
	return queryAll(ctx, tx, func(r row) (host.FitSum, error) {
		var f host.FitSum
		return f, r.Scan(&f.HostID, &f.Series, &f.N, &f.SX, &f.SY, &f.SXX, &f.SXY, &f.Total)
	}, `SELECT host_id, series, SUM(n), SUM(sx + n * d), SUM(sy), SUM(sxx + 2 * d * sx + n * d * d), SUM(sxy + d * sy), MAX(total) FROM (
			SELECT host_id, series, CAST(n AS DOUBLE PRECISION) AS n, CAST(sx AS DOUBLE PRECISION) AS sx, CAST(sxx AS DOUBLE PRECISION) AS sxx,
				CAST(sy AS DOUBLE PRECISION) AS sy, CAST(sxy AS DOUBLE PRECISION) AS sxy, total, CAST(day_unix - ? AS DOUBLE PRECISION) / 3600 AS d
			FROM host_fit_daily WHERE day_unix >= ?) f
		GROUP BY host_id, series`, origin.Unix(), origin.Unix())
}

// PruneSamples deletes the full-resolution samples before a time.
func (tx *Tx) PruneSamples(ctx context.Context, before time.Time) (int64, error) {
	res, err := tx.exec(ctx, "DELETE FROM host_samples WHERE at_unix < ?", before.Unix())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// AlertStates returns every capacity alert's state.
func (tx *Tx) AlertStates(ctx context.Context) ([]host.AlertState, error) {
	return queryAll(ctx, tx, func(r row) (host.AlertState, error) {
		var a host.AlertState
		var data string
		if err := r.Scan(&data); err != nil {
			return a, err
		}
		return a, json.Unmarshal([]byte(data), &a)
	}, "SELECT data FROM capacity_alerts ORDER BY k")
}

// PutAlertState stores a capacity alert's state.
func (tx *Tx) PutAlertState(ctx context.Context, a host.AlertState) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO capacity_alerts (k, host_id, state, data) VALUES (?, ?, ?, ?)
		ON CONFLICT (k) DO UPDATE SET host_id = excluded.host_id, state = excluded.state, data = excluded.data`, a.Key, a.HostID, a.State, string(data))
	return err
}

// nullString stores "" as NULL: a nullable column added to a sealed table
// leaves the content of the rows that do not use it unchanged.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// DayPeaks aggregates every host's series over [from, to): the average
// of its values and the highest.
func (tx *Tx) DayPeaks(ctx context.Context, from, to time.Time) ([]host.Peak, error) {
	return queryAll(ctx, tx, func(r row) (host.Peak, error) {
		var p host.Peak
		var n, sum, mx, total int64
		if err := r.Scan(&p.HostID, &p.Series, &n, &sum, &mx, &total); err != nil {
			return p, err
		}
		_, scale := kindScale(p.Series)
		if n > 0 {
			p.Avg = float64(sum) / float64(n) / scale
		}
		p.Max, p.Total = float64(mx)/scale, float64(total)
		return p, nil
	}, `SELECT host_id, series, SUM(n), SUM(sum_value), MAX(max_value), MAX(total) FROM host_hourly
		WHERE kind IN ('cpu', 'memory', 'load1', 'disk', 'inodes') AND hour_unix >= ? AND hour_unix < ?
		GROUP BY host_id, series`, from.Unix(), to.Unix())
}

// CapacityDayRecorded reports whether a day's records are sealed.
func (tx *Tx) CapacityDayRecorded(ctx context.Context, day string) (bool, error) {
	var n int
	err := tx.queryRow(ctx, "SELECT COUNT(*) FROM capacity_days WHERE day = ?", day).Scan(&n)
	return n > 0, err
}

// PutCapacityDay stores a host's record of a day.
func (tx *Tx) PutCapacityDay(ctx context.Context, r host.DayRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO capacity_days (host_id, day, data) VALUES (?, ?, ?)", r.HostID, r.Day, string(data))
	return err
}

// CapacityDays returns a host's daily records, newest first.
func (tx *Tx) CapacityDays(ctx context.Context, hostID string, limit int) ([]host.DayRecord, error) {
	return queryAll(ctx, tx, func(r row) (host.DayRecord, error) {
		var d host.DayRecord
		var data string
		if err := r.Scan(&data); err != nil {
			return d, err
		}
		return d, json.Unmarshal([]byte(data), &d)
	}, "SELECT data FROM capacity_days WHERE host_id = ? ORDER BY day DESC LIMIT ?", hostID, limit)
}
