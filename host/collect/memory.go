package collect

import (
	"context"

	"github.com/shirou/gopsutil/v4/mem"

	"github.com/opsguard/opsguard/host"
)

// Memory reads /proc/meminfo: used is total less available, as free's
// "available" column counts what can be had without swapping.
func Memory(ctx context.Context) (host.Memory, error) {
	v, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return host.Memory{}, err
	}
	used := uint64(0)
	if v.Available < v.Total {
		used = v.Total - v.Available
	}
	return host.Memory{TotalBytes: v.Total, UsedBytes: used, AvailableBytes: v.Available}, nil
}
