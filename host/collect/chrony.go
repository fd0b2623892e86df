package collect

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/opsguard/opsguard/host"
)

// Chrony reads the clock's state from the running chronyd with
// `chronyc -c tracking`.
// socket names chronyd's command socket when not the default.
func Chrony(ctx context.Context, chronyc, socket string) (host.Clock, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	args := []string{"-c", "-n", "tracking"}
	if socket != "" {
		args = append([]string{"-h", socket}, args...)
	}
	out, err := exec.CommandContext(ctx, chronyc, args...).CombinedOutput()
	if err != nil {
		return host.Clock{}, fmt.Errorf("%s -c tracking: %v: %s", chronyc, err, strings.TrimSpace(cut(string(out), 300)))
	}
	return ParseTracking(out)
}

// ParseTracking parses one line of `chronyc -c tracking`: 14 fields
// (reference ID, its name or address, stratum, reference time, system
// time offset, last offset, RMS offset, frequency, residual frequency,
// skew, root delay, root dispersion, update interval, leap status), or
// 13 where the reference's name is left out. The error bound is chrony's
// own: |offset| + root dispersion + root delay / 2.
func ParseTracking(out []byte) (host.Clock, error) {
	line := strings.TrimSpace(string(out))
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	fields, err := csv.NewReader(strings.NewReader(line)).Read()
	if err != nil {
		return host.Clock{}, fmt.Errorf("chronyc tracking: %v", err)
	}
	var name string
	switch len(fields) {
	case 14:
		name, fields = fields[1], append(fields[:1:1], fields[2:]...)
	case 13:
	default:
		return host.Clock{}, fmt.Errorf("chronyc tracking: %d fields, want 13 or 14", len(fields))
	}
	// fields: 0 ref id, 1 stratum, 2 ref time, 3 system time, 4 last
	// offset, 5 rms, 6 freq, 7 residual, 8 skew, 9 root delay, 10 root
	// dispersion, 11 update interval, 12 leap status.
	num := func(i int, what string) (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(fields[i]), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("chronyc tracking: field %d (%s) %q: not a number", i+1, what, fields[i])
		}
		return f, nil
	}
	stratum, err := strconv.Atoi(strings.TrimSpace(fields[1]))
	if err != nil || stratum < 0 || stratum > 16 {
		return host.Clock{}, fmt.Errorf("chronyc tracking: stratum %q: 0 to 16", fields[1])
	}
	refTime, err := num(2, "reference time")
	if err != nil {
		return host.Clock{}, err
	}
	offset, err := num(3, "system time")
	if err != nil {
		return host.Clock{}, err
	}
	delay, err := num(9, "root delay")
	if err != nil {
		return host.Clock{}, err
	}
	disp, err := num(10, "root dispersion")
	if err != nil {
		return host.Clock{}, err
	}
	leap := strings.TrimSpace(fields[12])
	refID := strings.TrimSpace(fields[0])
	synced := leap != "Not synchronised" && refTime > 0 && stratum > 0 && strings.Trim(refID, "0") != ""
	server := name
	if server == "" {
		server = refID
	}
	c := host.Clock{Source: "chrony", OffsetMS: offset * 1000, ErrorMS: (math.Abs(offset) + disp + delay/2) * 1000,
		Synchronised: synced, Server: cut(server, 255), Stratum: stratum}
	if !synced {
		c.Error = "chrony is not synchronised (leap status " + cut(leap, 100) + ")"
	}
	return c, nil
}
