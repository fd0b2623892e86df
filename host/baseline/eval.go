package baseline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Result is the outcome of one check on a host. Observed holds what was
// found under the check's own keys (mode, owner, value, state, …), so that
// a drift shows before and after and capture can accept what is.
type Result struct {
	Check    string            `json:"check"`
	Kind     string            `json:"kind"`
	Pass     bool              `json:"pass"`
	Observed map[string]string `json:"observed,omitempty"`
	// Detail says why the check failed or could not be evaluated.
	Detail string `json:"detail,omitempty"`
}

// EvalOptions tune an evaluation.
type EvalOptions struct {
	// RetentionDays is LG-2's retention, the least journald may keep
	// when a check names no min_retention_days.
	RetentionDays int
}

// Evaluate runs every check of d on sys, in order. It reads each source
// once (the packages, the sockets), whatever the number of checks.
func Evaluate(d Document, sys System, opts EvalOptions) []Result {
	m := &memo{System: sys}
	out := make([]Result, len(d.Checks))
	for i, c := range d.Checks {
		r := Result{Check: c.ID, Kind: c.Kind, Observed: map[string]string{}}
		var err error
		r.Pass, err = evaluators[c.Kind](c, m, opts, r.Observed)
		if err != nil {
			r.Pass, r.Detail = false, err.Error()
		}
		out[i] = r
	}
	return out
}

type evaluator func(c Check, sys *memo, opts EvalOptions, obs map[string]string) (bool, error)

var evaluators map[string]evaluator

func init() {
	evaluators = map[string]evaluator{
		"file": evalFile, "setting": evalSetting, "sysctl": evalSysctl, "unit": evalUnit,
		"port": evalPort, "firewall": evalFirewall, "journald": evalJournald, "package": evalPackage,
	}
}

// memo reads the host-wide sources once per evaluation.
type memo struct {
	System
	pkgs    map[string]string
	pkgErr  error
	pkgDone bool
	lis     []Listener
	lisErr  error
	lisDone bool
}

func (m *memo) packages() (map[string]string, error) {
	if !m.pkgDone {
		m.pkgDone = true
		ps, err := m.Packages()
		m.pkgs, m.pkgErr = make(map[string]string, len(ps)), err
		for _, p := range ps {
			m.pkgs[p.Name] = p.Version
		}
	}
	return m.pkgs, m.pkgErr
}

func (m *memo) listening() ([]Listener, error) {
	if !m.lisDone {
		m.lisDone = true
		m.lis, m.lisErr = m.Listening()
	}
	return m.lis, m.lisErr
}

func evalFile(c Check, sys *memo, _ EvalOptions, obs map[string]string) (bool, error) {
	want := c.Exists == nil || *c.Exists
	st, err := sys.Stat(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		obs["exists"] = "false"
		if want {
			return false, fmt.Errorf("%s: absent", c.Path)
		}
		return true, nil
	}
	if err != nil {
		return false, err
	}
	obs["exists"] = "true"
	if !want {
		return false, fmt.Errorf("%s: present", c.Path)
	}
	perm := st.Mode.Perm() | st.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	obs["mode"], obs["owner"] = fmt.Sprintf("%04o", unixMode(perm)), st.Owner
	var fails []string
	if c.Mode != "" {
		m, _ := strconv.ParseUint(c.Mode, 8, 32)
		if uint32(unixMode(perm))&^uint32(m) != 0 {
			fails = append(fails, fmt.Sprintf("mode %s is more permissive than %s", obs["mode"], c.Mode))
		}
	}
	if c.Owner != "" && c.Owner != st.Owner && !strings.HasPrefix(st.Owner, c.Owner+":") {
		fails = append(fails, fmt.Sprintf("owner %s, not %s", st.Owner, c.Owner))
	}
	if c.SHA256 != "" {
		b, err := sys.ReadFile(c.Path)
		if err != nil {
			return false, err
		}
		sum := sha256.Sum256(b)
		if obs["sha256"] = hex.EncodeToString(sum[:]); obs["sha256"] != c.SHA256 {
			fails = append(fails, "content changed (sha256 "+obs["sha256"][:12]+"…)")
		}
	}
	if len(fails) > 0 {
		return false, errors.New(strings.Join(fails, "; "))
	}
	return true, nil
}

// unixMode turns Go's mode bits into the octal of chmod.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// Setting finds key's value in a configuration file: "Key value" lines
// (sshd_config; keys compared without case, the first one wins as in
// sshd) or "key = value" lines. Comments start with '#' or ';'.
func Setting(data []byte, key string) (string, bool) {
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		var k, v string
		if i := strings.IndexAny(line, "= \t"); i < 0 {
			continue
		} else if j := strings.IndexByte(line, '='); j >= 0 && strings.TrimSpace(line[:j]) != "" && !strings.ContainsAny(strings.TrimSpace(line[:j]), " \t") {
			k, v = line[:j], line[j+1:]
		} else {
			k, v = line[:i], line[i:]
		}
		if strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.Trim(strings.TrimSuffix(strings.TrimSpace(v), ";"), `"'`), true
		}
	}
	return "", false
}

func evalSetting(c Check, sys *memo, _ EvalOptions, obs map[string]string) (bool, error) {
	b, err := sys.ReadFile(c.Path)
	if err != nil {
		return false, err
	}
	v, ok := Setting(b, c.Key)
	obs["value"] = v
	if !ok {
		return false, fmt.Errorf("%s: %s not set", c.Path, c.Key)
	}
	if !strings.EqualFold(v, c.Value) {
		return false, fmt.Errorf("%s: %s is %q, not %q", c.Path, c.Key, v, c.Value)
	}
	return true, nil
}

func evalSysctl(c Check, sys *memo, _ EvalOptions, obs map[string]string) (bool, error) {
	v, err := sys.Sysctl(c.Key)
	if err != nil {
		return false, err
	}
	obs["value"] = v
	if want := strings.Join(strings.Fields(c.Value), " "); v != want {
		return false, fmt.Errorf("%s is %q, not %q", c.Key, v, want)
	}
	return true, nil
}

func evalUnit(c Check, sys *memo, _ EvalOptions, obs map[string]string) (bool, error) {
	st, err := sys.UnitState(c.Unit)
	if err != nil {
		return false, err
	}
	obs["state"] = st
	if st != c.State {
		return false, fmt.Errorf("%s is %s, not %s", c.Unit, st, c.State)
	}
	return true, nil
}

func evalPort(c Check, sys *memo, _ EvalOptions, obs map[string]string) (bool, error) {
	ls, err := sys.listening()
	if err != nil {
		return false, err
	}
	proto := c.Proto
	if proto == "" {
		proto = "tcp"
	}
	listening := false
	for _, l := range ls {
		listening = listening || (l.Port == c.Port && l.Proto == proto)
	}
	obs["listen"] = strconv.FormatBool(listening)
	if listening != *c.Listen {
		if listening {
			return false, fmt.Errorf("%s port %d is listening", proto, c.Port)
		}
		return false, fmt.Errorf("nothing listens on %s port %d", proto, c.Port)
	}
	return true, nil
}

var iptablesRule = regexp.MustCompile(`(?m)^-A `)

func evalFirewall(c Check, sys *memo, _ EvalOptions, obs map[string]string) (bool, error) {
	out, err := sys.Ruleset(c.Ruleset)
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(out)
	obs["hash"] = hex.EncodeToString(sum[:])
	if c.Hash != "" {
		if obs["hash"] != c.Hash {
			return false, fmt.Errorf("%s ruleset changed (sha256 %s…)", c.Ruleset, obs["hash"][:12])
		}
		return true, nil
	}
	if !bytes.Contains(out, []byte(`{"rule":`)) && !iptablesRule.Match(out) {
		return false, fmt.Errorf("no %s rule loaded", c.Ruleset)
	}
	return true, nil
}

func evalJournald(c Check, sys *memo, opts EvalOptions, obs map[string]string) (bool, error) {
	path := c.Path
	if path == "" {
		path = "/etc/systemd/journald.conf"
	}
	storage, retention := "auto", ""
	files := []string{path}
	dropins, err := sys.Glob("/etc/systemd/journald.conf.d/*.conf")
	if err != nil {
		return false, err
	}
	files = append(files, dropins...)
	for _, f := range files {
		b, err := sys.ReadFile(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		if v, ok := Setting(b, "Storage"); ok {
			storage = v
		}
		if v, ok := Setting(b, "MaxRetentionSec"); ok {
			retention = v
		}
	}
	if storage == "auto" {
		if _, err := sys.Stat("/var/log/journal"); err == nil {
			storage = "persistent"
		}
	}
	obs["storage"], obs["max_retention_sec"] = storage, retention
	if storage != "persistent" {
		return false, fmt.Errorf("journald storage is %s, not persistent", storage)
	}
	min := c.MinRetentionDays
	if min == 0 {
		min = opts.RetentionDays
	}
	d, err := Timespan(retention)
	if err != nil {
		return false, fmt.Errorf("MaxRetentionSec: %v", err)
	}
	if d > 0 && d < time.Duration(min)*24*time.Hour {
		return false, fmt.Errorf("MaxRetentionSec=%s is below %d days", retention, min)
	}
	return true, nil
}

func evalPackage(c Check, sys *memo, _ EvalOptions, obs map[string]string) (bool, error) {
	ps, err := sys.packages()
	if err != nil {
		return false, err
	}
	v, ok := ps[c.Package]
	obs["version"] = v
	if !ok {
		return false, fmt.Errorf("%s is not installed", c.Package)
	}
	if c.MinVersion != "" && CompareVersions(v, c.MinVersion) < 0 {
		return false, fmt.Errorf("%s %s is older than %s", c.Package, v, c.MinVersion)
	}
	return true, nil
}

var spanUnits = map[string]time.Duration{
	"us": time.Microsecond, "usec": time.Microsecond, "ms": time.Millisecond, "msec": time.Millisecond,
	"": time.Second, "s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	"M": 2629800 * time.Second, "month": 2629800 * time.Second, "months": 2629800 * time.Second,
	"y": 31557600 * time.Second, "year": 31557600 * time.Second, "years": 31557600 * time.Second,
}

var spanPart = regexp.MustCompile(`^\s*([0-9]+)\s*([A-Za-z]*)`)

// Timespan reads a systemd time span ("1year", "365d", "2w 3d", "3600");
// "" and "0" are no limit (0).
func Timespan(s string) (time.Duration, error) {
	var d time.Duration
	rest := strings.TrimSpace(s)
	for rest != "" {
		m := spanPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("%q is not a time span", s)
		}
		u, ok := spanUnits[m[2]]
		if !ok {
			return 0, fmt.Errorf("%q: unknown unit %q", s, m[2])
		}
		n, _ := strconv.ParseInt(m[1], 10, 32)
		d += time.Duration(n) * u
		rest = strings.TrimSpace(rest[len(m[0]):])
	}
	return d, nil
}
