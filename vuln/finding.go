package vuln

import (
	"fmt"
	"time"

	"github.com/opsguard/opsguard/config"
)

// Status is where a finding is in its life.
type Status string

// The statuses.
const (
	Open       Status = "open"
	InProgress Status = "in_progress"
	Closed     Status = "closed"
)

// Resolution is how a closed finding ended (VM-5).
type Resolution string

// The policy's four resolutions.
const (
	Fixed             Resolution = "fixed"
	FalsePositive     Resolution = "false_positive"
	NotAffectedUnused Resolution = "not_affected_unused"
	RiskAccepted      Resolution = "risk_accepted"
)

// Risk is the policy's category (VM-6).
type Risk string

// The risk categories.
const (
	RiskHigh   Risk = "high"
	RiskMedium Risk = "medium"
	RiskLow    Risk = "low"
)

// Asset is what findings are found on: an image, a repository, a host, an
// application, a URL.
type Asset struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	CreatedAt time.Time `json:"created_at"`
}

// AssetKinds are the kinds of asset.
var AssetKinds = []string{"image", "repository", "host", "application", "url", "other"}

// Scan is one imported report.
type Scan struct {
	ID          string    `json:"id"`
	AssetID     string    `json:"asset_id"`
	Format      string    `json:"format"`
	Tool        string    `json:"tool"`
	ToolVersion string    `json:"tool_version"`
	Target      string    `json:"target"`
	Complete    bool      `json:"complete"`
	Evidence    string    `json:"evidence"` // sha256:… of the raw report
	Findings    int       `json:"findings"`
	Statements  int       `json:"statements"` // VEX statements in the report; -1: imported before they were counted
	ImportedAt  time.Time `json:"imported_at"`
	ImportedBy  string    `json:"imported_by"`
	// Repeats is the scan this one repeats byte for byte, whose tool rows
	// its findings keep: empty for a scan imported in full.
	Repeats string `json:"repeats,omitempty"`
}

// Finding is one vulnerability at one place of one asset.
type Finding struct {
	ID           string     `json:"id"`
	AssetID      string     `json:"asset_id"`
	Asset        string     `json:"asset"`
	VulnID       string     `json:"vuln_id"`
	Aliases      []string   `json:"aliases"`
	Package      string     `json:"package,omitempty"`
	Version      string     `json:"version,omitempty"`
	FixedVersion string     `json:"fixed_version,omitempty"`
	Location     string     `json:"location,omitempty"`
	Target       string     `json:"target,omitempty"`
	Title        string     `json:"title"`
	Description  string     `json:"description,omitempty"`
	Severity     Severity   `json:"severity"`
	SeverityNote string     `json:"severity_note,omitempty"`
	CVSSScore    float64    `json:"cvss_score,omitempty"`
	CVSSVector   string     `json:"cvss_vector,omitempty"`
	Risk         Risk       `json:"risk"`
	RiskNote     string     `json:"risk_note"` // the SLA in force and why
	Status       Status     `json:"status"`
	Resolution   Resolution `json:"resolution,omitempty"`
	FirstSeen    time.Time  `json:"first_seen"`
	LastSeen     time.Time  `json:"last_seen"`
	SLADays      int        `json:"sla_days"`
	DueAt        time.Time  `json:"due_at"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
	FixedByScan  string     `json:"fixed_by_scan,omitempty"`
	Regression   bool       `json:"regression"`
	Tools        []string   `json:"tools,omitempty"`
	// Justification is the written reason of a closing that needs one.
	Justification string `json:"justification,omitempty"`
	// AcceptedUntil is when an accepted risk's acceptance expires.
	AcceptedUntil *time.Time `json:"accepted_until,omitempty"`
	// ExtendedUntil is an approved extension's due date, which outlives a
	// later change of risk.
	ExtendedUntil *time.Time          `json:"extended_until,omitempty"`
	IDs           map[string]struct{} `json:"-"`

	// TitleCut and DescriptionCut say that the report's text was longer
	// than vuln.max_text_bytes and is stored cut; the report, kept whole as
	// evidence, holds all of it.
	TitleCut       bool `json:"title_cut,omitempty"`
	DescriptionCut bool `json:"description_cut,omitempty"`
}

// Breached reports whether the finding is open past its due date.
func (f Finding) Breached(now time.Time) bool {
	return f.Status != Closed && now.After(f.DueAt)
}

// sla is the remediation time of a severity level and the sentence that
// explains it.
func sla(days config.SLADays, sev Severity) (int, Risk, string) {
	switch sev {
	case Critical:
		return days.Critical, RiskHigh, fmt.Sprintf("critical severity: %d days (vuln.sla_days.critical)", days.Critical)
	case High:
		return days.High, RiskHigh, fmt.Sprintf("high severity: %d days (vuln.sla_days.high)", days.High)
	case Medium:
		return days.Medium, RiskMedium, fmt.Sprintf("medium severity: %d days (vuln.sla_days.medium)", days.Medium)
	case Low:
		return days.Low, RiskLow, fmt.Sprintf("low severity: %d days (vuln.sla_days.low)", days.Low)
	}
	return days.Low, RiskLow, fmt.Sprintf("informational: the low SLA of %d days (vuln.sla_days.low)", days.Low)
}

// raise is the next more severe level (critical stays critical).
func raise(s Severity) Severity {
	for i, x := range Severities {
		if x == s && i > 0 {
			return Severities[i-1]
		}
	}
	return s
}

// assess is the policy's risk of a finding (VM-6): its severity, raised
// one level when the vulnerability is known to be exploited (CISA KEV) or
// likely to be (EPSS at or above the threshold), with the SLA of that level
// and the sentence saying why.
func assess(cfg config.Vuln, sev Severity, intel []Intel) (int, Risk, string) {
	level, why := sev, ""
	for _, in := range intel {
		if in.KEVAdded != "" {
			level, why = raise(sev), fmt.Sprintf("%s is in CISA's Known Exploited Vulnerabilities (added %s)", in.CVE, in.KEVAdded)
			break
		}
	}
	if why == "" {
		for _, in := range intel {
			if in.EPSS >= 0 && in.EPSS >= cfg.EPSSThreshold {
				level, why = raise(sev), fmt.Sprintf("%s has an EPSS score of %.3f, at or above %.3f (vuln.epss_threshold)", in.CVE, in.EPSS, cfg.EPSSThreshold)
				break
			}
		}
	}
	days, risk, note := sla(cfg.SLADays, level)
	if why != "" {
		note = fmt.Sprintf("%s severity raised to %s because %s; %s", sev, level, why, note)
	}
	return days, risk, note
}
