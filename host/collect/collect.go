// Package collect holds the agent's collectors, one file each: CPU,
// memory, load, filesystems, the host's stable ID and its clock (chrony,
// else NTP). Collector.Collect runs them all into one host.Report; a
// collector that fails is named in the report's errors, the others still
// report.
package collect

import (
	"context"
	"os"
	"time"

	"github.com/opsguard/opsguard/host"
)

// Options configure a Collector.
type Options struct {
	// StateDir keeps the generated host ID where /etc/machine-id is missing.
	StateDir    string
	Environment string
	// NTPServers are queried for the clock's offset where chrony is not
	// running (host:port, port 123 by default).
	NTPServers []string
	// Chronyc is the chronyc program ("chronyc" by default; "-" for none).
	Chronyc string
	// ChronySocket is chronyd's command socket ("" for chronyc's default).
	ChronySocket string
	// MachineIDFile is /etc/machine-id by default.
	MachineIDFile string
	Agent         string
	Now           func() time.Time
}

// Collector collects a host's facts; it keeps the CPU counters of the
// last collection, so that each reports the busy share since the last.
type Collector struct {
	// Groups are reported as the host's groups.
	Groups []string
	opts   Options
	hostID string
	cpu    cpuSampler
}

// New returns a collector and the host's ID.
func New(opts Options) (*Collector, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MachineIDFile == "" {
		opts.MachineIDFile = "/etc/machine-id"
	}
	if opts.Chronyc == "" {
		opts.Chronyc = "chronyc"
	}
	id, err := HostID(opts.MachineIDFile, opts.StateDir)
	if err != nil {
		return nil, err
	}
	return &Collector{opts: opts, hostID: id}, nil
}

// HostID is the ID the collector reports.
func (c *Collector) HostID() string { return c.hostID }

// Collect runs every collector once.
func (c *Collector) Collect(ctx context.Context) host.Report {
	name, _ := os.Hostname()
	r := host.Report{Version: 1, HostID: c.hostID, Hostname: name, Environment: c.opts.Environment,
		CollectedAt: c.opts.Now().UTC().Truncate(time.Second), Agent: c.opts.Agent, Groups: c.Groups}
	var errs []string
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, what+": "+err.Error())
		}
	}
	var err error
	r.CPU, err = c.cpu.sample(ctx)
	note("cpu", err)
	r.Memory, err = Memory(ctx)
	note("memory", err)
	r.Load, err = LoadAvg(ctx)
	note("load", err)
	r.Filesystems, err = Filesystems(ctx)
	note("filesystems", err)
	r.Clock = c.clock(ctx)
	if r.Filesystems == nil {
		r.Filesystems = []host.Filesystem{}
	}
	r.Errors = errs
	return r
}

// clock reads chrony where it answers, else queries the NTP servers.
func (c *Collector) clock(ctx context.Context) *host.Clock {
	var chronyErr error
	if c.opts.Chronyc != "-" {
		cl, err := Chrony(ctx, c.opts.Chronyc, c.opts.ChronySocket)
		if err == nil {
			return &cl
		}
		chronyErr = err
	}
	if len(c.opts.NTPServers) > 0 {
		cl := NTP(c.opts.NTPServers, 2*time.Second)
		return &cl
	}
	msg := "no NTP server configured (--ntp-server)"
	if chronyErr != nil {
		msg = "chrony: " + chronyErr.Error() + "; " + msg
	}
	return &host.Clock{Source: "none", Error: cut(msg, 1000)}
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
