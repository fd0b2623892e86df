package collect

import (
	"context"
	"fmt"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"

	"github.com/opsguard/opsguard/host"
)

// cpuSampler reports the busy share of all cores between two readings of
// /proc/stat; the first reading waits a quarter second for a second.
type cpuSampler struct {
	last  *cpu.TimesStat
	cores int
}

func (s *cpuSampler) sample(ctx context.Context) (host.CPU, error) {
	if s.cores == 0 {
		n, err := cpu.CountsWithContext(ctx, true)
		if err != nil {
			return host.CPU{}, err
		}
		s.cores = n
	}
	now, err := totalTimes(ctx)
	if err != nil {
		return host.CPU{Cores: s.cores}, err
	}
	if s.last == nil {
		first := now
		s.last = &first
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return host.CPU{Cores: s.cores}, ctx.Err()
		}
		if now, err = totalTimes(ctx); err != nil {
			return host.CPU{Cores: s.cores}, err
		}
	}
	p := busyPercent(*s.last, now)
	s.last = &now
	return host.CPU{Percent: p, Cores: s.cores}, nil
}

func totalTimes(ctx context.Context) (cpu.TimesStat, error) {
	ts, err := cpu.TimesWithContext(ctx, false)
	if err != nil {
		return cpu.TimesStat{}, err
	}
	if len(ts) != 1 {
		return cpu.TimesStat{}, fmt.Errorf("cpu times: %d totals", len(ts))
	}
	return ts[0], nil
}

// busyPercent is the share of time not idle (nor waiting on I/O) between
// two readings, as top counts it.
func busyPercent(a, b cpu.TimesStat) float64 {
	idle := func(t cpu.TimesStat) float64 { return t.Idle + t.Iowait }
	total := func(t cpu.TimesStat) float64 {
		return t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	}
	dt := total(b) - total(a)
	if dt <= 0 {
		return 0
	}
	p := 100 * (dt - (idle(b) - idle(a))) / dt
	return min(max(p, 0), 100)
}
