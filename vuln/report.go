package vuln

// Reported is one vulnerability (or weakness, or misconfiguration) at one
// place, as a report states it: what an import makes a Finding of, or
// merges into one.
type Reported struct {
	// VulnID is the vulnerability's main identifier: a CVE when the report
	// gives one, else the tool's (GHSA-…, GO-…, a SARIF rule id, a pentest
	// reference).
	VulnID string
	// Aliases are the other identifiers of the same vulnerability, so that
	// CVE, GHSA, GO- and OSV ids of it merge into one finding.
	Aliases     []string
	Title       string
	Description string
	Severity    Severity
	// SeveritySource says where Severity came from when the tool did not
	// state one plainly ("cvss", "assumed: tool said UNKNOWN").
	SeveritySource string
	CVSSScore      float64 // 0 when absent
	CVSSVector     string
	// Package and Version name the affected component (a purl when the
	// report gives one, else ecosystem/name); empty for code findings.
	Package      string
	Version      string
	FixedVersion string
	// Location is a code location (path:line) for static analysis,
	// secrets and misconfigurations; empty for package findings.
	Location string
	// Target is the part of the scanned asset the finding was seen in
	// (an image layer's file, a lockfile, a Kubernetes resource), when the
	// report covers several.
	Target     string
	References []string
	// TitleCut and DescriptionCut say that the register cut the text, longer
	// than it keeps (vuln.max_text_bytes).
	TitleCut, DescriptionCut bool
	// Asset is the asset the finding is on when the report names one
	// finding by finding (an assessment's rows), so that it wins over the
	// asset the import is given; empty for the report's asset.
	Asset string
}

// Key is what makes a finding one finding within an asset: the
// vulnerability and the affected package or code location.
func (f Reported) Key() string {
	return f.VulnID + "|" + f.Package + "|" + f.Location
}

// Statement is a VEX statement about a vulnerability in a product
// (OpenVEX, CycloneDX analysis).
type Statement struct {
	VulnID        string
	Aliases       []string
	Product       string // purl or asset name
	Status        string // not_affected, affected, fixed, under_investigation
	Justification string // e.g. vulnerable_code_not_in_execute_path
	Impact        string // impact statement
	Action        string // action statement
}

// Report is a parsed report.
type Report struct {
	Format      string // the importer's name: trivy, grype, osv, sarif, …
	Tool        string // the tool that produced it, e.g. "Trivy", "CodeQL"
	ToolVersion string
	// Target is what the report says was scanned (an image, a path, a
	// repository, a URL); the importing user may name the asset otherwise.
	Target string
	// Complete is true when the report lists every finding of the target
	// (a full scan), so that a finding absent from it may be closed as
	// fixed. Assessments and VEX documents are not complete scans.
	Complete   bool
	Findings   []Reported
	Statements []Statement
}
