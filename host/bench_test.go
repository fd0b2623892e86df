package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

func benchHosts() int {
	if v, err := strconv.Atoi(os.Getenv("OPSGUARD_BENCH_HOSTS")); err == nil && v > 0 {
		return v
	}
	return 1000
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchService(b *testing.B, now func() time.Time) (*store.DB, *ledger.Log, *host.Service) {
	dir := b.TempDir()
	db := storetest.Open(b, filepath.Join(dir, "bench.db"))
	key, err := ledger.CreateKey(filepath.Join(dir, "k.key"))
	if err != nil {
		b.Fatal(err)
	}
	log := ledger.New(key, ledger.Options{Now: now})
	return db, log, host.NewService(store.Bind[host.Tx](db), log, host.Options{Now: now})
}

func benchReport(i int, at time.Time) host.Report {
	r := report(at, uint64(300+i%500))
	r.HostID, r.Hostname = fmt.Sprintf("m-%05d", i), fmt.Sprintf("host-%05d", i)
	r.Filesystems = append(r.Filesystems, host.Filesystem{Mount: "/var", TotalBytes: 1 << 40, UsedBytes: 1 << 39, AvailBytes: 1 << 39, InodesTotal: 1 << 20, InodesUsed: 1 << 10})
	return r
}

// BenchmarkIngest is one minute of reports from OPSGUARD_BENCH_HOSTS
// hosts (default 1000), all at once on SQLite: the CPU share of a minute
// they take and the p99 of one ingest. Targets: ≤ 10 % of a core.
func BenchmarkIngest(b *testing.B) {
	n := benchHosts()
	_, _, s := benchService(b, time.Now)
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	var lat []time.Duration
	var cpu time.Duration
	round := 0
	for b.Loop() {
		at := base.Add(time.Duration(round) * time.Second)
		round++
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := cpuTime()
		sem := make(chan struct{}, 64) // as many requests at once as a server serves
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				t0 := time.Now()
				if _, err := s.Ingest(context.Background(), host.Sender{Actor: "agent"}, benchReport(i, at)); err != nil {
					b.Error(err)
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}()
		}
		wg.Wait()
		cpu += cpuTime() - start
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(100*(cpu/time.Duration(b.N)).Seconds()/60, "cpu%-of-minute")
	b.ReportMetric(float64(n), "hosts")
}

// BenchmarkCapacityStatus is capacity status over OPSGUARD_BENCH_HOSTS
// hosts (default 1000) with 30 days of facts (two filesystems), seeded
// through the store in sealed, ledgered batches, a report every
// OPSGUARD_BENCH_STEP_HOURS (default 1). Status reads the hosts and the
// fit's sums per series and day (30 a series whatever the step), not the
// hourly rows, so a larger step seeds faster and measures the same read.
// Target: ≤ 1 s.
func BenchmarkCapacityStatus(b *testing.B) {
	// Seeding 30 days of 1,000 hosts takes an hour and more: CI's smoke
	// run seeds 20 unless OPSGUARD_BENCH_HOSTS asks for the figure.
	n := 20
	if os.Getenv("OPSGUARD_BENCH_HOSTS") != "" {
		n = benchHosts()
	}
	step := 1
	if v, err := strconv.Atoi(os.Getenv("OPSGUARD_BENCH_STEP_HOURS")); err == nil && v > 0 && v <= 24 {
		step = v
	}
	now := time.Now().UTC().Truncate(time.Hour)
	db, log, s := benchService(b, func() time.Time { return now })
	const batch = 25
	for i := 0; i < n; i += batch {
		err := db.Update(b.Context(), func(tx *store.Tx) error {
			for j := i; j < min(i+batch, n); j++ {
				r := benchReport(j, now)
				if err := tx.PutHost(b.Context(), host.Host{ID: r.HostID, Name: r.Hostname, Environment: "production", EnvSetBy: "agent",
					FirstSeen: now, LastSeen: now, ReceivedAt: now, Facts: r}); err != nil {
					return err
				}
				for h := 30 * 24; h > 0; h -= step {
					r := benchReport(j, now.Add(-time.Duration(h)*time.Hour))
					r.Filesystems[1].AvailBytes -= uint64(720-h) << 20
					if err := tx.AddHourly(b.Context(), r.HostID, r.CollectedAt, r.Points()); err != nil {
						return err
					}
				}
			}
			_, err := log.Append(b.Context(), tx, ledger.Event{Actor: "bench", Kind: "bench.seeded", Subject: "bench/" + strconv.Itoa(i)})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	var slowest time.Duration
	for b.Loop() {
		t0 := time.Now()
		sts, err := s.Status(b.Context())
		slowest = max(slowest, time.Since(t0))
		if err != nil || len(sts) != n || sts[0].Filesystems[1].DaysUntilFull == nil {
			b.Fatalf("%d statuses, %v", len(sts), err)
		}
	}
	b.ReportMetric(float64(slowest.Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(n), "hosts")
}
