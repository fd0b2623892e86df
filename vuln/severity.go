package vuln

import "strings"

// Severity is a normalised severity.
type Severity string

// The severities of the register, most severe first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// Severities lists them, most severe first.
var Severities = []Severity{Critical, High, Medium, Low, Info}

// ParseSeverity normalises a tool's severity word (any case): critical,
// high, medium/moderate, low, info/informational/negligible/none/note
// (SARIF), error/warning (SARIF levels). ok is false for anything else.
func ParseSeverity(s string) (Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return Critical, true
	case "high", "error":
		return High, true
	case "medium", "moderate", "warning":
		return Medium, true
	case "low":
		return Low, true
	case "info", "informational", "negligible", "none", "note":
		return Info, true
	}
	return "", false
}

// SeverityFromCVSS maps a CVSS v3 base score onto the severities (FIRST's
// qualitative scale).
func SeverityFromCVSS(score float64) Severity {
	switch {
	case score >= 9:
		return Critical
	case score >= 7:
		return High
	case score >= 4:
		return Medium
	case score > 0:
		return Low
	}
	return Info
}

// Intel is what a threat feed says of one CVE.
type Intel struct {
	CVE        string
	KEVAdded   string  // CISA KEV dateAdded (YYYY-MM-DD); "" when not listed
	EPSS       float64 // FIRST EPSS probability, 0..1; -1 when not given
	Percentile float64
}

// Feed is a parsed threat feed.
type Feed struct {
	Kind    string // "kev" or "epss"
	Version string // KEV catalogVersion, EPSS model_version
	Entries []Intel
}
