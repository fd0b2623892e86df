package host

import (
	"time"
)

// Host is a machine that reported facts (registered by its first report).
type Host struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Environment is production, staging, development, …: the agent's
	// --env, unless an admin set it (EnvSetBy names who).
	Environment string `json:"environment"`
	EnvSetBy    string `json:"env_set_by"`
	// Groups pick a host's thresholds: the agent's --group, unless an
	// admin set them (GroupsSetBy names who; empty: the agent).
	Groups      []string `json:"groups"`
	GroupsSetBy string   `json:"groups_set_by,omitempty"`
	// Address and TokenID are what the newest report came from and with.
	Address    string    `json:"address"`
	TokenID    string    `json:"token_id"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"` // collected_at of the newest report
	ReceivedAt time.Time `json:"received_at"`
	// Facts is the newest report.
	Facts Report `json:"facts"`
	// Environments are every environment the host reported into.
	Environments []string `json:"environments"`
	// Flags say why the host breaks the separation of environments (CF-5).
	Flags []string `json:"flags,omitempty"`
}

// Production is the environment CP-1, CF-3 and CF-5 hold hosts to.
const Production = "production"

// Sender is who posted a report: the principal, its token and address.
type Sender struct {
	Actor   string
	TokenID string
	Address string
}

// Receipt is the answer to a report.
type Receipt struct {
	HostID      string    `json:"host_id"`
	CollectedAt time.Time `json:"collected_at"`
	// Duplicate is set when the report was had before (the agent sent it
	// again, not knowing it had been accepted); nothing changed.
	Duplicate bool `json:"duplicate"`
	// Baseline is what the agent should evaluate from now on, when it
	// differs from what the report evaluated.
	Baseline *Order `json:"baseline,omitempty"`
}

// Sample is one report's metrics, kept at full resolution for
// capacity.raw_window.
type Sample struct {
	HostID string    `json:"host_id"`
	At     time.Time `json:"at"`
	Points []Point   `json:"points"`
}

// Point is one value of one series of a host.
type Point struct {
	Series string  `json:"series"` // cpu, memory, load1, disk:MOUNT, inodes:MOUNT
	Value  float64 `json:"value"`  // percent; load; used bytes or inodes
	Total  float64 `json:"total,omitempty"`
}

// Hour is an hourly aggregate of a series.
type Hour struct {
	Series string    `json:"series"`
	Hour   time.Time `json:"hour"`
	N      int       `json:"n"`
	Avg    float64   `json:"avg"`
	Max    float64   `json:"max"`
	Total  float64   `json:"total,omitempty"`
}

// Points are the series values of a report.
func (r Report) Points() []Point {
	ps := []Point{
		{Series: "cpu", Value: r.CPU.Percent},
		{Series: "memory", Value: r.Memory.Percent(), Total: float64(r.Memory.TotalBytes)},
		{Series: "load1", Value: r.Load.Load1},
	}
	for k, v := range r.Metrics {
		ps = append(ps, Point{Series: "metric:" + k, Value: v})
	}
	for _, f := range r.Filesystems {
		ps = append(ps, Point{Series: "disk:" + f.Mount, Value: float64(f.TotalBytes - f.AvailBytes), Total: float64(f.TotalBytes)})
		if f.InodesTotal > 0 {
			ps = append(ps, Point{Series: "inodes:" + f.Mount, Value: float64(f.InodesUsed), Total: float64(f.InodesTotal)})
		}
	}
	return ps
}

// Metric is a named value of a host from another source (Prometheus).
type Metric struct {
	Host  string
	Name  string
	Value float64
}
