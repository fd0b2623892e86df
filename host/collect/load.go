package collect

import (
	"context"

	"github.com/shirou/gopsutil/v4/load"

	"github.com/opsguard/opsguard/host"
)

// LoadAvg reads the 1, 5 and 15 minute load averages.
func LoadAvg(ctx context.Context) (host.Load, error) {
	a, err := load.AvgWithContext(ctx)
	if err != nil {
		return host.Load{}, err
	}
	return host.Load{Load1: a.Load1, Load5: a.Load5, Load15: a.Load15}, nil
}
