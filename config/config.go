// Package config holds opsguard's process config: every number the
// Operations Security policy names (SLAs, retention, intervals,
// tolerances) plus the settings of the server itself. A missing file or a
// missing key means the policy's default; an unknown key or a value of the
// wrong type is an error that names the file, the line and the key.
package config

import (
	"time"
)

// Config is the whole process config.
type Config struct {
	Server        Server        `yaml:"server" json:"server"`
	Ledger        Ledger        `yaml:"ledger" json:"ledger"`
	Auth          Auth          `yaml:"auth" json:"auth"`
	Controls      Controls      `yaml:"controls" json:"controls"`
	Change        Change        `yaml:"change" json:"change"`
	Backup        Backup        `yaml:"backup" json:"backup"`
	Capacity      Capacity      `yaml:"capacity" json:"capacity"`
	Configuration Configuration `yaml:"configuration" json:"configuration"`
	Logging       Logging       `yaml:"logging" json:"logging"`
	Vuln          Vuln          `yaml:"vuln" json:"vuln"`
	Governance    Governance    `yaml:"governance" json:"governance"`
	Notifications Notifications `yaml:"notifications" json:"notifications"`
}

// Server is where opsguard keeps its data and how it listens.
type Server struct {
	// DataDir holds the SQLite database, the evidence and, by default, the
	// ledger key. Env: OPSGUARD_DATA_DIR.
	DataDir string `yaml:"data_dir" json:"data_dir"`
	// Listen is the HTTP listen address. Env: OPSGUARD_LISTEN.
	Listen string `yaml:"listen" json:"listen"`
	// Database is a postgres:// URL; empty means SQLite in DataDir.
	// Env: OPSGUARD_DATABASE_URL.
	Database string `yaml:"database" json:"database"`
	// TLSCertFile and TLSKeyFile switch the listener to HTTPS when both are set.
	TLSCertFile string `yaml:"tls_cert_file" json:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file" json:"tls_key_file"`
	// SecureCookies marks session cookies Secure. Unset means Secure on
	// every request but plain HTTP to a loopback address (the first-run
	// setup), where browsers would otherwise drop the cookie.
	SecureCookies *bool `yaml:"secure_cookies" json:"secure_cookies"`
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" json:"shutdown_timeout"`
	// TrustedProxies lists the reverse proxies (IP addresses or CIDR
	// ranges) whose X-Forwarded-For names the client; from anyone else the
	// header is ignored, so a client cannot choose its own address.
	TrustedProxies []string `yaml:"trusted_proxies" json:"trusted_proxies"`
	// SecretsDir holds the secrets a repository names (a forge's token),
	// one file per secret. Default <data_dir>/secrets, created mode 0700.
	SecretsDir string `yaml:"secrets_dir" json:"secrets_dir"`
	// DatabaseLockWait bounds how long a write waits for SQLite's write
	// lock while another process (the server, a CLI command) holds it; the
	// wait is reported every few seconds meanwhile.
	DatabaseLockWait time.Duration `yaml:"database_lock_wait" json:"database_lock_wait"`
}

// Ledger configures the tamper-evident ledger.
type Ledger struct {
	// KeyFile is the Ed25519 note signing key. Default <data_dir>/ledger.key;
	// the public key is written beside it as ledger.pub and the newest
	// checkpoint as ledger.checkpoint, so that it may live apart from the data.
	KeyFile string `yaml:"key_file" json:"key_file"`
	// CheckpointInterval is how often the server re-publishes the newest
	// checkpoint even without writes.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval" json:"checkpoint_interval"`
	// WitnessURL, when set, is an opsguard witness (opsguard witness serve)
	// that cosigns every new checkpoint; verify checks the ledger against
	// the newest one it holds.
	WitnessURL string `yaml:"witness_url" json:"witness_url"`
	// WitnessPublicKey is the witness's public key (the text it prints at
	// start): when set, the checkpoint the witness answers must carry its
	// cosignature.
	WitnessPublicKey string `yaml:"witness_public_key" json:"witness_public_key"`
}

// Auth configures sign-in and sessions.
type Auth struct {
	SessionTTL time.Duration `yaml:"session_ttl" json:"session_ttl"`
	// MaxFailedSignIns within SignInWindow per user name from one client
	// address; more attempts are refused until the window passes.
	MaxFailedSignIns int           `yaml:"max_failed_sign_ins" json:"max_failed_sign_ins"`
	SignInWindow     time.Duration `yaml:"sign_in_window" json:"sign_in_window"`
	// TokenTTLDays is the default lifetime of a new API token; 0 means none.
	TokenTTLDays int `yaml:"token_ttl_days" json:"token_ttl_days"`
	// MaxFailedSignInsPerUser within SignInWindow per user name from any
	// address (guessing one password from many addresses).
	MaxFailedSignInsPerUser int `yaml:"max_failed_sign_ins_per_user" json:"max_failed_sign_ins_per_user"`
	// MaxFailedSignInsPerAddress within SignInWindow per client address for
	// any user names: much higher, since a proxy or an office NAT puts many
	// people behind one address.
	MaxFailedSignInsPerAddress int `yaml:"max_failed_sign_ins_per_address" json:"max_failed_sign_ins_per_address"`
}

// Controls configures the control engine's schedule.
type Controls struct {
	// Interval between scheduled runs of every control (GV-3).
	Interval time.Duration `yaml:"interval" json:"interval"`
}

// Change holds the numbers of CM-1 … CM-10.
type Change struct {
	// PostFactoReviewBusinessDays is the window for reviewing an emergency change (CM-7).
	PostFactoReviewBusinessDays int `yaml:"post_facto_review_business_days" json:"post_facto_review_business_days"`
	// SyncInterval between scheduled syncs of every watched repository.
	SyncInterval time.Duration `yaml:"sync_interval" json:"sync_interval"`
	// WebhookSecretFile holds the secret shared with GitHub and GitLab
	// webhooks (GitHub signs with it, GitLab sends it as a token). Without
	// it the webhook endpoints refuse every delivery.
	WebhookSecretFile string `yaml:"webhook_secret_file" json:"webhook_secret_file"`
	// ReposDir is where the mirrors of watched repositories are kept.
	// Default <data_dir>/repos.
	ReposDir string `yaml:"repos_dir" json:"repos_dir"`
	// AllowedHosts are the hosts (names, addresses, CIDR prefixes) a
	// repository or a forge's API may be on although they are loopback,
	// link-local or private; plain http to a forge's API is allowed only
	// to them.
	AllowedHosts []string `yaml:"allowed_hosts" json:"allowed_hosts"`
	// AllowLocalRepos accepts local paths and file:// URLs from API
	// callers too, not only from the in-process CLI.
	AllowLocalRepos bool `yaml:"allow_local_repos" json:"allow_local_repos"`
}

// Backup holds the numbers of BK-1 … BK-7.
type Backup struct {
	MaxAgeHours                  int `yaml:"max_age_hours" json:"max_age_hours"`                                     // BK-1
	RetentionDays                int `yaml:"retention_days" json:"retention_days"`                                   // BK-2
	OffsiteCopies                int `yaml:"offsite_copies" json:"offsite_copies"`                                   // BK-3
	RestoreTestIntervalDays      int `yaml:"restore_test_interval_days" json:"restore_test_interval_days"`           // BK-4
	TabletopExerciseIntervalDays int `yaml:"tabletop_exercise_interval_days" json:"tabletop_exercise_interval_days"` // BK-6
	// CollectInterval between scheduled readings of every copy's snapshots.
	CollectInterval time.Duration `yaml:"collect_interval" json:"collect_interval"`
	// AllowLocalRepos accepts local paths (a restic repository, a dump
	// directory) from API callers too, not only from the in-process CLI.
	AllowLocalRepos bool `yaml:"allow_local_repos" json:"allow_local_repos"`
	// ScratchDir is where restore drills restore (default
	// <data_dir>/scratch); ScratchPostgres the PostgreSQL server
	// (postgres:// URL) that receives a pg_dump drill's scratch database.
	ScratchDir      string `yaml:"scratch_dir" json:"scratch_dir"`
	ScratchPostgres string `yaml:"scratch_postgres" json:"-"`
	// DrillCheckInterval between the job's looks for data sets due a drill.
	DrillCheckInterval time.Duration `yaml:"drill_check_interval" json:"drill_check_interval"`
	// DataSets are declared here as well as through the CLI, API and UI;
	// the server creates the missing ones at start (see DataSet).
	DataSets []DataSet `yaml:"datasets" json:"datasets,omitempty"`
}

// Capacity holds the thresholds of CP-1 … CP-3.
type Capacity struct {
	CheckInterval    time.Duration `yaml:"check_interval" json:"check_interval"`
	CPUPercent       float64       `yaml:"cpu_percent" json:"cpu_percent"`
	MemoryPercent    float64       `yaml:"memory_percent" json:"memory_percent"`
	DiskPercent      float64       `yaml:"disk_percent" json:"disk_percent"`
	InodePercent     float64       `yaml:"inode_percent" json:"inode_percent"`
	DiskFullWarnDays int           `yaml:"disk_full_warn_days" json:"disk_full_warn_days"`
	AlertAfter       time.Duration `yaml:"alert_after" json:"alert_after"`
	// The percentages above are the critical levels; Warning holds the
	// warning levels, Groups both for the hosts of a group.
	Warning CapacityLevels           `yaml:"warning" json:"warning"`
	Groups  map[string]CapacityGroup `yaml:"groups" json:"groups,omitempty"`
	// HysteresisPercent is how far below its threshold a value must fall
	// for an alert to resolve.
	HysteresisPercent float64 `yaml:"hysteresis_percent" json:"hysteresis_percent"`
	// TrendWindow is the span of the days-until-full fit; RawWindow how
	// long every report is kept before only hourly aggregates remain.
	TrendWindow time.Duration `yaml:"trend_window" json:"trend_window"`
	RawWindow   time.Duration `yaml:"raw_window" json:"raw_window"`
	// ReportInterval is the agents' interval: a host silent for three
	// fails CP-1.
	ReportInterval time.Duration `yaml:"report_interval" json:"report_interval"`
	// Prometheus is queried every check_interval for the named metrics.
	Prometheus CapacityPrometheus `yaml:"prometheus" json:"prometheus"`
}

// CapacityPrometheus names a Prometheus and the PromQL expressions whose
// series are hosts' metrics.
type CapacityPrometheus struct {
	URL     string      `yaml:"url" json:"url,omitempty"`
	Queries []PromQuery `yaml:"queries" json:"queries,omitempty"`
}

// PromQuery is one named expression: each series of its answer is the
// value of the host named by its host_label, checked against warning and
// critical (when set).
type PromQuery struct {
	Name      string  `yaml:"name" json:"name"`
	Expr      string  `yaml:"expr" json:"expr"`
	HostLabel string  `yaml:"host_label" json:"host_label,omitempty"`
	Warning   float64 `yaml:"warning" json:"warning,omitempty"`
	Critical  float64 `yaml:"critical" json:"critical,omitempty"`
}

// CapacityLevels are percentages, one per metric.
type CapacityLevels struct {
	CPUPercent    float64 `yaml:"cpu_percent" json:"cpu_percent"`
	MemoryPercent float64 `yaml:"memory_percent" json:"memory_percent"`
	DiskPercent   float64 `yaml:"disk_percent" json:"disk_percent"`
	InodePercent  float64 `yaml:"inode_percent" json:"inode_percent"`
}

// CapacityGroup is the thresholds of a host group.
type CapacityGroup struct {
	Warning  CapacityLevels `yaml:"warning" json:"warning"`
	Critical CapacityLevels `yaml:"critical" json:"critical"`
}

// Configuration holds the numbers of CF-1 … CF-5.
type Configuration struct {
	ClockMaxOffsetMS int `yaml:"clock_max_offset_ms" json:"clock_max_offset_ms"` // CF-3
}

// Logging holds the numbers of LG-1 … LG-4.
type Logging struct {
	RetentionDays int `yaml:"retention_days" json:"retention_days"` // LG-2
	// EventsIntervalMinutes is how often a production host must ship
	// security events or a heartbeat batch (LG-1).
	EventsIntervalMinutes int `yaml:"events_interval_minutes" json:"events_interval_minutes"`
	// FailedSignIns failed SSH sign-ins from one address within
	// FailedSignInWindowMinutes raise one alert (0: never).
	FailedSignIns             int  `yaml:"failed_sign_ins" json:"failed_sign_ins"`
	FailedSignInWindowMinutes int  `yaml:"failed_sign_in_window_minutes" json:"failed_sign_in_window_minutes"`
	RootLoginAlert            bool `yaml:"root_login_alert" json:"root_login_alert"`
	// SyslogListen is the TCP address the server accepts RFC 5424 and
	// 3164 syslog on (octet counting or LF framing); empty: none.
	SyslogListen string `yaml:"syslog_listen" json:"syslog_listen"`
}

// Vuln holds the numbers of VM-1 … VM-8.
type Vuln struct {
	SLADays                        SLADays `yaml:"sla_days" json:"sla_days"` // VM-3
	ScanIntervalDays               int     `yaml:"scan_interval_days" json:"scan_interval_days"`
	ExternalAssessmentIntervalDays int     `yaml:"external_assessment_interval_days" json:"external_assessment_interval_days"` // VM-1
	EPSSThreshold                  float64 `yaml:"epss_threshold" json:"epss_threshold"`                                       // VM-6
	EscalationReminderDays         int     `yaml:"escalation_reminder_days" json:"escalation_reminder_days"`                   // VM-4
	// MaxConcurrentImports bounds the reports imported at once by this
	// process; one more is answered 429.
	MaxConcurrentImports int `yaml:"max_concurrent_imports" json:"max_concurrent_imports"`
	// MaxTextBytes bounds a title or description taken from a report
	// (at most 1 MiB); a longer one is stored cut, and marked cut.
	MaxTextBytes int `yaml:"max_text_bytes" json:"max_text_bytes"`
}

// SLADays is the remediation SLA per severity, in days.
type SLADays struct {
	Critical int `yaml:"critical" json:"critical"`
	High     int `yaml:"high" json:"high"`
	Medium   int `yaml:"medium" json:"medium"`
	Low      int `yaml:"low" json:"low"`
}

// Governance holds the numbers of GV-1 … GV-5.
type Governance struct {
	ReviewIntervalDays    int    `yaml:"review_interval_days" json:"review_interval_days"`     // GV-2
	DefaultClassification string `yaml:"default_classification" json:"default_classification"` // GV-5
	// Company is the name the policy documents are written for.
	Company string `yaml:"company" json:"company"`
	// ReviewNoticeDays is how long before a document's review date
	// policy.review_due is sent.
	ReviewNoticeDays int `yaml:"review_notice_days" json:"review_notice_days"`
	// FeedMaxAgeDays is the oldest a KEV or EPSS import may be (VM-8).
	FeedMaxAgeDays int `yaml:"feed_max_age_days" json:"feed_max_age_days"`
	// AttestationMaxDays is the longest an attestation may stay valid.
	AttestationMaxDays int `yaml:"attestation_max_days" json:"attestation_max_days"`
	// MaxEvidenceBytes bounds the evidence files of one attestation.
	MaxEvidenceBytes int `yaml:"max_evidence_bytes" json:"max_evidence_bytes"`
	// AttestRoles names the roles that may attest each requirement (by
	// ID; "*" for every other). A role must hold requirements.attest.
	AttestRoles map[string][]string `yaml:"attest_roles" json:"attest_roles"`
}

// Notifications names the channels and which event kinds go where.
type Notifications struct {
	Channels []Channel `yaml:"channels" json:"channels"`
	// Routes maps an event kind (or "*" for every other kind) to channel names.
	Routes map[string][]string `yaml:"routes" json:"routes"`
	// DeadAfterDays is how long a notification is retried before it is
	// declared dead.
	DeadAfterDays int `yaml:"dead_after_days" json:"dead_after_days"`
}

// Channel is one notification channel. Secrets are read from files so that
// the config itself can be shared.
type Channel struct {
	Name string `yaml:"name" json:"name"`
	Type string `yaml:"type" json:"type"` // webhook | email
	// Webhook
	URL        string `yaml:"url" json:"url,omitempty"`
	SecretFile string `yaml:"secret_file" json:"secret_file,omitempty"`
	// Email
	SMTPAddr     string   `yaml:"smtp_addr" json:"smtp_addr,omitempty"`
	From         string   `yaml:"from" json:"from,omitempty"`
	To           []string `yaml:"to" json:"to,omitempty"`
	Username     string   `yaml:"username" json:"username,omitempty"`
	PasswordFile string   `yaml:"password_file" json:"password_file,omitempty"`
}

// Default returns the policy's defaults (../shared/policy/REQUIREMENTS.md).
func Default() Config {
	return Config{
		Server: Server{
			DataDir:          "./opsguard-data",
			Listen:           "127.0.0.1:8080",
			ShutdownTimeout:  15 * time.Second,
			DatabaseLockWait: 5 * time.Minute,
		},
		Ledger:   Ledger{CheckpointInterval: time.Minute},
		Auth:     Auth{SessionTTL: 12 * time.Hour, MaxFailedSignIns: 5, SignInWindow: 15 * time.Minute, TokenTTLDays: 365, MaxFailedSignInsPerUser: 20, MaxFailedSignInsPerAddress: 100},
		Controls: Controls{Interval: 24 * time.Hour},
		Change:   Change{PostFactoReviewBusinessDays: 3, SyncInterval: 15 * time.Minute},
		Backup: Backup{
			MaxAgeHours: 26, RetentionDays: 7, OffsiteCopies: 1,
			RestoreTestIntervalDays: 365, TabletopExerciseIntervalDays: 365,
			CollectInterval: time.Hour, DrillCheckInterval: time.Hour,
		},
		Capacity: Capacity{
			CheckInterval: time.Minute, CPUPercent: 90, MemoryPercent: 90,
			DiskPercent: 85, InodePercent: 85, DiskFullWarnDays: 14, AlertAfter: 5 * time.Minute,
			Warning:           CapacityLevels{CPUPercent: 80, MemoryPercent: 80, DiskPercent: 75, InodePercent: 75},
			HysteresisPercent: 5, TrendWindow: 7 * 24 * time.Hour, RawWindow: 48 * time.Hour, ReportInterval: time.Minute,
		},
		Configuration: Configuration{ClockMaxOffsetMS: 100},
		Logging:       Logging{RetentionDays: 365, EventsIntervalMinutes: 60, FailedSignIns: 5, FailedSignInWindowMinutes: 10, RootLoginAlert: true},
		Vuln: Vuln{
			SLADays:                        SLADays{Critical: 7, High: 30, Medium: 90, Low: 180},
			ScanIntervalDays:               7,
			ExternalAssessmentIntervalDays: 365,
			EPSSThreshold:                  0.1,
			EscalationReminderDays:         7,
			MaxConcurrentImports:           2,
			MaxTextBytes:                   64 << 10,
		},
		Governance: Governance{ReviewIntervalDays: 365, DefaultClassification: "Company Internal", Company: "the company",
			ReviewNoticeDays: 30, FeedMaxAgeDays: 7, AttestationMaxDays: 365, MaxEvidenceBytes: 10 << 20,
			// Those who run the test environment, the vendor products and the
			// feeds attest them; the security officer reviews.
			AttestRoles: map[string][]string{
				"*":     {"security_officer", "engineering_head", "infra_ops"},
				"CM-9":  {"engineering_head", "infra_ops"},
				"CM-10": {"engineering_head", "infra_ops"},
				"VM-8":  {"security_officer", "infra_ops"},
			}},
		Notifications: Notifications{DeadAfterDays: 3},
	}
}
