package baseline_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/host/baseline"
	"github.com/opsguard/opsguard/store/storetest"
)

// root lays out a machine in a temporary directory: files, sysctls and
// unit symlinks as the test names them.
type root struct {
	t   *testing.T
	dir string
}

func newRoot(t *testing.T) root { return root{t, t.TempDir()} }

func (r root) file(path, content string, mode os.FileMode) {
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		r.t.Fatal(err)
	}
}

func (r root) link(path, target string) {
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		r.t.Fatal(err)
	}
}

func (r root) sysctl(name, value string) {
	r.file("/proc/sys/"+strings.ReplaceAll(name, ".", "/"), value+"\n", 0o644)
}

func mustParse(t *testing.T, doc string) baseline.Document {
	t.Helper()
	d, err := baseline.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestChecksOnATempRoot(t *testing.T) {
	r := newRoot(t)
	me, _ := user.Current()
	r.file("/etc/passwd", me.Username+":x:"+me.Uid+":"+me.Gid+"::/:/bin/sh\n", 0o644)
	r.file("/etc/ssh/sshd_config", "# comment\nPermitRootLogin no\nPasswordAuthentication yes\npermitrootlogin yes\n", 0o600)
	r.file("/etc/app.conf", "[main]\nlisten = 127.0.0.1\nmode=strict\n", 0o666)
	r.file("/etc/apt/apt.conf.d/20auto-upgrades", "APT::Periodic::Unattended-Upgrade \"1\";\n", 0o644)
	r.sysctl("net.ipv4.ip_forward", "0")
	r.sysctl("net.ipv4.tcp_syncookies", "0")
	r.file("/lib/systemd/system/nftables.service", "[Unit]\n[Install]\nWantedBy=sysinit.target\n", 0o644)
	r.link("/etc/systemd/system/sysinit.target.wants/nftables.service", "/lib/systemd/system/nftables.service")
	r.file("/lib/systemd/system/chrony.service", "[Install]\nWantedBy=multi-user.target\n", 0o644)
	r.link("/etc/systemd/system/telnet.service", "/dev/null")
	r.file("/proc/net/tcp", "  sl  local_address rem_address   st\n   0: 00000000:0016 00000000:0000 0A 0\n   1: 0100007F:0017 0100007F:9000 01 0\n", 0o644)
	r.file("/proc/net/udp", "  sl  local_address rem_address   st\n   0: 00000000:007B 00000000:0000 07 0\n", 0o644)
	r.file("/etc/systemd/journald.conf", "[Journal]\nStorage=persistent\nMaxRetentionSec=1month\n", 0o644)
	r.file("/var/lib/dpkg/status", "Package: chrony\nStatus: install ok installed\nVersion: 4.3-2+deb12u1\n\nPackage: telnet\nStatus: deinstall ok config-files\nVersion: 0.17\n", 0o644)

	d := mustParse(t, fmt.Sprintf(`
name: t
checks:
  - {id: sshd-root, kind: setting, path: /etc/ssh/sshd_config, key: PermitRootLogin, value: "no"}
  - {id: sshd-pw, kind: setting, path: /etc/ssh/sshd_config, key: PasswordAuthentication, value: "no"}
  - {id: app-listen, kind: setting, path: /etc/app.conf, key: listen, value: 127.0.0.1}
  - {id: app-mode, kind: setting, path: /etc/app.conf, key: mode, value: strict}
  - {id: apt, kind: setting, path: /etc/apt/apt.conf.d/20auto-upgrades, key: "APT::Periodic::Unattended-Upgrade", value: "1"}
  - {id: sshd-file, kind: file, path: /etc/ssh/sshd_config, mode: "0644", owner: %[1]s}
  - {id: app-file, kind: file, path: /etc/app.conf, mode: "0644"}
  - {id: app-owner, kind: file, path: /etc/app.conf, owner: nobody}
  - {id: app-hash, kind: file, path: /etc/app.conf, sha256: 0000000000000000000000000000000000000000000000000000000000000000}
  - {id: gone, kind: file, path: /etc/hosts.equiv, exists: false}
  - {id: missing, kind: file, path: /etc/nothing}
  - {id: forward, kind: sysctl, key: net.ipv4.ip_forward, value: "0"}
  - {id: syncookies, kind: sysctl, key: net.ipv4.tcp_syncookies, value: "1"}
  - {id: nft, kind: unit, unit: nftables.service, state: enabled}
  - {id: chrony, kind: unit, unit: chrony, state: enabled}
  - {id: telnet-masked, kind: unit, unit: telnet.service, state: masked}
  - {id: ssh-port, kind: port, port: 22, listen: true}
  - {id: telnet-port, kind: port, port: 23, listen: false}
  - {id: ntp-port, kind: port, port: 123, proto: udp, listen: false}
  - {id: journal, kind: journald, min_retention_days: 365}
  - {id: journal-short, kind: journald}
  - {id: chrony-pkg, kind: package, package: chrony, min_version: "4.3"}
  - {id: chrony-new, kind: package, package: chrony, min_version: "4.3-2+deb12u2"}
  - {id: telnet-pkg, kind: package, package: telnet}
  - {id: fw, kind: firewall, ruleset: nftables}
`, me.Username))
	want := map[string]bool{
		"sshd-root": true, "sshd-pw": false, "app-listen": true, "app-mode": true, "apt": true,
		"sshd-file": true, "app-file": false, "app-owner": false, "app-hash": false, "gone": true, "missing": false,
		"forward": true, "syncookies": false, "nft": true, "chrony": false, "telnet-masked": true,
		"ssh-port": true, "telnet-port": true, "ntp-port": false, "journal": false, "journal-short": true,
		"chrony-pkg": true, "chrony-new": false, "telnet-pkg": false, "fw": false,
	}
	res := baseline.Evaluate(d, baseline.Root{Dir: r.dir}, baseline.EvalOptions{RetentionDays: 30})
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for _, x := range res {
		if x.Pass != want[x.Check] {
			t.Errorf("%s: pass %v, want %v (observed %v, %s)", x.Check, x.Pass, want[x.Check], x.Observed, x.Detail)
		}
	}
	byID := map[string]baseline.Result{}
	for _, x := range res {
		byID[x.Check] = x
	}
	if got := byID["sshd-pw"].Observed["value"]; got != "yes" {
		t.Errorf("sshd-pw observed %q", got)
	}
	if got := byID["app-file"].Observed["mode"]; got != "0666" {
		t.Errorf("app-file mode %q", got)
	}
	if got := byID["chrony"].Observed["state"]; got != "disabled" {
		t.Errorf("chrony state %q", got)
	}

	// Capture accepts what is: every check of the proposal passes.
	c := baseline.Capture(d, res, []baseline.Package{{Name: "chrony", Version: "4.3"}})
	again, err := baseline.Parse("captured.yaml", baseline.Marshal(c))
	if err != nil {
		t.Fatalf("captured document does not parse: %v\n%s", err, baseline.Marshal(c))
	}
	for _, x := range baseline.Evaluate(again, baseline.Root{Dir: r.dir}, baseline.EvalOptions{RetentionDays: 30}) {
		if !x.Pass && x.Check != "missing" && x.Check != "fw" && x.Check != "telnet-pkg" && x.Check != "journal" {
			t.Errorf("captured %s fails: %s", x.Check, x.Detail)
		}
	}
	if len(again.Software) != 1 || again.Software[0].Pattern != "chrony" {
		t.Errorf("captured software %v", again.Software)
	}
}

// journald's drop-ins override its main file, as systemd reads them.
func TestJournaldDropIns(t *testing.T) {
	r := newRoot(t)
	r.file("/etc/systemd/journald.conf", "[Journal]\nStorage=volatile\nMaxRetentionSec=1week\n", 0o644)
	d := mustParse(t, "name: j\nchecks:\n  - {id: j, kind: journald}\n")
	eval := func() baseline.Result {
		return baseline.Evaluate(d, baseline.Root{Dir: r.dir}, baseline.EvalOptions{RetentionDays: 365})[0]
	}
	if x := eval(); x.Pass || x.Observed["storage"] != "volatile" {
		t.Fatalf("volatile journal: %+v", x)
	}
	r.file("/etc/systemd/journald.conf.d/50-keep.conf", "[Journal]\nStorage=persistent\n", 0o644)
	if x := eval(); x.Pass || !strings.Contains(x.Detail, "below 365 days") {
		t.Fatalf("a week's retention: %+v", x)
	}
	r.file("/etc/systemd/journald.conf.d/60-retention.conf", "[Journal]\nMaxRetentionSec=13month\n", 0o644)
	if x := eval(); !x.Pass {
		t.Fatalf("persistent for 13 months: %+v", x)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown kind", "name: x\nchecks:\n  - id: a\n    kind: registry\n", "bad.yaml:4: checks[0].kind: unknown check kind \"registry\""},
		{"bad type", "name: x\nchecks:\n  - id: a\n    kind: port\n    port: ssh\n    listen: true\n", "bad.yaml:5: checks[0].port: want an integer, got \"ssh\""},
		{"bad bool", "name: x\nchecks:\n  - id: a\n    kind: port\n    port: 22\n    listen: maybe\n", "bad.yaml:6: checks[0].listen: want true or false"},
		{"key of another kind", "name: x\nchecks:\n  - id: a\n    kind: sysctl\n    key: kernel.x\n    value: 1\n    port: 3\n", "bad.yaml:7: checks[0].port: not a key of kind sysctl"},
		{"missing key", "name: x\nchecks:\n  - {id: a, kind: setting, path: /etc/x, key: k}\n", "bad.yaml:3: checks[0].value: missing"},
		{"checks not a list", "name: x\nchecks: {a: 1}\n", "bad.yaml:2: checks: want a list"},
		{"unknown top key", "name: x\nchecks: []\nextra: 1\n", "bad.yaml:3: extra: unknown key"},
		{"duplicate id", "name: x\nchecks:\n  - {id: a, kind: sysctl, key: a.b, value: '1'}\n  - {id: a, kind: sysctl, key: a.b, value: '1'}\n", "bad.yaml:4: checks[1].id: \"a\" used twice (line 3)"},
		{"relative path", "name: x\nchecks:\n  - {id: a, kind: file, path: etc/x}\n", "checks[0].path: want an absolute path"},
		{"bad rule", "name: x\nchecks: []\nsoftware: ['nginx >> 1']\n", "bad.yaml:3: software[0]:"},
		{"not yaml", "name: [x\n", "bad.yaml:"},
		{"no name", "checks: []\n", "bad.yaml:1: name:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := baseline.Parse("bad.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if opsguard.ErrorCode(err) != opsguard.EInvalid {
				t.Errorf("kind %s, want invalid", opsguard.ErrorCode(err))
			}
		})
	}
}

func TestDefaultBaselineParses(t *testing.T) {
	d := baseline.Default()
	if len(d.Checks) < 20 {
		t.Fatalf("%d checks", len(d.Checks))
	}
	kinds := map[string]bool{}
	for _, c := range d.Checks {
		kinds[c.Kind] = true
	}
	for _, k := range []string{"setting", "sysctl", "unit", "firewall", "journald", "package", "file", "port"} {
		if !kinds[k] {
			t.Errorf("no %s check in the default baseline", k)
		}
	}
}

func TestVersionsAndRules(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0}, {"1.0~rc1", "1.0", -1}, {"1:1.0", "2.0", 1}, {"1.0-1", "1.0-2", -1},
		{"1.10", "1.9", 1}, {"4.3-2+deb12u1", "4.3-2", 1}, {"1.0a", "1.0", 1}, {"1.0", "1.0+b1", -1},
	} {
		if got := sign(baseline.CompareVersions(tc.a, tc.b)); got != tc.want {
			t.Errorf("compare %s %s = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	rules := []baseline.Rule{}
	for _, s := range []string{"lib*", "openssh-server >= 1:9.2", "nginx < 1.25"} {
		r, err := baseline.ParseRule(s)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	for _, tc := range []struct {
		p    baseline.Package
		want bool
	}{
		{baseline.Package{Name: "libc6", Version: "2.36"}, true},
		{baseline.Package{Name: "openssh-server", Version: "1:9.2p1-2"}, true},
		{baseline.Package{Name: "openssh-server", Version: "1:8.4p1-5"}, false},
		{baseline.Package{Name: "nginx", Version: "1.22.1-9"}, true},
		{baseline.Package{Name: "nginx", Version: "1.26.0-1"}, false},
		{baseline.Package{Name: "telnet", Version: "0.17"}, false},
	} {
		if _, got := baseline.Allowed(rules, tc.p); got != tc.want {
			t.Errorf("%v allowed %v, want %v", tc.p, got, tc.want)
		}
	}
}

func sign(i int) int {
	switch {
	case i < 0:
		return -1
	case i > 0:
		return 1
	}
	return 0
}

// The packages read from dpkg's database on this machine are those
// dpkg-query lists as installed.
func TestDpkgDatabaseMatchesDpkgQuery(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		storetest.Missing(t, "dpkg-query not installed")
		return
	}
	out, err := exec.Command("dpkg-query", baseline.DpkgQueryArgs...).Output()
	if err != nil {
		t.Fatal(err)
	}
	fromQuery, err := baseline.ParseDpkgQuery(out)
	if err != nil {
		t.Fatal(err)
	}
	fromDB, err := baseline.Root{Dir: "/"}.Packages()
	if err != nil {
		t.Fatal(err)
	}
	if len(fromQuery) < 10 || len(fromQuery) != len(fromDB) {
		t.Fatalf("dpkg-query: %d packages, database: %d", len(fromQuery), len(fromDB))
	}
	for i := range fromQuery {
		if fromQuery[i] != fromDB[i] {
			t.Fatalf("package %d: dpkg-query %v, database %v", i, fromQuery[i], fromDB[i])
		}
	}
	// A package removed with its configuration left ("rc") does not count.
	ps, err := baseline.ParseDpkgQuery([]byte("a\t1\tii \nb\t2\trc \n"))
	if err != nil || len(ps) != 1 || ps[0].Name != "a" {
		t.Errorf("rc counted: %v %v", ps, err)
	}
	if _, err := baseline.ParseDpkgQuery([]byte("a 1 ii\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("malformed line: %v", err)
	}
}

func TestTimespan(t *testing.T) {
	for s, days := range map[string]float64{"": 0, "0": 0, "1year": 365.25, "365d": 365, "2w 3d": 17, "86400": 1, "12month": 365.25} {
		d, err := baseline.Timespan(s)
		if err != nil || d.Hours()/24 != days {
			t.Errorf("%q: %v days, %v", s, d.Hours()/24, err)
		}
	}
	if _, err := baseline.Timespan("1 fortnight"); err == nil {
		t.Error("unknown unit accepted")
	}
}

var _ = errors.New
