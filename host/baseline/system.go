package baseline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// FileInfo is what a file check reads of a file.
type FileInfo struct {
	Mode  fs.FileMode
	Owner string // user:group, by name where known, else by number
}

// Listener is a socket listening on a port.
type Listener struct {
	Proto string // tcp, udp
	Port  int
}

// System is the host a baseline is evaluated on. An error that
// fs.ErrNotExist wraps means absent.
type System interface {
	Stat(path string) (FileInfo, error)
	ReadFile(path string) ([]byte, error)
	Sysctl(name string) (string, error)
	// UnitState is enabled, disabled, masked, static or not-found.
	UnitState(unit string) (string, error)
	Listening() ([]Listener, error)
	// Ruleset is the firewall's ruleset as text (nft -j list ruleset,
	// iptables-save), counters and comments left out.
	Ruleset(kind string) ([]byte, error)
	Packages() ([]Package, error)
	// Glob lists the files matching a pattern, as paths of the host.
	Glob(pattern string) ([]string, error)
}

// Root is the System of the machine (Dir "/") or of a directory laid out
// like one. Run runs a program (nft, iptables-save, dpkg-query); nil
// reads dpkg's database from Dir and reports no firewall.
type Root struct {
	Dir string
	Run func(name string, args ...string) ([]byte, error)
}

func (r Root) path(p string) string { return filepath.Join(r.Dir, filepath.Clean("/"+p)) }

// Stat reads a file's mode and owner (without following a last symlink).
func (r Root) Stat(p string) (FileInfo, error) {
	fi, err := os.Lstat(r.path(p))
	if err != nil {
		return FileInfo{}, err
	}
	out := FileInfo{Mode: fi.Mode()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out.Owner = r.name("/etc/passwd", st.Uid) + ":" + r.name("/etc/group", st.Gid)
	}
	return out, nil
}

// name looks a numeric ID up in the root's passwd or group file.
func (r Root) name(file string, id uint32) string {
	want := strconv.FormatUint(uint64(id), 10)
	b, _ := os.ReadFile(r.path(file))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[2] == want {
			return f[0]
		}
	}
	return want
}

// ReadFile reads a file of the root.
func (r Root) ReadFile(p string) ([]byte, error) {
	f, err := os.Open(r.path(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(io.LimitReader(f, maxFile+1))
	if buf.Len() > maxFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, maxFile)
	}
	return buf.Bytes(), err
}

const maxFile = 16 << 20

// Glob lists the root's files matching pattern.
func (r Root) Glob(pattern string) ([]string, error) {
	m, err := filepath.Glob(r.path(pattern))
	for i := range m {
		rel, _ := filepath.Rel(r.path("/"), m[i])
		m[i] = "/" + rel
	}
	return m, err
}

// Sysctl reads /proc/sys.
func (r Root) Sysctl(name string) (string, error) {
	b, err := os.ReadFile(r.path("/proc/sys/" + strings.ReplaceAll(name, ".", "/")))
	return strings.Join(strings.Fields(string(b)), " "), err
}

var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// UnitState reads the unit's symlinks as systemctl is-enabled does: a
// link to /dev/null masks it, a link in a .wants or .requires directory
// of /etc/systemd/system enables it.
func (r Root) UnitState(unit string) (string, error) {
	if !strings.Contains(unit, ".") {
		unit += ".service"
	}
	if strings.ContainsAny(unit, "/") {
		return "", fmt.Errorf("unit %q: not a unit name", unit)
	}
	for _, d := range unitDirs[:2] {
		if t, err := os.Readlink(r.path(d + "/" + unit)); err == nil && t == "/dev/null" {
			return "masked", nil
		}
	}
	for _, pat := range []string{"/etc/systemd/system/*.wants/", "/etc/systemd/system/*.requires/"} {
		if m, _ := filepath.Glob(r.path(pat + unit)); len(m) > 0 {
			return "enabled", nil
		}
	}
	for _, d := range unitDirs {
		b, err := os.ReadFile(r.path(d + "/" + unit))
		if err == nil {
			if bytes.Contains(b, []byte("[Install]")) {
				return "disabled", nil
			}
			return "static", nil
		}
	}
	return "not-found", nil
}

// Listening reads /proc/net/{tcp,tcp6,udp,udp6}: TCP sockets in LISTEN,
// UDP sockets unconnected.
func (r Root) Listening() ([]Listener, error) {
	var out []Listener
	for _, f := range []struct{ file, proto, state string }{
		{"tcp", "tcp", "0A"}, {"tcp6", "tcp", "0A"}, {"udp", "udp", "07"}, {"udp6", "udp", "07"},
	} {
		b, err := os.ReadFile(r.path("/proc/net/" + f.file))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			if len(fl) < 4 || fl[3] != f.state {
				continue
			}
			_, port, ok := strings.Cut(fl[1], ":")
			p, err := strconv.ParseUint(port, 16, 16)
			if ok && err == nil {
				out = append(out, Listener{Proto: f.proto, Port: int(p)})
			}
		}
	}
	return out, nil
}

// Ruleset runs nft or iptables-save.
func (r Root) Ruleset(kind string) ([]byte, error) {
	if r.Run == nil {
		return nil, errors.New("no program runner: firewall not readable")
	}
	switch kind {
	case "nftables":
		return r.Run("nft", "-j", "list", "ruleset")
	case "iptables":
		out, err := r.Run("iptables-save")
		return stableIptables(out), err
	}
	return nil, fmt.Errorf("ruleset %q: unknown", kind)
}

// stableIptables drops the comment lines (dated) and the counters.
func stableIptables(out []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if strings.HasPrefix(line, ":") {
			if i := strings.LastIndexByte(line, '['); i > 0 {
				line = strings.TrimSpace(line[:i])
			}
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes()
}

// Packages asks dpkg-query (or rpm where there is no dpkg), or without a
// runner reads dpkg's database in the root.
func (r Root) Packages() ([]Package, error) {
	if r.Run == nil {
		f, err := os.Open(r.path("/var/lib/dpkg/status"))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return ParseDpkgStatus(f)
	}
	out, err := r.Run("dpkg-query", DpkgQueryArgs...)
	if err == nil {
		return ParseDpkgQuery(out)
	}
	if out, rerr := r.Run("rpm", RPMArgs...); rerr == nil {
		return ParseRPM(out)
	}
	return nil, err
}
