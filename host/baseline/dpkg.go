package baseline

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
)

// DpkgQueryArgs are the arguments of dpkg-query that ParseDpkgQuery reads.
var DpkgQueryArgs = []string{"-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"}

// MaxPackages bounds the packages of a host.
const MaxPackages = 20000

// ParseDpkgQuery reads dpkg-query's output (DpkgQueryArgs): only packages
// whose status is "ii" (wanted installed, installed) count, so removed
// packages that left their configuration behind ("rc") do not.
func ParseDpkgQuery(out []byte) ([]Package, error) {
	var ps []Package
	for i, line := range bytes.Split(out, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		f := strings.Split(string(line), "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("dpkg-query line %d: want 3 tab-separated fields, got %d", i+1, len(f))
		}
		if strings.TrimSpace(f[2]) != "ii" {
			continue
		}
		if len(ps) == MaxPackages {
			return nil, fmt.Errorf("dpkg-query: more than %d packages", MaxPackages)
		}
		ps = append(ps, Package{Name: f[0], Version: f[1]})
	}
	return sortPackages(ps), nil
}

// ParseDpkgStatus reads dpkg's database (/var/lib/dpkg/status): the
// packages whose Status is "install ok installed".
func ParseDpkgStatus(r io.Reader) ([]Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	var ps []Package
	var cur Package
	var status string
	flush := func() {
		if cur.Name != "" && status == "install ok installed" {
			ps = append(ps, cur)
		}
		cur, status = Package{}, ""
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			flush()
		case strings.HasPrefix(line, "Package: "):
			cur.Name = strings.TrimPrefix(line, "Package: ")
		case strings.HasPrefix(line, "Version: "):
			cur.Version = strings.TrimPrefix(line, "Version: ")
		case strings.HasPrefix(line, "Status: "):
			status = strings.TrimPrefix(line, "Status: ")
		}
	}
	flush()
	return sortPackages(ps), sc.Err()
}

// ParseRPM reads `rpm -qa --qf '%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n'`.
func ParseRPM(out []byte) ([]Package, error) {
	var ps []Package
	for i, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, ver, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("rpm line %d: want name and version separated by a tab", i+1)
		}
		ps = append(ps, Package{Name: name, Version: strings.TrimPrefix(ver, "0:")})
	}
	return sortPackages(ps), nil
}

// RPMArgs are the arguments of rpm that ParseRPM reads.
var RPMArgs = []string{"-qa", "--qf", "%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n"}

func sortPackages(ps []Package) []Package {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Name != ps[j].Name {
			return ps[i].Name < ps[j].Name
		}
		return ps[i].Version < ps[j].Version
	})
	return ps
}

// CompareVersions orders two Debian versions ([epoch:]upstream[-revision])
// as dpkg does: <0, 0 or >0.
func CompareVersions(a, b string) int {
	ea, ua, ra := splitVersion(a)
	eb, ub, rb := splitVersion(b)
	if c := compareNum(ea, eb); c != 0 {
		return c
	}
	if c := compareFragment(ua, ub); c != 0 {
		return c
	}
	return compareFragment(ra, rb)
}

func splitVersion(v string) (epoch, upstream, revision string) {
	if e, rest, ok := strings.Cut(v, ":"); ok {
		epoch, v = e, rest
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

func compareNum(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// order is dpkg's weight of a character in the non-digit parts: '~'
// before everything, even the end; letters before other characters.
func order(c byte) int {
	switch {
	case c == '~':
		return -1
	case isDigit(c):
		return 0
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
		return int(c)
	}
	return int(c) + 256
}

func compareFragment(a, b string) int {
	for a != "" || b != "" {
		for (a != "" && !isDigit(a[0])) || (b != "" && !isDigit(b[0])) {
			var ca, cb int
			if a != "" && !isDigit(a[0]) {
				ca = order(a[0])
			}
			if b != "" && !isDigit(b[0]) {
				cb = order(b[0])
			}
			if ca != cb {
				return ca - cb
			}
			a, b = a[1:], b[1:] // equal weights: both are the same non-digit
		}
		i, j := 0, 0
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := compareNum(a[:i], b[:j]); c != 0 {
			return c
		}
		a, b = a[i:], b[j:]
	}
	return 0
}
