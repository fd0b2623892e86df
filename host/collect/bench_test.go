package collect_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/opsguard/opsguard/host/collect"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCollect is one agent collection (CPU, memory, load,
// filesystems, host ID; chrony off) and its CPU time. Target: ≤ 50 ms.
func BenchmarkCollect(b *testing.B) {
	c, err := collect.New(collect.Options{StateDir: b.TempDir(), Chronyc: "-"})
	if err != nil {
		b.Fatal(err)
	}
	c.Collect(context.Background()) // the first waits for a second CPU reading
	start := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		c.Collect(context.Background())
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
