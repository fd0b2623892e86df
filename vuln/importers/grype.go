package importers

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opsguard/opsguard/vuln"
)

// grypeImporter reads Grype's JSON report (grype -o json), in its current
// schema and in the one before 1.0 (cvssV3, links, fixedInVersion).
type grypeImporter struct{}

func init() { Register(grypeImporter{}) }

func (grypeImporter) Name() string { return "grype" }

// Detect needs "matches" and a second Grype key. descriptor and source
// come last in the file, past Sniff's window in a large report, so a
// match's own keys count too.
func (grypeImporter) Detect(data []byte) bool {
	if !Sniff(data, "matches") {
		return false
	}
	return Sniff(data, "descriptor") || Sniff(data, "source") || Sniff(data, "vulnerability", "artifact")
}

// The local structs hold only what opsguard reads.
type (
	grypeReport struct {
		Matches []grypeMatch `json:"matches"`
		Source  struct {
			// Target is an object with userInput (images), or a string.
			Target json.RawMessage `json:"target"`
		} `json:"source"`
		Descriptor struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"descriptor"`
	}
	grypeMatch struct {
		Vulnerability grypeVuln     `json:"vulnerability"`
		Related       []grypeVuln   `json:"relatedVulnerabilities"`
		Artifact      grypeArtifact `json:"artifact"`
	}
	grypeVuln struct {
		ID          string      `json:"id"`
		Severity    string      `json:"severity"`
		Description string      `json:"description"`
		DataSource  string      `json:"dataSource"`
		URLs        []string    `json:"urls"`
		CVSS        []grypeCVSS `json:"cvss"`
		Fix         struct {
			Versions []string `json:"versions"`
		} `json:"fix"`
		// The schema before 1.0.
		Links          []string      `json:"links"`
		CVSSv3         *grypeMetrics `json:"cvssV3"`
		FixedInVersion string        `json:"fixedInVersion"`
	}
	grypeCVSS struct {
		Version string       `json:"version"`
		Vector  string       `json:"vector"`
		Metrics grypeMetrics `json:"metrics"`
	}
	grypeMetrics struct {
		BaseScore float64 `json:"baseScore"`
		Vector    string  `json:"vector"` // only before 1.0
	}
	grypeArtifact struct {
		Name      string `json:"name"`
		Version   string `json:"version"`
		Type      string `json:"type"`
		PURL      string `json:"purl"`
		Locations []struct {
			Path string `json:"path"`
		} `json:"locations"`
	}
)

func (grypeImporter) Parse(name string, data []byte) (*vuln.Report, error) {
	var doc grypeReport
	if err := DecodeJSON(name, data, &doc); err != nil {
		return nil, err
	}
	target, ok := grypeTarget(doc.Source.Target)
	if !ok {
		return nil, Errorf(name, "source.target", "expected a string or an object with userInput")
	}
	r := &vuln.Report{
		Tool:        grypeTool(doc.Descriptor.Name),
		ToolVersion: doc.Descriptor.Version,
		Target:      target,
		Complete:    true,
		Findings:    make([]vuln.Reported, 0, len(doc.Matches)),
	}
	for i, m := range doc.Matches {
		f, err := grypeFinding(name, fmt.Sprintf("matches[%d]", i), m)
		if err != nil {
			return nil, err
		}
		r.Findings = append(r.Findings, f)
	}
	return r, nil
}

func grypeFinding(file, at string, m grypeMatch) (vuln.Reported, error) {
	v := m.Vulnerability
	if strings.TrimSpace(v.ID) == "" {
		return vuln.Reported{}, Errorf(file, at+".vulnerability.id", "the vulnerability has no id")
	}
	score, vector := m.cvss()
	if score < 0 || score > 10 {
		return vuln.Reported{}, Errorf(file, at+".vulnerability.cvss", "CVSS score %v is outside 0–10", score)
	}
	sev, source, ok := severityOrFallback(v.Severity, score)
	if !ok {
		return vuln.Reported{}, Errorf(file, at+".vulnerability.severity", "unknown severity %s; expected Critical, High, Medium, Low, Negligible or Unknown", quoteShort(v.Severity))
	}
	id, aliases := m.ids()
	return vuln.Reported{
		VulnID:         id,
		Aliases:        aliases,
		Description:    m.description(),
		Severity:       sev,
		SeveritySource: source,
		CVSSScore:      score,
		CVSSVector:     vector,
		Package:        cmp.Or(m.Artifact.PURL, ecosystemName(m.Artifact.Type, m.Artifact.Name)),
		Version:        m.Artifact.Version,
		FixedVersion:   cmp.Or(strings.Join(v.Fix.Versions, ", "), v.FixedInVersion),
		Target:         m.Artifact.path(),
		References:     CapReferences(nonEmptyUnique(append(append([]string{v.DataSource}, v.URLs...), v.Links...))),
	}, nil
}

// ids returns the finding's id and aliases. A GHSA is replaced by a
// related CVE, so that the finding merges with other tools' CVE findings;
// the GHSA stays an alias.
func (m grypeMatch) ids() (string, []string) {
	id := strings.TrimSpace(m.Vulnerability.ID)
	all := []string{id}
	for _, r := range m.Related {
		all = append(all, strings.TrimSpace(r.ID))
	}
	if strings.HasPrefix(id, "GHSA-") {
		for _, r := range all {
			if strings.HasPrefix(r, "CVE-") {
				id = r
				break
			}
		}
	}
	return id, nonEmptyUnique(all, id)
}

// cvss returns the first CVSS v3 score of the vulnerability, else of the
// related ones (often the NVD record of the same CVE).
func (m grypeMatch) cvss() (float64, string) {
	for _, v := range append([]grypeVuln{m.Vulnerability}, m.Related...) {
		for _, c := range v.CVSS {
			if strings.HasPrefix(c.Version, "3") && c.Metrics.BaseScore != 0 {
				return c.Metrics.BaseScore, c.Vector
			}
		}
		if c := v.CVSSv3; c != nil && c.BaseScore != 0 {
			return c.BaseScore, c.Vector
		}
	}
	return 0, ""
}

func (m grypeMatch) description() string {
	d := m.Vulnerability.Description
	for _, r := range m.Related {
		d = cmp.Or(d, r.Description)
	}
	return d
}

// path is where the package was found; Grype lists the file that
// declares it first.
func (a grypeArtifact) path() string {
	if len(a.Locations) == 0 {
		return ""
	}
	return a.Locations[0].Path
}

// grypeTarget reads source.target: an image's userInput, or the path or
// name Grype was given. ok is false for anything else.
func grypeTarget(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var o struct {
		UserInput string `json:"userInput"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.UserInput, true
	}
	return "", false
}

func grypeTool(name string) string {
	if name == "" || strings.EqualFold(name, "grype") {
		return "Grype"
	}
	return name
}
