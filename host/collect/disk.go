package collect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shirou/gopsutil/v4/disk"

	"github.com/opsguard/opsguard/host"
)

// pseudo are the filesystem types that hold no data of their own: kernel
// views, memory-backed and special mounts.
var pseudo = map[string]bool{
	"proc": true, "sysfs": true, "tmpfs": true, "devtmpfs": true, "devpts": true, "cgroup": true, "cgroup2": true,
	"mqueue": true, "debugfs": true, "tracefs": true, "securityfs": true, "pstore": true, "bpf": true, "autofs": true,
	"configfs": true, "fusectl": true, "hugetlbfs": true, "nsfs": true, "ramfs": true, "rpc_pipefs": true,
	"binfmt_misc": true, "efivarfs": true, "selinuxfs": true, "squashfs": true, "overlay": false, "fuse.lxcfs": true,
	"fuse.gvfsd-fuse": true, "fuse.portal": true, "iso9660": true, "nfsd": true,
}

// Filesystems lists every real mounted filesystem once (the first mount
// of a device: bind mounts are the same bytes), with its bytes and inodes.
func Filesystems(ctx context.Context) ([]host.Filesystem, error) {
	parts, err := disk.PartitionsWithContext(ctx, true)
	if err != nil {
		return nil, err
	}
	var out []host.Filesystem
	var errs []error
	seen := map[string]bool{}
	for _, p := range parts {
		if pseudo[p.Fstype] || seen[p.Device] || !strings.HasPrefix(p.Mountpoint, "/") {
			continue
		}
		u, err := disk.UsageWithContext(ctx, p.Mountpoint)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Mountpoint, err))
			continue
		}
		if u.Total == 0 {
			continue // an empty special mount
		}
		seen[p.Device] = true
		out = append(out, host.Filesystem{Mount: p.Mountpoint, Device: p.Device, Type: p.Fstype,
			TotalBytes: u.Total, UsedBytes: u.Used, AvailBytes: u.Free, InodesTotal: u.InodesTotal, InodesUsed: u.InodesUsed})
		if len(out) == host.MaxFilesystems {
			break
		}
	}
	return out, errors.Join(errs...)
}
