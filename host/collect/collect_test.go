package collect_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/collect"
	"github.com/opsguard/opsguard/store/storetest"
)

// requireProgram skips without the program, or fails under
// OPSGUARD_REQUIRE_INTEGRATION=1.
func requireProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		storetest.Missing(t, name+" is not installed")
	}
	return p
}

// The filesystems on this machine, as df counts them: every real one
// listed, and bytes and inodes within what changed between the two reads.
func TestFilesystemsMatchDf(t *testing.T) {
	requireProgram(t, "df")
	fss, err := collect.Filesystems(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// df exits 1 when one mount cannot be read, and lists the others.
	out, err := exec.Command("df", "-B1", "--output=target,fstype,size,used,avail,itotal,iused").Output()
	if len(out) == 0 {
		t.Fatal(err)
	}
	df := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		f := strings.Fields(line)
		df[f[0]] = f
	}
	if len(fss) == 0 {
		t.Fatal("no filesystem collected")
	}
	for _, fs := range fss {
		d, ok := df[fs.Mount]
		if !ok {
			t.Errorf("%s: not in df", fs.Mount)
			continue
		}
		num := func(i int) float64 { v, _ := strconv.ParseFloat(d[i], 64); return v }
		near := func(what string, got uint64, want, tol float64) {
			if math.Abs(float64(got)-want) > tol {
				t.Errorf("%s %s: collected %d, df %.0f", fs.Mount, what, got, want)
			}
		}
		if fs.Type != d[1] {
			t.Errorf("%s: type %s, df %s", fs.Mount, fs.Type, d[1])
		}
		near("size", fs.TotalBytes, num(2), 0)
		near("used", fs.UsedBytes, num(3), 64<<20) // the disk may change between the reads
		near("avail", fs.AvailBytes, num(4), 64<<20)
		near("inodes", fs.InodesTotal, num(5), 0)
		near("inodes used", fs.InodesUsed, num(6), 10000)
	}
	for mount, d := range df {
		if d[1] == "ext4" || d[1] == "xfs" || d[1] == "btrfs" {
			found := false
			for _, fs := range fss {
				found = found || fs.Mount == mount || fs.Device == d[0]
			}
			if !found {
				t.Errorf("%s (%s): a real filesystem not collected", mount, d[1])
			}
		}
		if d[1] == "tmpfs" || d[1] == "devtmpfs" || d[1] == "proc" {
			for _, fs := range fss {
				if fs.Mount == mount {
					t.Errorf("%s: a pseudo filesystem (%s) collected", mount, d[1])
				}
			}
		}
	}
}

// Memory, as free counts it: total, and used as total less available.
func TestMemoryMatchesFree(t *testing.T) {
	requireProgram(t, "free")
	m, err := collect.Memory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("free", "-b").Output()
	if err != nil {
		t.Fatal(err)
	}
	var f []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Mem:") {
			f = strings.Fields(line)
		}
	}
	if len(f) < 7 {
		t.Fatalf("free: %q", out)
	}
	total, _ := strconv.ParseUint(f[1], 10, 64)
	avail, _ := strconv.ParseUint(f[6], 10, 64)
	if m.TotalBytes != total {
		t.Errorf("total %d, free says %d", m.TotalBytes, total)
	}
	if d := math.Abs(float64(m.AvailableBytes) - float64(avail)); d > 256<<20 {
		t.Errorf("available %d, free says %d", m.AvailableBytes, avail)
	}
	if m.UsedBytes != m.TotalBytes-m.AvailableBytes || m.Percent() <= 0 || m.Percent() >= 100 {
		t.Errorf("used %d of %d", m.UsedBytes, m.TotalBytes)
	}
}

func TestCollectOnThisMachine(t *testing.T) {
	dir := t.TempDir()
	c, err := collect.New(collect.Options{StateDir: dir, MachineIDFile: filepath.Join(dir, "none"), Chronyc: "-"})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Collect(context.Background())
	if err := r.Check(time.Now()); err != nil {
		t.Fatalf("a real collection fails its own check: %v", err)
	}
	if r.CPU.Cores < 1 || r.Memory.TotalBytes == 0 || len(r.Filesystems) == 0 || r.Clock == nil || r.Clock.Source != "none" {
		t.Fatalf("report = %+v", r)
	}
	// The generated ID is kept: a second collector has the same.
	c2, err := collect.New(collect.Options{StateDir: dir, MachineIDFile: filepath.Join(dir, "none")})
	if err != nil || c2.HostID() != c.HostID() || !strings.HasPrefix(c.HostID(), "g-") {
		t.Fatalf("host IDs %s and %s (%v)", c.HostID(), c2.HostID(), err)
	}
}

// chronyc -c tracking as chrony 4.3 printed it here (unsynchronised, and
// synchronised to the loopback server of TestChronyd just after its first
// samples), and a 13-field line: the same layout without the reference's
// name.
func TestParseTracking(t *testing.T) {
	cases := []struct {
		name, line string
		synced     bool
		offset     float64
		errorMS    float64
	}{
		{"unsynchronised", "00000000,,0,0.000000000,0.000000000,0.000000000,0.000000000,0.000,0.000,0.000,1.000000000,1.000000000,0.0,Not synchronised\n", false, 0, 1500},
		{"synchronised", "7F000001,127.0.0.1,2,1796212690.113924569,0.000047169,0.000023802,0.000122187,0.000,210.458,1000000.000,0.000116883,0.665896952,0.3,Normal\n", true, 0.047169, 0.047169 + 665.896952 + 0.116883/2},
		{"13 fields", "7F000001,3,1772445600.5,-0.002000000,0.0,0.0,0.0,0.0,0.0,0.004,0.001,64.0,Normal", true, -2, 2 + 1 + 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := collect.ParseTracking([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			if c.Synchronised != tc.synced || math.Abs(c.OffsetMS-tc.offset) > 1e-9 || math.Abs(c.ErrorMS-tc.errorMS) > 1e-9 {
				t.Fatalf("clock = %+v, want synchronised %v offset %g error %g", c, tc.synced, tc.offset, tc.errorMS)
			}
		})
	}
	for _, bad := range []string{"", "a,b,c", "7F000001,h,x,1,0,0,0,0,0,0,0,0,0,Normal", "7F000001,h,2,1,NaN,0,0,0,0,0,0,0,0,Normal"} {
		if _, err := collect.ParseTracking([]byte(bad)); err == nil {
			t.Errorf("%q: parsed", bad)
		}
	}
}

func FuzzParseTracking(f *testing.F) {
	f.Add([]byte("7F000001,127.0.0.1,2,1772445600.1,0.0000125,-0.000003,0.000004,-1.234,+0.001,0.050,0.0002,0.001,2.0,Normal\n"))
	f.Add([]byte("00000000,,0,0,0,0,0,0,0,0,1,1,0,Not synchronised"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := collect.ParseTracking(data)
		if err != nil {
			return
		}
		if c.ErrorMS < math.Abs(c.OffsetMS) || math.IsNaN(c.ErrorMS) || c.Stratum < 0 || c.Stratum > 16 {
			t.Fatalf("clock %+v: the error bound is below the offset", c)
		}
	})
}

// ntpServer answers NTP queries on loopback with its clock ahead by skew.
func ntpServer(t *testing.T, skew time.Duration) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	stamp := func(b []byte, at time.Time) {
		secs := uint64(at.Unix() + 2208988800)
		frac := uint64(at.Nanosecond()) << 32 / 1e9
		binary.BigEndian.PutUint64(b, secs<<32|frac)
	}
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 48 {
				continue
			}
			recv := time.Now().Add(skew)
			out := make([]byte, 48)
			out[0] = 0<<6 | 4<<3 | 4                       // no leap warning, version 4, server
			out[1] = 1                                     // stratum 1
			out[2] = buf[2]                                // poll
			out[3] = 0xEC                                  // precision 2^-20
			binary.BigEndian.PutUint32(out[8:], 1<<16/100) // root dispersion 10 ms
			copy(out[12:], "LOCL")
			stamp(out[16:], recv.Add(-time.Second))
			copy(out[24:32], buf[40:48]) // origin: the client's transmit time
			stamp(out[32:], recv)
			stamp(out[40:], time.Now().Add(skew))
			conn.WriteTo(out, addr)
		}
	}()
	return conn.LocalAddr().String()
}

func TestNTPAgainstLoopbackServer(t *testing.T) {
	addr := ntpServer(t, 250*time.Millisecond)
	c := collect.NTP([]string{"127.0.0.1:1", addr}, time.Second)
	if c.Source != "ntp" || !c.Synchronised || c.Error != "" || c.Server != addr {
		t.Fatalf("clock = %+v", c)
	}
	// The server is 250 ms ahead: this clock is 250 ms behind.
	if math.Abs(c.OffsetMS+250) > 20 || c.ErrorMS < 250 || c.ErrorMS > 300 {
		t.Fatalf("offset %.2f ms, error bound %.2f ms; want about -250 and 260", c.OffsetMS, c.ErrorMS)
	}
	dead := collect.NTP([]string{"127.0.0.1:1"}, 200*time.Millisecond)
	if dead.Synchronised || !strings.Contains(dead.Error, "127.0.0.1:1") {
		t.Fatalf("no server: %+v", dead)
	}
}

// A real chronyd (not allowed to set the clock: -x) synchronised to the
// loopback NTP server, read through chronyc.
func TestChronyd(t *testing.T) {
	chronyd := requireProgram(t, "chronyd")
	requireProgram(t, "chronyc")
	if os.Geteuid() != 0 {
		storetest.Missing(t, "chronyd's command socket needs a root-owned directory: run as root")
	}
	addr := ntpServer(t, 0)
	_, port, _ := net.SplitHostPort(addr)
	dir, err := os.MkdirTemp("", "opsguard-chrony")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o700)
	sock := filepath.Join(dir, "chronyd.sock")
	conf := fmt.Sprintf("server 127.0.0.1 port %s iburst minpoll -2 maxpoll -2\ndriftfile %s/drift\npidfile %s/chronyd.pid\nbindcmdaddress %s\ncmdport 0\nport 0\n",
		port, dir, dir, sock)
	os.WriteFile(filepath.Join(dir, "chrony.conf"), []byte(conf), 0o600)
	cmd := exec.Command(chronyd, "-x", "-u", "root", "-d", "-f", filepath.Join(dir, "chrony.conf"))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var c host.Clock
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		if c, err = collect.Chrony(context.Background(), "chronyc", sock); err == nil && c.Synchronised {
			break
		}
	}
	if err != nil || !c.Synchronised {
		t.Fatalf("chronyd did not synchronise to %s: %+v, %v\n%s", addr, c, err, logs.String())
	}
	out, _ := exec.Command("chronyc", "-h", sock, "-c", "-n", "tracking").Output()
	t.Logf("chronyc -c -n tracking: %s", out)
	if c.Source != "chrony" || c.Server != "127.0.0.1" || c.Stratum != 2 || c.ErrorMS < math.Abs(c.OffsetMS) || c.ErrorMS > 2000 {
		t.Fatalf("clock = %+v", c)
	}
}
