package baseline_test

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/opsguard/opsguard/host/baseline"
)

func cpuTime() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(children.Utime) + tv(children.Stime)
}

// BenchmarkEvaluateDefault is the agent's evaluation of the default
// baseline on this machine, the programs it runs (dpkg-query, nft)
// included: cpu-ms/op counts this process's CPU and its children's
// (budget: 100 ms).
func BenchmarkEvaluateDefault(b *testing.B) {
	d := baseline.Default()
	sys := baseline.Root{Dir: "/", Run: func(name string, args ...string) ([]byte, error) {
		return exec.Command(name, args...).Output()
	}}
	start := cpuTime()
	for b.Loop() {
		if len(baseline.Evaluate(d, sys, baseline.EvalOptions{RetentionDays: 365})) != len(d.Checks) {
			b.Fatal("results missing")
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
