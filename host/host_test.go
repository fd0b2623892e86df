package host_test

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

func TestFitKnownAnswer(t *testing.T) {
	cases := []struct {
		name             string
		xs, ys           []float64
		slope, intercept float64
	}{
		{"exact line", []float64{0, 1, 2, 3, 4}, []float64{3, 5, 7, 9, 11}, 2, 3},
		{"symmetric noise", []float64{0, 1, 2, 3}, []float64{1, 2, 2, 3}, 0.6, 1.1},
		{"flat", []float64{0, 5, 10}, []float64{7, 7, 7}, 0, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, i, ok := host.Fit(tc.xs, tc.ys).Line()
			if !ok || math.Abs(s-tc.slope) > 1e-9 || math.Abs(i-tc.intercept) > 1e-9 {
				t.Fatalf("fit = %g·x + %g (%v), want %g·x + %g", s, i, ok, tc.slope, tc.intercept)
			}
		})
	}
	if _, _, ok := host.Fit([]float64{1}, []float64{1}).Line(); ok {
		t.Fatal("a single point fitted a line")
	}
	if d := host.DaysUntilFull(10, 760, 1000); d == nil || *d != 1 {
		t.Fatalf("240 left at 10 an hour: %v days, want 1", d)
	}
	if d := host.DaysUntilFull(-1, 760, 1000); d != nil {
		t.Fatalf("shrinking: %v days, want none", *d)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time               { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)              { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration)          { c.Set(c.Now().Add(d)) }
func (c *clock) At(d time.Duration) time.Time { return c.Now().Add(d) }

type notes struct {
	mu    sync.Mutex
	kinds []string
}

func (n *notes) Notify(_ context.Context, _ host.Tx, kind, _, _ string, _ map[string]any) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.kinds = append(n.kinds, kind)
	return nil
}

func (n *notes) count(kind string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, k := range n.kinds {
		if k == kind {
			c++
		}
	}
	return c
}

func newService(t *testing.T, db *store.DB, c *clock, n host.Notifier) *host.Service {
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	log := ledger.New(key, ledger.Options{Now: c.Now})
	return host.NewService(store.Bind[host.Tx](db), log, host.Options{Now: c.Now, Notifier: n, BatchWait: time.Millisecond,
		ClockMaxOffset: 100 * time.Millisecond,
		Capacity: host.Capacity{AlertAfter: 5 * time.Minute, Hysteresis: 5, DiskFullWarnDays: 14,
			Default: host.Thresholds{CPU: host.Level{80, 90}, Memory: host.Level{80, 90}, Disk: host.Level{75, 85}, Inodes: host.Level{75, 85}}}})
}

// report is a host's report at now with the disk used at pct of 1000.
func report(at time.Time, usedBytes uint64) host.Report {
	return host.Report{Version: 1, HostID: "m-1", Hostname: "db-1", Environment: "production", CollectedAt: at,
		Memory: host.Memory{TotalBytes: 100, UsedBytes: 10}, Clock: &host.Clock{Source: "chrony", Synchronised: true, ErrorMS: 3},
		Filesystems: []host.Filesystem{{Mount: "/", TotalBytes: 1000, UsedBytes: usedBytes, AvailBytes: 1000 - usedBytes, InodesTotal: 10, InodesUsed: 1}}}
}

// Alerts fire once after alert_after and resolve once after staying below
// the threshold less the hysteresis for alert_after: no flapping.
func TestCapacityHysteresis(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
		n := &notes{}
		s := newService(t, db, c, n)
		steps := []struct {
			after  time.Duration
			pct    uint64
			alerts int
			solved int
		}{
			{0, 80, 0, 0},                // crossed the warning (75): pending
			{2 * time.Minute, 80, 0, 0},  // not yet alert_after
			{30 * time.Second, 73, 0, 0}, // back under: the crossing ends unalerted
			{30 * time.Second, 80, 0, 0}, // crossed again: pending anew
			{4 * time.Minute, 80, 0, 0},  // 4 minutes: not yet
			{time.Minute, 80, 1, 0},      // 5 minutes: alerted once
			{time.Minute, 81, 1, 0},      // still above: no second alert
			{time.Minute, 72, 1, 0},      // under 75 but above 70: still firing
			{6 * time.Minute, 72, 1, 0},  // … however long it stays there
			{time.Minute, 69, 1, 0},      // under 70: clearing
			{2 * time.Minute, 76, 1, 0},  // above again: firing, no new alert
			{time.Minute, 69, 1, 0},      // clearing again
			{4 * time.Minute, 68, 1, 0},  // 4 minutes: not yet resolved
			{time.Minute, 68, 1, 1},      // 5 minutes: resolved once
			{time.Minute, 60, 1, 1},
		}
		for i, st := range steps {
			c.Add(st.after)
			if _, err := s.Ingest(t.Context(), host.Sender{Actor: "agent"}, report(c.Now(), st.pct*10)); err != nil {
				t.Fatal(err)
			}
			if err := s.Check(t.Context()); err != nil {
				t.Fatal(err)
			}
			if a, r := n.count("capacity.alert"), n.count("capacity.resolved"); a != st.alerts || r != st.solved {
				t.Fatalf("step %d (%d%% at +%s): %d alerts, %d resolved; want %d, %d", i, st.pct, st.after, a, r, st.alerts, st.solved)
			}
		}
	})
}

// Days until full: a disk filling 10 bytes an hour with 240 left is full
// in a day, whatever the noise of the hours before.
func TestDaysUntilFullFromReports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
		s := newService(t, db, c, nil)
		for h := range 48 {
			c.Set(time.Date(2026, 3, 2, 0, 30, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour))
			if _, err := s.Ingest(t.Context(), host.Sender{Actor: "agent"}, report(c.Now(), uint64(290+10*h))); err != nil {
				t.Fatal(err)
			}
		}
		sts, err := s.Status(t.Context())
		if err != nil || len(sts) != 1 || len(sts[0].Filesystems) != 1 {
			t.Fatalf("status = %+v, %v", sts, err)
		}
		f := sts[0].Filesystems[0]
		// used 760 now (290 + 470), 240 left at 10 an hour.
		if f.DaysUntilFull == nil || *f.DaysUntilFull != 1 {
			b, _ := json.Marshal(f)
			t.Fatalf("filesystem %s: want days_until_full 1", b)
		}
		if f.State != host.Warning {
			t.Fatalf("state %s: a disk full within 14 days is a warning", f.State)
		}
	})
}

func FuzzParseReport(f *testing.F) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	good, _ := json.Marshal(report(now, 500))
	f.Add(good)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"host_id":"x","hostname":"y","collected_at":"2026-03-02T10:00:00Z","filesystems":[{"mount":"/","total_bytes":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := host.ParseReport(data, now)
		if err != nil {
			return
		}
		// A report taken is one whose every field is within bounds.
		if err := r.Check(now); err != nil {
			t.Fatalf("accepted a report that fails its check: %v", err)
		}
		for _, fs := range r.Filesystems {
			if fs.TotalBytes == 0 || fs.UsedBytes > fs.TotalBytes || fs.Percent() > 100 || math.IsNaN(fs.Percent()) {
				t.Fatalf("accepted filesystem %+v", fs)
			}
		}
	})
}
