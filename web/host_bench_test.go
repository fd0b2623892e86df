package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/host"
)

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkIngestHTTP posts one report from each of OPSGUARD_BENCH_HOSTS
// simulated hosts (default 1000) through the real handler over loopback
// (an httptest server, the agent role's token), spread evenly over
// OPSGUARD_BENCH_WINDOW seconds (default 60: the rate of every
// host each minute; a smaller window is a faster rate). It reports the
// process's CPU time over the wall time of the run (client included: the
// bodies are marshalled beforehand) and the p99 of a request. Target:
// ≤ 10 % of one core at 1,000 hosts a minute.
func BenchmarkIngestHTTP(b *testing.B) {
	n, window := benchEnvInt("OPSGUARD_BENCH_HOSTS", 1000), time.Duration(benchEnvInt("OPSGUARD_BENCH_WINDOW", 60))*time.Second
	e := newEnvB(b)
	tok := e.tokens[auth.Agent]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	var lat []time.Duration
	var cpu, wall time.Duration
	round := 0
	for b.Loop() {
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i], _ = json.Marshal(simulatedReport(i, base.Add(time.Duration(round)*time.Minute)))
		}
		round++
		var mu sync.Mutex
		var wg sync.WaitGroup
		tick := time.NewTicker(window / time.Duration(n))
		start, c0 := time.Now(), processCPU()
		for i := range n {
			<-tick.C
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/host/facts", bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				d := time.Since(t0)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("host %d: %s", i, resp.Status)
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}()
		}
		wg.Wait()
		tick.Stop()
		cpu, wall = cpu+processCPU()-c0, wall+time.Since(start)
	}
	if len(lat) == 0 {
		b.Fatal("no request answered")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu%")
	b.ReportMetric(float64(n), "hosts")
	b.ReportMetric(window.Seconds(), "window-s")
}

// simulatedReport is host i's report at a time: two filesystems, a clock.
func simulatedReport(i int, at time.Time) host.Report {
	used := uint64(300+i%500) << 30
	return host.Report{Version: 1, HostID: fmt.Sprintf("m-%05d", i), Hostname: fmt.Sprintf("host-%05d", i), Environment: "production", CollectedAt: at,
		CPU: host.CPU{Percent: float64(i % 90), Cores: 4}, Memory: host.Memory{TotalBytes: 16 << 30, UsedBytes: 9 << 30, AvailableBytes: 7 << 30},
		Load: host.Load{Load1: 0.7, Load5: 0.6, Load15: 0.5}, Clock: &host.Clock{Source: "chrony", Synchronised: true, OffsetMS: 0.4, ErrorMS: 1.2},
		Filesystems: []host.Filesystem{
			{Mount: "/", Device: "/dev/vda1", Type: "ext4", TotalBytes: 40 << 30, UsedBytes: 12 << 30, AvailBytes: 28 << 30, InodesTotal: 2 << 20, InodesUsed: 200000},
			{Mount: "/var", Device: "/dev/vdb", Type: "xfs", TotalBytes: 1 << 40, UsedBytes: used, AvailBytes: 1<<40 - used, InodesTotal: 1 << 24, InodesUsed: 40000}}}
}
