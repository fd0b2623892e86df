package host

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Level is a metric's warning and critical thresholds, in percent.
type Level struct {
	Warning  float64 `json:"warning"`
	Critical float64 `json:"critical"`
}

// Thresholds are the levels of each metric.
type Thresholds struct {
	CPU    Level `json:"cpu"`
	Memory Level `json:"memory"`
	Disk   Level `json:"disk"`
	Inodes Level `json:"inodes"`
}

// Capacity is the policy of CP-1 … CP-3 (config capacity:).
type Capacity struct {
	Default Thresholds
	// Groups override Default for the hosts of a group (the first of a
	// host's groups that has thresholds).
	Groups map[string]Thresholds
	// Metrics are the levels of named metrics (a Prometheus query's).
	Metrics map[string]Level
	// AlertAfter is how long a crossing (or its end) must last before it
	// is alerted (or resolved): no flapping.
	AlertAfter time.Duration
	// Hysteresis is how far (percentage points) below its threshold a
	// value must fall for the crossing to end.
	Hysteresis       float64
	DiskFullWarnDays int
	// TrendWindow is the span of the least-squares fit.
	TrendWindow time.Duration
	// RawWindow is how long full-resolution samples are kept.
	RawWindow time.Duration
	// ReportInterval is how often an agent reports; a production host
	// silent for three of them fails CP-1.
	ReportInterval time.Duration
	CheckInterval  time.Duration
}

func (c *Capacity) defaults() {
	if c.Default == (Thresholds{}) {
		c.Default = Thresholds{CPU: Level{80, 90}, Memory: Level{80, 90}, Disk: Level{75, 85}, Inodes: Level{75, 85}}
	}
	if c.AlertAfter <= 0 {
		c.AlertAfter = 5 * time.Minute
	}
	if c.Hysteresis <= 0 {
		c.Hysteresis = 5
	}
	if c.DiskFullWarnDays <= 0 {
		c.DiskFullWarnDays = 14
	}
	if c.TrendWindow <= 0 {
		c.TrendWindow = 7 * 24 * time.Hour
	}
	if c.RawWindow <= 0 {
		c.RawWindow = 48 * time.Hour
	}
	if c.ReportInterval <= 0 {
		c.ReportInterval = time.Minute
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = time.Minute
	}
}

// thresholds returns the levels for a host's groups.
func (c Capacity) thresholds(groups []string) Thresholds {
	for _, g := range groups {
		if t, ok := c.Groups[g]; ok {
			return t
		}
	}
	return c.Default
}

// FitSum is the sums of a least-squares fit of a series' hourly averages:
// x in hours since the window's start, y the average.
type FitSum struct {
	HostID, Series          string
	N                       int
	SX, SY, SXX, SXY, Total float64
}

// Line is the fitted line y = Intercept + Slope·x; ok is false with fewer
// than two distinct points.
func (f FitSum) Line() (slope, intercept float64, ok bool) {
	n := float64(f.N)
	d := n*f.SXX - f.SX*f.SX
	if f.N < 2 || math.Abs(d) < 1e-9 {
		return 0, 0, false
	}
	slope = (n*f.SXY - f.SX*f.SY) / d
	return slope, (f.SY - slope*f.SX) / n, true
}

// Fit sums the points (x, y) for a fit.
func Fit(xs, ys []float64) FitSum {
	var f FitSum
	for i := range xs {
		f.N++
		f.SX += xs[i]
		f.SY += ys[i]
		f.SXX += xs[i] * xs[i]
		f.SXY += xs[i] * ys[i]
	}
	return f
}

// DaysUntilFull projects when a series reaches its total on the fitted
// slope (per hour) from its current value, as predict_linear would; nil
// when it does not grow.
func DaysUntilFull(slopePerHour, current, total float64) *float64 {
	if slopePerHour <= 0 || total <= 0 {
		return nil
	}
	d := max(total-current, 0) / slopePerHour / 24
	d = math.Round(d*10) / 10
	return &d
}

// States of a metric.
const (
	OK       = "ok"
	Warning  = "warning"
	Critical = "critical"
)

// FSStatus is one filesystem's capacity.
type FSStatus struct {
	Mount        string  `json:"mount"`
	TotalBytes   uint64  `json:"total_bytes"`
	AvailBytes   uint64  `json:"avail_bytes"`
	UsedPercent  float64 `json:"used_percent"`
	InodePercent float64 `json:"inode_percent"`
	// DaysUntilFull is the projection of the bytes (and inodes) on the
	// trend window's fit; absent when not growing.
	DaysUntilFull       *float64 `json:"days_until_full,omitempty"`
	DaysUntilInodesFull *float64 `json:"days_until_inodes_full,omitempty"`
	State               string   `json:"state"`
}

// Status is a host's capacity: each metric, its state, and the alerts
// firing.
type Status struct {
	HostID        string         `json:"host_id"`
	Host          string         `json:"host"`
	Environment   string         `json:"environment"`
	LastSeen      time.Time      `json:"last_seen"`
	Silent        bool           `json:"silent"`
	CPUPercent    float64        `json:"cpu_percent"`
	MemoryPercent float64        `json:"memory_percent"`
	Load1         float64        `json:"load1"`
	CPUState      string         `json:"cpu_state"`
	MemoryState   string         `json:"memory_state"`
	Filesystems   []FSStatus     `json:"filesystems"`
	Clock         *Clock         `json:"clock,omitempty"`
	ClockOK       bool           `json:"clock_ok"`
	Metrics       []MetricStatus `json:"metrics,omitempty"`
	Firing        []string       `json:"firing"`
	State         string         `json:"state"`
}

func levelState(v float64, l Level) string {
	switch {
	case v >= l.Critical:
		return Critical
	case v >= l.Warning:
		return Warning
	}
	return OK
}

func worse(a, b string) string {
	rank := map[string]int{OK: 0, Warning: 1, Critical: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// MetricStatus is a named metric against its levels.
type MetricStatus struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	State string  `json:"state"`
}

// Status returns every host's capacity, production first.
func (s *Service) Status(ctx context.Context) ([]Status, error) {
	hs, err := s.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	fits, err := s.fitSums(ctx, s.fitOrigin(now))
	if err != nil {
		return nil, err
	}
	var alerts []AlertState
	err = s.store.View(ctx, func(tx Tx) error {
		alerts, err = tx.AlertStates(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	firing := map[string][]string{}
	for _, a := range alerts {
		if a.State == Firing {
			firing[a.HostID] = append(firing[a.HostID], a.Metric+" "+a.Level)
		}
	}
	out := make([]Status, len(hs))
	for i, h := range hs {
		out[i] = s.status(h, fits, now)
		out[i].Firing = nonNil(firing[h.ID])
		slices.Sort(out[i].Firing)
	}
	return out, nil
}

// fitSums returns the fit's sums of every disk and inode series from
// origin on, by host and series: the sums are kept per day at ingest, so
// this is one query over a row per series and day.
func (s *Service) fitSums(ctx context.Context, origin time.Time) (map[string]FitSum, error) {
	var fs []FitSum
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		fs, err = tx.FitSums(ctx, origin)
		return err
	})
	out := make(map[string]FitSum, len(fs))
	for _, f := range fs {
		out[f.HostID+"\x00"+f.Series] = f
	}
	return out, err
}

// fitOrigin is where the trend window starts: the UTC midnight at or
// before now minus capacity.trend_window (the fit's sums are kept per day).
func (s *Service) fitOrigin(now time.Time) time.Time {
	return now.Add(-s.opts.Capacity.TrendWindow).UTC().Truncate(24 * time.Hour)
}

func (s *Service) status(h Host, fits map[string]FitSum, now time.Time) Status {
	c := s.opts.Capacity
	t := c.thresholds(h.Groups)
	f := h.Facts
	st := Status{HostID: h.ID, Host: h.Name, Environment: h.Environment, LastSeen: h.LastSeen,
		Silent:     now.Sub(h.LastSeen) > 3*c.ReportInterval,
		CPUPercent: round1(f.CPU.Percent), MemoryPercent: round1(f.Memory.Percent()), Load1: f.Load.Load1,
		Clock: f.Clock, Filesystems: []FSStatus{}}
	st.CPUState, st.MemoryState = levelState(f.CPU.Percent, t.CPU), levelState(f.Memory.Percent(), t.Memory)
	st.State = worse(st.CPUState, st.MemoryState)
	st.ClockOK = s.clockOK(f.Clock)
	for _, k := range slices.Sorted(maps.Keys(f.Metrics)) {
		m := MetricStatus{Name: k, Value: f.Metrics[k], State: OK}
		if l, ok := c.Metrics[k]; ok {
			m.State = levelState(m.Value, l)
		}
		st.State = worse(st.State, m.State)
		st.Metrics = append(st.Metrics, m)
	}
	for _, fs := range f.Filesystems {
		x := FSStatus{Mount: fs.Mount, TotalBytes: fs.TotalBytes, AvailBytes: fs.AvailBytes,
			UsedPercent: round1(fs.Percent()), InodePercent: round1(fs.InodePercent())}
		x.State = worse(levelState(fs.Percent(), t.Disk), levelState(fs.InodePercent(), t.Inodes))
		x.DaysUntilFull = project(fits[h.ID+"\x00disk:"+fs.Mount], float64(fs.TotalBytes-fs.AvailBytes), float64(fs.TotalBytes))
		x.DaysUntilInodesFull = project(fits[h.ID+"\x00inodes:"+fs.Mount], float64(fs.InodesUsed), float64(fs.InodesTotal))
		if soon(x.DaysUntilFull, c.DiskFullWarnDays) || soon(x.DaysUntilInodesFull, c.DiskFullWarnDays) {
			x.State = worse(x.State, Warning)
		}
		st.State = worse(st.State, x.State)
		st.Filesystems = append(st.Filesystems, x)
	}
	return st
}

func project(f FitSum, current, total float64) *float64 {
	slope, _, ok := f.Line()
	if !ok {
		return nil
	}
	return DaysUntilFull(slope, current, total)
}

func soon(days *float64, within int) bool { return days != nil && *days < float64(within) }

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// clockOK: synchronised and within configuration.clock_max_offset_ms.
func (s *Service) clockOK(c *Clock) bool {
	return c != nil && c.Source != "none" && c.Synchronised && c.Error == "" &&
		time.Duration(c.ErrorMS*float64(time.Millisecond)) <= s.opts.ClockMaxOffset
}

// ClockProblem says why a host's clock fails CF-3 ("" when it holds).
func (s *Service) ClockProblem(c *Clock) string {
	switch {
	case c == nil || c.Source == "none":
		msg := "no clock measurement"
		if c != nil && c.Error != "" {
			msg += " (" + c.Error + ")"
		}
		return msg
	case c.Error != "" || !c.Synchronised:
		return "not synchronised: " + strings.TrimSpace(c.Error)
	case !s.clockOK(c):
		return fmt.Sprintf("error bound %.1f ms beyond %d ms", c.ErrorMS, s.opts.ClockMaxOffset.Milliseconds())
	}
	return ""
}
