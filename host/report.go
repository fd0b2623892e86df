package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/host/baseline"
)

// Report is one collection of a host's facts, as the agent posts it to
// /api/v1/host/facts and prints it with agent --once -o json.
type Report struct {
	Version     int          `json:"version"`
	HostID      string       `json:"host_id"`
	Hostname    string       `json:"hostname"`
	Environment string       `json:"environment,omitempty"`
	Groups      []string     `json:"groups,omitempty"`
	CollectedAt time.Time    `json:"collected_at"`
	Agent       string       `json:"agent,omitempty"`
	CPU         CPU          `json:"cpu"`
	Memory      Memory       `json:"memory"`
	Load        Load         `json:"load"`
	Filesystems []Filesystem `json:"filesystems"`
	Clock       *Clock       `json:"clock,omitempty"`
	// Metrics are named values beyond the built-in ones (a Prometheus
	// query's, by its name in the config).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Errors are the collectors that failed, each with why.
	Errors []string `json:"errors,omitempty"`
	// Baseline is the evaluation of the host's baseline (CF-1).
	Baseline *Evaluation `json:"baseline,omitempty"`
	// Packages are the installed packages (CF-4); nil when the agent
	// could not list them.
	Packages []baseline.Package `json:"packages,omitempty"`
}

// Evaluation is the agent's evaluation of a baseline: the group@version
// it evaluated ("default" for the one shipped) and each check's result.
type Evaluation struct {
	Baseline string            `json:"baseline"`
	Results  []baseline.Result `json:"results"`
}

// CPU is the busy share of every core since the last collection.
type CPU struct {
	Percent float64 `json:"percent"`
	Cores   int     `json:"cores"`
}

// Memory is the host's RAM; used is total less available.
type Memory struct {
	TotalBytes     uint64 `json:"total_bytes"`
	UsedBytes      uint64 `json:"used_bytes"`
	AvailableBytes uint64 `json:"available_bytes"`
}

// Percent is the used share of memory.
func (m Memory) Percent() float64 { return percent(m.UsedBytes, m.TotalBytes) }

// Load is the run queue averaged over 1, 5 and 15 minutes.
type Load struct {
	Load1  float64 `json:"load1"`
	Load5  float64 `json:"load5"`
	Load15 float64 `json:"load15"`
}

// Filesystem is one mounted real filesystem. Used counts what df counts
// as used (total less free, the root reserve included).
type Filesystem struct {
	Mount       string `json:"mount"`
	Device      string `json:"device"`
	Type        string `json:"type"`
	TotalBytes  uint64 `json:"total_bytes"`
	UsedBytes   uint64 `json:"used_bytes"`
	AvailBytes  uint64 `json:"avail_bytes"`
	InodesTotal uint64 `json:"inodes_total"`
	InodesUsed  uint64 `json:"inodes_used"`
}

// Percent is df's Use%: used over used plus available to users.
func (f Filesystem) Percent() float64 { return percent(f.UsedBytes, f.UsedBytes+f.AvailBytes) }

// InodePercent is the used share of inodes (0 for a filesystem without).
func (f Filesystem) InodePercent() float64 { return percent(f.InodesUsed, f.InodesTotal) }

// Clock is how far the host's clock is from true time, as chrony or an
// NTP query measured it.
type Clock struct {
	Source string `json:"source"` // chrony | ntp | none
	// OffsetMS is the local clock's offset (positive: ahead).
	OffsetMS float64 `json:"offset_ms"`
	// ErrorMS bounds the true error: |offset| + root dispersion + root delay / 2.
	ErrorMS      float64 `json:"error_ms"`
	Synchronised bool    `json:"synchronised"`
	Server       string  `json:"server,omitempty"`
	Stratum      int     `json:"stratum,omitempty"`
	Error        string  `json:"error,omitempty"`
}

func percent(used, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(used) / float64(total)
}

// Bounds of a report.
const (
	// MaxReportBytes leaves room for a few thousand packages.
	MaxReportBytes = 2 << 20
	MaxFilesystems = 256
	// MaxFuture and MaxAge bound collected_at against the server's clock:
	// the agent keeps at most a week of reports while the server is down.
	MaxFuture = 5 * time.Minute
	MaxAge    = 7 * 24 * time.Hour
)

var (
	hostIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// NamePattern is a host name or an environment or group name.
	NamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
)

// ParseReport decodes and checks a report received at now. Every error
// names the field (a JSON path) and why.
func ParseReport(data []byte, now time.Time) (Report, error) {
	var r Report
	if len(data) > MaxReportBytes {
		return r, invalid("", "report: larger than %d bytes", MaxReportBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, invalid("", "report: %v", jsonError(err))
	}
	if dec.More() {
		return r, invalid("", "report: trailing data after the JSON object")
	}
	return r, r.Check(now)
}

func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	if e, ok := err.(*json.UnmarshalTypeError); ok {
		te = e
		return fmt.Sprintf("field %s: want %s, got %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

// Check checks every field of a report received at now.
func (r *Report) Check(now time.Time) error {
	switch {
	case r.Version != 1:
		return invalid("version", "version %d: this server reads version 1", r.Version)
	case !hostIDPattern.MatchString(r.HostID):
		return invalid("host_id", "host_id %q: 1 to 64 letters, digits, '.', '_' or '-'", r.HostID)
	case !NamePattern.MatchString(r.Hostname):
		return invalid("hostname", "hostname %q: 1 to 100 letters, digits, '.', '_' or '-'", r.Hostname)
	case r.Environment != "" && !NamePattern.MatchString(r.Environment):
		return invalid("environment", "environment %q: 1 to 100 letters, digits, '.', '_' or '-'", r.Environment)
	case r.CollectedAt.IsZero():
		return invalid("collected_at", "collected_at: missing (RFC 3339 time)")
	case r.CollectedAt.After(now.Add(MaxFuture)):
		return invalid("collected_at", "collected_at %s: more than %s ahead of the server's clock (%s)", r.CollectedAt.Format(time.RFC3339), MaxFuture, now.UTC().Format(time.RFC3339))
	case r.CollectedAt.Before(now.Add(-MaxAge)):
		return invalid("collected_at", "collected_at %s: older than %s", r.CollectedAt.Format(time.RFC3339), MaxAge)
	case len(r.Agent) > 100 || len(r.Errors) > 32:
		return invalid("agent", "agent: at most 100 bytes; errors: at most 32")
	case !finite(r.CPU.Percent) || r.CPU.Percent < 0 || r.CPU.Percent > 100:
		return invalid("cpu.percent", "cpu.percent %g: 0 to 100", r.CPU.Percent)
	case r.CPU.Cores < 0 || r.CPU.Cores > 1<<16:
		return invalid("cpu.cores", "cpu.cores %d: 0 to 65536", r.CPU.Cores)
	case r.Memory.UsedBytes > r.Memory.TotalBytes:
		return invalid("memory.used_bytes", "memory.used_bytes %d: more than total_bytes %d", r.Memory.UsedBytes, r.Memory.TotalBytes)
	case !finite(r.Load.Load1) || !finite(r.Load.Load5) || !finite(r.Load.Load15) || r.Load.Load1 < 0 || r.Load.Load5 < 0 || r.Load.Load15 < 0:
		return invalid("load", "load: non-negative numbers")
	case len(r.Filesystems) > MaxFilesystems:
		return invalid("filesystems", "filesystems: at most %d", MaxFilesystems)
	}
	if len(r.Groups) > 16 {
		return invalid("groups", "groups: at most 16")
	}
	for i, g := range r.Groups {
		if !NamePattern.MatchString(g) {
			return invalid(fmt.Sprintf("groups[%d]", i), "groups[%d] %q: 1 to 100 letters, digits, '.', '_' or '-'", i, g)
		}
	}
	if len(r.Metrics) > 64 {
		return invalid("metrics", "metrics: at most 64")
	}
	for k, v := range r.Metrics {
		if !NamePattern.MatchString(k) || !finite(v) {
			return invalid("metrics."+k, "metrics.%s: a name of letters, digits, '.', '_' or '-' and a finite number", k)
		}
	}
	for i, e := range r.Errors {
		if len(e) > 1000 {
			return invalid(fmt.Sprintf("errors[%d]", i), "errors[%d]: at most 1000 bytes", i)
		}
	}
	seen := map[string]bool{}
	for i, f := range r.Filesystems {
		if err := f.check(fmt.Sprintf("filesystems[%d]", i)); err != nil {
			return err
		}
		if seen[f.Mount] {
			return invalid(fmt.Sprintf("filesystems[%d].mount", i), "filesystems[%d].mount %q: listed twice", i, f.Mount)
		}
		seen[f.Mount] = true
	}
	if r.Clock != nil {
		if err := r.Clock.check(); err != nil {
			return err
		}
	}
	return r.checkConfig()
}

// checkConfig checks the baseline results and the packages.
func (r *Report) checkConfig() error {
	if len(r.Packages) > baseline.MaxPackages {
		return invalid("packages", "packages: at most %d", baseline.MaxPackages)
	}
	names := make(map[string]bool, len(r.Packages))
	for i, p := range r.Packages {
		at := fmt.Sprintf("packages[%d]", i)
		if p.Name == "" || len(p.Name) > 200 || len(p.Version) > 200 || !printable(p.Name) || !printable(p.Version) {
			return invalid(at, "%s: a name and a version of at most 200 printable bytes", at)
		}
		if names[p.Name] {
			return invalid(at+".name", "%s.name %q: listed twice", at, p.Name)
		}
		names[p.Name] = true
	}
	if r.Baseline == nil {
		return nil
	}
	e := r.Baseline
	if e.Baseline != "default" && !baselineIDPattern.MatchString(e.Baseline) {
		return invalid("baseline.baseline", "baseline.baseline %q: group@version or default", e.Baseline)
	}
	if len(e.Results) > baseline.MaxChecks {
		return invalid("baseline.results", "baseline.results: at most %d", baseline.MaxChecks)
	}
	seen := map[string]bool{}
	for i, x := range e.Results {
		at := fmt.Sprintf("baseline.results[%d]", i)
		if !NamePattern.MatchString(x.Check) || seen[x.Check] {
			return invalid(at+".check", "%s.check %q: a check ID, once", at, x.Check)
		}
		seen[x.Check] = true
		if _, ok := baseline.Kinds[x.Kind]; !ok {
			return invalid(at+".kind", "%s.kind %q: not a check kind", at, x.Kind)
		}
		if len(x.Detail) > 1000 || len(x.Observed) > 16 {
			return invalid(at, "%s: detail at most 1000 bytes, observed at most 16 values", at)
		}
		for k, v := range x.Observed {
			if len(k) > 50 || len(v) > 500 || !printable(v) {
				return invalid(at+".observed."+k, "%s.observed.%s: at most 500 printable bytes", at, k)
			}
		}
	}
	return nil
}

var baselineIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}@[0-9]{1,9}$`)

func (f Filesystem) check(at string) error {
	switch {
	case f.Mount == "" || f.Mount[0] != '/' || len(f.Mount) > 1000 || !printable(f.Mount):
		return invalid(at+".mount", "%s.mount %q: an absolute path of at most 1000 printable bytes", at, f.Mount)
	case len(f.Device) > 1000 || len(f.Type) > 100 || !printable(f.Device) || !printable(f.Type):
		return invalid(at+".device", "%s.device and .type: printable, at most 1000 and 100 bytes", at)
	case f.TotalBytes == 0:
		return invalid(at+".total_bytes", "%s.total_bytes: zero (%s is not a real filesystem)", at, f.Mount)
	case f.UsedBytes > f.TotalBytes || f.AvailBytes > f.TotalBytes:
		return invalid(at+".used_bytes", "%s.used_bytes %d and avail_bytes %d: each at most total_bytes %d", at, f.UsedBytes, f.AvailBytes, f.TotalBytes)
	case f.InodesUsed > f.InodesTotal:
		return invalid(at+".inodes_used", "%s.inodes_used %d: more than inodes_total %d", at, f.InodesUsed, f.InodesTotal)
	}
	return nil
}

func (c *Clock) check() error {
	switch {
	case c.Source != "chrony" && c.Source != "ntp" && c.Source != "none":
		return invalid("clock.source", "clock.source %q: chrony, ntp or none", c.Source)
	case !finite(c.OffsetMS) || math.Abs(c.OffsetMS) > 1e12 || !finite(c.ErrorMS) || c.ErrorMS < 0 || c.ErrorMS > 1e12:
		return invalid("clock.offset_ms", "clock.offset_ms and clock.error_ms: finite numbers of milliseconds, error_ms not negative")
	case len(c.Server) > 255 || len(c.Error) > 1000 || c.Stratum < 0 || c.Stratum > 16:
		return invalid("clock.server", "clock.server at most 255 bytes, clock.error at most 1000, clock.stratum 0 to 16")
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func invalid(field, format string, args ...any) error {
	e := &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf(format, args...)}
	if field != "" {
		e.Details = map[string]any{"field": field}
	}
	return e
}
