package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
	"golang.org/x/mod/sumdb/note"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/egress"
)

// Error is a problem in a config file, located by file, line and key.
type Error struct {
	File string
	Line int    // 0 when unknown
	Key  string // YAML path such as vuln.sla_days.critical
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": %s", e.Key)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// Load reads the config at path over the policy's defaults. An empty path
// means the defaults alone.
func Load(path string) (Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named name in errors) over the policy's defaults and
// validates the result.
func Parse(name string, data []byte) (Config, error) {
	cfg := Default()
	if len(bytes.TrimSpace(data)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(data), yaml.Strict())
		if err := dec.Decode(&cfg); err != nil {
			return Config{}, yamlError(name, data, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		var ve *Error
		if errors.As(err, &ve) {
			ve.File = name
			ve.Line = lineOf(data, ve.Key)
		}
		return Config{}, err
	}
	return cfg, nil
}

// yamlError turns a decoder error into an Error carrying the line and key.
func yamlError(name string, data []byte, err error) error {
	var ye yaml.Error
	if !errors.As(err, &ye) {
		// Some values (durations) fail without a token; find the scalar the
		// message quotes so the user still gets a line and a key.
		e := &Error{File: name, Msg: err.Error()}
		if tk := quotedToken(data, err.Error()); tk != nil {
			e.Line, e.Key = tk.Position.Line, keyOf(tk)
		}
		return e
	}
	e := &Error{File: name, Msg: ye.GetMessage()}
	if tk := ye.GetToken(); tk != nil && tk.Position != nil {
		e.Line = tk.Position.Line
		e.Key = keyOf(tk)
	}
	return e
}

// keyOf names the mapping key a value token belongs to (the token itself
// when it is a key).
func keyOf(tk *token.Token) string {
	for p := tk; p != nil; p = p.Prev {
		if p.Type == token.MappingValueType && p.Prev != nil {
			return p.Prev.Value
		}
		if p.Prev != nil && p.Prev.Position.Line != tk.Position.Line {
			break
		}
	}
	return tk.Value
}

// quotedToken returns the first scalar token whose value msg quotes.
func quotedToken(data []byte, msg string) *token.Token {
	for _, tk := range lexer.Tokenize(string(data)) {
		if tk.Value != "" && tk.Type != token.MappingValueType && strings.Contains(msg, strconv.Quote(tk.Value)) {
			return tk
		}
	}
	return nil
}

// lineOf finds the line of the key at a dotted path, or 0.
func lineOf(data []byte, key string) int {
	if key == "" {
		return 0
	}
	p, err := yaml.PathString("$." + key)
	if err != nil {
		return 0
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(f)
	if err != nil || n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

// Validate checks every value against what the policy allows.
func (c Config) Validate() error {
	positive := []struct {
		key string
		v   int
	}{
		{"auth.max_failed_sign_ins", c.Auth.MaxFailedSignIns},
		{"auth.max_failed_sign_ins_per_user", c.Auth.MaxFailedSignInsPerUser},
		{"auth.max_failed_sign_ins_per_address", c.Auth.MaxFailedSignInsPerAddress},
		{"change.post_facto_review_business_days", c.Change.PostFactoReviewBusinessDays},
		{"backup.max_age_hours", c.Backup.MaxAgeHours},
		{"backup.retention_days", c.Backup.RetentionDays},
		{"backup.restore_test_interval_days", c.Backup.RestoreTestIntervalDays},
		{"backup.tabletop_exercise_interval_days", c.Backup.TabletopExerciseIntervalDays},
		{"configuration.clock_max_offset_ms", c.Configuration.ClockMaxOffsetMS},
		{"logging.retention_days", c.Logging.RetentionDays},
		{"logging.events_interval_minutes", c.Logging.EventsIntervalMinutes},
		{"logging.failed_sign_in_window_minutes", c.Logging.FailedSignInWindowMinutes},
		{"vuln.sla_days.critical", c.Vuln.SLADays.Critical},
		{"vuln.sla_days.high", c.Vuln.SLADays.High},
		{"vuln.sla_days.medium", c.Vuln.SLADays.Medium},
		{"vuln.sla_days.low", c.Vuln.SLADays.Low},
		{"vuln.scan_interval_days", c.Vuln.ScanIntervalDays},
		{"vuln.external_assessment_interval_days", c.Vuln.ExternalAssessmentIntervalDays},
		{"vuln.escalation_reminder_days", c.Vuln.EscalationReminderDays},
		{"vuln.max_concurrent_imports", c.Vuln.MaxConcurrentImports},
		{"governance.review_interval_days", c.Governance.ReviewIntervalDays},
		{"governance.review_notice_days", c.Governance.ReviewNoticeDays},
		{"governance.feed_max_age_days", c.Governance.FeedMaxAgeDays},
		{"governance.attestation_max_days", c.Governance.AttestationMaxDays},
		{"governance.max_evidence_bytes", c.Governance.MaxEvidenceBytes},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return &Error{Key: p.key, Msg: fmt.Sprintf("must be a positive number, got %d", p.v)}
		}
	}
	if c.Logging.FailedSignIns < 0 {
		return &Error{Key: "logging.failed_sign_ins", Msg: "must not be negative (0: no alert)"}
	}
	if a := c.Logging.SyslogListen; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return &Error{Key: "logging.syslog_listen", Msg: fmt.Sprintf("%q: a host:port to listen on (127.0.0.1:6514): %v", a, err)}
		}
	}
	if c.Backup.OffsiteCopies < 0 {
		return &Error{Key: "backup.offsite_copies", Msg: "must not be negative"}
	}
	if c.Auth.MaxFailedSignInsPerUser < c.Auth.MaxFailedSignIns || c.Auth.MaxFailedSignInsPerAddress < c.Auth.MaxFailedSignIns {
		return &Error{Key: "auth.max_failed_sign_ins", Msg: "must not exceed max_failed_sign_ins_per_user and max_failed_sign_ins_per_address"}
	}
	if err := checkProxies(c.Server.TrustedProxies); err != nil {
		return err
	}
	if err := checkAttestRoles(c.Governance.AttestRoles); err != nil {
		return err
	}
	if c.Auth.TokenTTLDays < 0 {
		return &Error{Key: "auth.token_ttl_days", Msg: "must not be negative"}
	}
	s := c.Vuln.SLADays
	if !(s.Critical <= s.High && s.High <= s.Medium && s.Medium <= s.Low) {
		return &Error{Key: "vuln.sla_days", Msg: "a more severe level must not have a longer SLA (critical ≤ high ≤ medium ≤ low)"}
	}
	if c.Vuln.EPSSThreshold < 0 || c.Vuln.EPSSThreshold > 1 {
		return &Error{Key: "vuln.epss_threshold", Msg: "must be between 0 and 1"}
	}
	if c.Vuln.MaxTextBytes < 256 || c.Vuln.MaxTextBytes > 1<<20 {
		return &Error{Key: "vuln.max_text_bytes", Msg: fmt.Sprintf("must be between 256 and 1048576 (1 MiB), got %d", c.Vuln.MaxTextBytes)}
	}
	durations := []struct {
		key string
		v   interface{ Seconds() float64 }
	}{
		{"server.shutdown_timeout", c.Server.ShutdownTimeout},
		{"server.database_lock_wait", c.Server.DatabaseLockWait},
		{"ledger.checkpoint_interval", c.Ledger.CheckpointInterval},
		{"auth.session_ttl", c.Auth.SessionTTL},
		{"auth.sign_in_window", c.Auth.SignInWindow},
		{"controls.interval", c.Controls.Interval},
		{"change.sync_interval", c.Change.SyncInterval},
		{"backup.collect_interval", c.Backup.CollectInterval},
		{"backup.drill_check_interval", c.Backup.DrillCheckInterval},
		{"capacity.check_interval", c.Capacity.CheckInterval},
		{"capacity.trend_window", c.Capacity.TrendWindow},
		{"capacity.raw_window", c.Capacity.RawWindow},
		{"capacity.report_interval", c.Capacity.ReportInterval},
		{"capacity.alert_after", c.Capacity.AlertAfter},
	}
	for _, d := range durations {
		if d.v.Seconds() <= 0 {
			return &Error{Key: d.key, Msg: "must be a positive duration such as 30s, 15m or 24h"}
		}
	}
	for _, p := range []struct {
		key string
		v   float64
	}{
		{"capacity.cpu_percent", c.Capacity.CPUPercent},
		{"capacity.memory_percent", c.Capacity.MemoryPercent},
		{"capacity.disk_percent", c.Capacity.DiskPercent},
		{"capacity.inode_percent", c.Capacity.InodePercent},
		{"capacity.warning.cpu_percent", c.Capacity.Warning.CPUPercent},
		{"capacity.warning.memory_percent", c.Capacity.Warning.MemoryPercent},
		{"capacity.warning.disk_percent", c.Capacity.Warning.DiskPercent},
		{"capacity.warning.inode_percent", c.Capacity.Warning.InodePercent},
		{"capacity.hysteresis_percent", c.Capacity.HysteresisPercent},
	} {
		if p.v <= 0 || p.v > 100 {
			return &Error{Key: p.key, Msg: fmt.Sprintf("must be a percentage in (0, 100], got %g", p.v)}
		}
	}
	if err := c.Capacity.Prometheus.check(); err != nil {
		return err
	}
	if (c.Server.TLSCertFile == "") != (c.Server.TLSKeyFile == "") {
		return &Error{Key: "server.tls_cert_file", Msg: "tls_cert_file and tls_key_file must be set together"}
	}
	if c.Server.Database != "" && !IsPostgresURL(c.Server.Database) {
		return &Error{Key: "server.database", Msg: "must be a postgres:// or postgresql:// URL (leave empty for SQLite in data_dir)"}
	}
	if c.Ledger.WitnessURL != "" {
		if u, err := url.Parse(c.Ledger.WitnessURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return &Error{Key: "ledger.witness_url", Msg: "must be an http or https URL"}
		}
	}
	if c.Ledger.WitnessPublicKey != "" {
		if _, err := note.NewVerifier(strings.TrimSpace(c.Ledger.WitnessPublicKey)); err != nil {
			return &Error{Key: "ledger.witness_public_key", Msg: "must be a note verifier key (name+hash+key), as opsguard witness serve prints it"}
		}
	}
	if err := c.validateSecrets(); err != nil {
		return err
	}
	if err := validateDataSets(c.Backup.DataSets); err != nil {
		return err
	}
	return c.Notifications.validate()
}

// validateSecrets keeps the secrets directory apart from the rest of the
// data: a secret's name must never reach the ledger key or the database.
func (c Config) validateSecrets() error {
	if err := egress.Check(c.Change.AllowedHosts); err != nil {
		return &Error{Key: "change.allowed_hosts", Msg: err.Error()}
	}
	dir, err := filepath.Abs(c.SecretsDir())
	if err != nil {
		return &Error{Key: "server.secrets_dir", Msg: err.Error()}
	}
	for _, other := range []struct{ what, path string }{
		{"the data directory", c.Server.DataDir}, {"the ledger key", c.KeyFile()}, {"the secrets key", c.SecretsKeyFile()},
	} {
		p, err := filepath.Abs(other.path)
		if err != nil {
			continue
		}
		if p == dir || strings.HasPrefix(p, dir+string(os.PathSeparator)) {
			return &Error{Key: "server.secrets_dir", Msg: "must not hold " + other.what + ": give the secrets a directory of their own"}
		}
	}
	return nil
}

func (n Notifications) validate() error {
	if n.DeadAfterDays < 1 || n.DeadAfterDays > 365 {
		return &Error{Key: "notifications.dead_after_days", Msg: fmt.Sprintf("must be between 1 and 365 days, got %d", n.DeadAfterDays)}
	}
	names := map[string]bool{}
	for i, ch := range n.Channels {
		key := fmt.Sprintf("notifications.channels[%d]", i)
		switch {
		case ch.Name == "":
			return &Error{Key: key + ".name", Msg: "a channel needs a name"}
		case names[ch.Name]:
			return &Error{Key: key + ".name", Msg: fmt.Sprintf("channel %q is defined twice", ch.Name)}
		}
		names[ch.Name] = true
		switch ch.Type {
		case "webhook":
			if ch.URL == "" || ch.SecretFile == "" {
				return &Error{Key: key, Msg: "a webhook channel needs url and secret_file"}
			}
		case "email":
			if ch.SMTPAddr == "" || ch.From == "" || len(ch.To) == 0 {
				return &Error{Key: key, Msg: "an email channel needs smtp_addr, from and to"}
			}
		default:
			return &Error{Key: key + ".type", Msg: fmt.Sprintf("unknown channel type %q (want webhook or email)", ch.Type)}
		}
	}
	for kind, chans := range n.Routes {
		for _, c := range chans {
			if !names[c] {
				return &Error{Key: "notifications.routes", Msg: fmt.Sprintf("route %q names unknown channel %q", kind, c)}
			}
		}
	}
	return nil
}

// IsPostgresURL reports whether s names a PostgreSQL database.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// ApplyEnv overrides the data directory, listen address and database URL
// from OPSGUARD_DATA_DIR, OPSGUARD_LISTEN and OPSGUARD_DATABASE_URL.
func (c *Config) ApplyEnv(getenv func(string) string) {
	if v := getenv("OPSGUARD_DATA_DIR"); v != "" {
		c.Server.DataDir = v
	}
	if v := getenv("OPSGUARD_LISTEN"); v != "" {
		c.Server.Listen = v
	}
	if v := getenv("OPSGUARD_DATABASE_URL"); v != "" {
		c.Server.Database = v
	}
}

// ReposDir is where repository mirrors live: change.repos_dir, or
// <data_dir>/repos.
func (c Config) ReposDir() string {
	if c.Change.ReposDir != "" {
		return c.Change.ReposDir
	}
	return c.Server.DataDir + string(os.PathSeparator) + "repos"
}

// SecretsDir is where the secrets a repository names live:
// server.secrets_dir, or <data_dir>/secrets.
func (c Config) SecretsDir() string {
	if c.Server.SecretsDir != "" {
		return c.Server.SecretsDir
	}
	return filepath.Join(c.Server.DataDir, "secrets")
}

// SecretsKeyFile is the key that seals the secrets sent through the API,
// beside the ledger key.
func (c Config) SecretsKeyFile() string {
	return filepath.Join(filepath.Dir(c.KeyFile()), "secrets.key")
}

// KeyFile is the ledger signing key's path, defaulting into the data directory.
func (c Config) KeyFile() string {
	if c.Ledger.KeyFile != "" {
		return c.Ledger.KeyFile
	}
	return c.Server.DataDir + string(os.PathSeparator) + "ledger.key"
}

// checkProxies checks that every trusted proxy is an IP address or a CIDR range.
func checkProxies(ps []string) error {
	for i, p := range ps {
		if _, err := ParseProxy(p); err != nil {
			return &Error{Key: fmt.Sprintf("server.trusted_proxies[%d]", i), Msg: err.Error()}
		}
	}
	return nil
}

// ParseProxy reads a trusted proxy: an IP address (a range of one) or a
// CIDR range such as 10.0.0.0/8.
func ParseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR range such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or a CIDR range", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ScratchDir is where restore drills restore: backup.scratch_dir, or
// <data_dir>/scratch.
func (c Config) ScratchDir() string {
	if c.Backup.ScratchDir != "" {
		return c.Backup.ScratchDir
	}
	return filepath.Join(c.Server.DataDir, "scratch")
}

var promName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// check checks the Prometheus of capacity: a URL when queries are named,
// each query named once, with an expression.
func (p CapacityPrometheus) check() error {
	if p.URL == "" && len(p.Queries) == 0 {
		return nil
	}
	if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &Error{Key: "capacity.prometheus.url", Msg: fmt.Sprintf("%q: want http(s)://host[:port]", p.URL)}
	}
	seen := map[string]bool{}
	for i, q := range p.Queries {
		key := fmt.Sprintf("capacity.prometheus.queries[%d]", i)
		switch {
		case !promName.MatchString(q.Name) || seen[q.Name]:
			return &Error{Key: key + ".name", Msg: fmt.Sprintf("%q: a unique name of letters, digits, '.', '_' or '-'", q.Name)}
		case strings.TrimSpace(q.Expr) == "":
			return &Error{Key: key + ".expr", Msg: "a PromQL expression is needed"}
		case q.Critical != 0 && q.Warning > q.Critical:
			return &Error{Key: key + ".warning", Msg: "must not exceed critical"}
		}
		seen[q.Name] = true
	}
	return nil
}

// checkAttestRoles: each key a requirement of the catalog or "*", each
// role one that may attest at all.
func checkAttestRoles(m map[string][]string) error {
	for _, req := range slices.Sorted(maps.Keys(m)) {
		key := "governance.attest_roles." + req
		if _, ok := control.RequirementByID(req); !ok && req != "*" {
			return &Error{Key: key, Msg: fmt.Sprintf("unknown requirement %q: an ID of the catalog (CM-1 … GV-5) or *", req)}
		}
		if len(m[req]) == 0 {
			return &Error{Key: key, Msg: "names no role: leave the requirement out to use *"}
		}
		for _, r := range m[req] {
			if !auth.Role(r).Can(auth.Attest) {
				return &Error{Key: key, Msg: fmt.Sprintf("role %q may not attest at all (requirements.attest)", r)}
			}
		}
	}
	return nil
}
