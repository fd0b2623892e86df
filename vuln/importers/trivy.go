package importers

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// trivyImporter reads Trivy's JSON report (SchemaVersion 2) of an image,
// a file system or a repository, and the two shapes of its Kubernetes
// report: resources listed once ("Resources"), or grouped by scanner
// ("Vulnerabilities" and "Misconfigurations" at the top).
type trivyImporter struct{}

func init() { Register(trivyImporter{}) }

func (trivyImporter) Name() string { return "trivy" }

// Detect looks for the keys Trivy puts first: SchemaVersion and the
// artifact for a scan, ClusterName for a Kubernetes report (which has no
// SchemaVersion).
func (trivyImporter) Detect(data []byte) bool {
	switch {
	case Sniff(data, "SchemaVersion"):
		return Sniff(data, "Results") || Sniff(data, "ArtifactName")
	case Sniff(data, "ClusterName"):
		return Sniff(data, "Resources") || Sniff(data, "Results")
	}
	return false
}

// The local structs hold only what opsguard reads.
type (
	trivyReport struct {
		Trivy        struct{ Version string }
		ArtifactName string
		ClusterName  string
		Results      []trivyResult
		// Kubernetes reports.
		Resources         []trivyResource
		Vulnerabilities   []trivyResource
		Misconfigurations []trivyResource
	}
	trivyResource struct {
		Namespace, Kind, Name string
		Results               []trivyResult
	}
	trivyResult struct {
		Target            string
		Type              string // the ecosystem: debian, npm, jar, …
		Vulnerabilities   []trivyVuln
		Misconfigurations []trivyMisconf
		Secrets           []trivySecret
	}
	trivyVuln struct {
		VulnerabilityID  string
		VendorIDs        []string
		PkgName          string
		PkgIdentifier    struct{ PURL string }
		InstalledVersion string
		FixedVersion     string
		Severity         string
		SeveritySource   string
		Title            string
		Description      string
		PrimaryURL       string
		References       []string
		CVSS             map[string]trivyCVSS
	}
	trivyCVSS struct {
		V3Score  float64
		V3Vector string
	}
	trivyMisconf struct {
		ID, AVDID, Title, Severity, Status string
		Description, Message, Resolution   string
		PrimaryURL                         string
		References                         []string
		CauseMetadata                      struct{ StartLine int }
	}
	trivySecret struct {
		RuleID, Category, Title, Severity string
		StartLine                         int
	}
)

func (trivyImporter) Parse(name string, data []byte) (*Report, error) {
	var doc trivyReport
	if err := DecodeJSON(name, data, &doc); err != nil {
		return nil, err
	}
	p := trivyParse{file: name, report: &Report{
		Tool:        "Trivy",
		ToolVersion: doc.Trivy.Version,
		Target:      cmp.Or(doc.ArtifactName, doc.ClusterName),
		Complete:    true,
		Findings:    []Finding{},
	}}
	if err := p.results("Results", "", doc.Results); err != nil {
		return nil, err
	}
	groups := []struct {
		path string
		list []trivyResource
	}{{"Resources", doc.Resources}, {"Vulnerabilities", doc.Vulnerabilities}, {"Misconfigurations", doc.Misconfigurations}}
	for _, g := range groups {
		for i, res := range g.list {
			if err := p.results(fmt.Sprintf("%s[%d].Results", g.path, i), res.label(), res.Results); err != nil {
				return nil, err
			}
		}
	}
	return p.report, nil
}

// label names a Kubernetes resource as Namespace/Kind/Name (cluster-wide
// resources have no namespace).
func (r trivyResource) label() string {
	parts := []string{r.Namespace, r.Kind, r.Name}
	if r.Namespace == "" {
		parts = parts[1:]
	}
	return strings.Join(parts, "/")
}

type trivyParse struct {
	file   string
	report *Report
}

// results adds the findings of results (at JSON path path); resource is
// the Kubernetes resource they belong to, if any.
func (p trivyParse) results(path, resource string, results []trivyResult) error {
	for i, res := range results {
		at := fmt.Sprintf("%s[%d]", path, i)
		target := res.Target
		if resource != "" {
			target = resource + ": " + res.Target
		}
		if err := p.result(at, target, res); err != nil {
			return err
		}
	}
	return nil
}

func (p trivyParse) result(at, target string, res trivyResult) error {
	for j, v := range res.Vulnerabilities {
		if err := p.add(p.vuln(fmt.Sprintf("%s.Vulnerabilities[%d]", at, j), target, res, v)); err != nil {
			return err
		}
	}
	for j, m := range res.Misconfigurations {
		if strings.EqualFold(m.Status, "PASS") { // a check that passed is no finding
			continue
		}
		if err := p.add(p.misconf(fmt.Sprintf("%s.Misconfigurations[%d]", at, j), target, res, m)); err != nil {
			return err
		}
	}
	for j, s := range res.Secrets {
		if err := p.add(p.secret(fmt.Sprintf("%s.Secrets[%d]", at, j), target, res, s)); err != nil {
			return err
		}
	}
	return nil
}

func (p trivyParse) add(f Finding, err error) error {
	if err != nil {
		return err
	}
	p.report.Findings = append(p.report.Findings, f)
	return nil
}

func (p trivyParse) vuln(at, target string, res trivyResult, v trivyVuln) (Finding, error) {
	if strings.TrimSpace(v.VulnerabilityID) == "" {
		return Finding{}, Errorf(p.file, at+".VulnerabilityID", "the vulnerability has no id")
	}
	score, vector, err := p.cvss(at, v)
	if err != nil {
		return Finding{}, err
	}
	sev, source, err := p.severity(at, v.Severity, score)
	if err != nil {
		return Finding{}, err
	}
	return Finding{
		VulnID:         strings.TrimSpace(v.VulnerabilityID),
		Aliases:        trivyAliases(v),
		Title:          v.Title,
		Description:    v.Description,
		Severity:       sev,
		SeveritySource: source,
		CVSSScore:      score,
		CVSSVector:     vector,
		Package:        cmp.Or(v.PkgIdentifier.PURL, ecosystemName(res.Type, v.PkgName)),
		Version:        v.InstalledVersion,
		FixedVersion:   v.FixedVersion,
		Target:         target,
		References:     nonEmptyUnique(append([]string{v.PrimaryURL}, v.References...)),
	}, nil
}

func (p trivyParse) misconf(at, target string, res trivyResult, m trivyMisconf) (Finding, error) {
	id := cmp.Or(strings.TrimSpace(m.ID), strings.TrimSpace(m.AVDID))
	if id == "" {
		return Finding{}, Errorf(p.file, at+".ID", "the misconfiguration has no ID or AVDID")
	}
	sev, source, err := p.severity(at, m.Severity, 0)
	if err != nil {
		return Finding{}, err
	}
	return Finding{
		VulnID:         id,
		Aliases:        nonEmptyUnique([]string{m.AVDID}, id),
		Title:          m.Title,
		Description:    strings.Join(nonEmptyUnique([]string{m.Description, m.Message, m.Resolution}), "\n\n"),
		Severity:       sev,
		SeveritySource: source,
		Location:       codeLocation(res.Target, m.CauseMetadata.StartLine),
		Target:         target,
		References:     nonEmptyUnique(append([]string{m.PrimaryURL}, m.References...)),
	}, nil
}

func (p trivyParse) secret(at, target string, res trivyResult, s trivySecret) (Finding, error) {
	if strings.TrimSpace(s.RuleID) == "" {
		return Finding{}, Errorf(p.file, at+".RuleID", "the secret has no RuleID")
	}
	sev, source, err := p.severity(at, s.Severity, 0)
	if err != nil {
		return Finding{}, err
	}
	// Match is left out on purpose: even masked, it is part of a secret.
	return Finding{
		VulnID:         strings.TrimSpace(s.RuleID),
		Title:          s.Title,
		Description:    s.Category,
		Severity:       sev,
		SeveritySource: source,
		Location:       codeLocation(res.Target, s.StartLine),
		Target:         target,
	}, nil
}

func (p trivyParse) severity(at, word string, score float64) (Severity, string, error) {
	sev, source, ok := severityOrFallback(word, score)
	if !ok {
		return "", "", Errorf(p.file, at+".Severity", "unknown severity %s; expected CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN", quoteShort(word))
	}
	return sev, source, nil
}

// cvss picks one CVSS v3 score among the vendors': NVD's, else that of the
// vendor Trivy took the severity from, else the first by vendor name (a
// JSON object has no order a map keeps).
func (p trivyParse) cvss(at string, v trivyVuln) (float64, string, error) {
	vendors := make([]string, 0, len(v.CVSS))
	for k := range v.CVSS {
		vendors = append(vendors, k)
	}
	slices.Sort(vendors)
	for _, k := range append([]string{"nvd", v.SeveritySource}, vendors...) {
		c, ok := v.CVSS[k]
		if !ok || c.V3Score == 0 {
			continue
		}
		if c.V3Score < 0 || c.V3Score > 10 {
			return 0, "", Errorf(p.file, at+".CVSS."+k+".V3Score", "CVSS score %v is outside 0–10", c.V3Score)
		}
		return c.V3Score, c.V3Vector, nil
	}
	return 0, "", nil
}

// trivyAliases keeps the CVE and GHSA ids among VendorIDs; the others
// (DSA, DLA, RHSA…) name advisories that fix several vulnerabilities, so
// merging findings on them would be wrong.
func trivyAliases(v trivyVuln) []string {
	var ids []string
	for _, id := range v.VendorIDs {
		if strings.HasPrefix(id, "CVE-") || strings.HasPrefix(id, "GHSA-") {
			ids = append(ids, id)
		}
	}
	return nonEmptyUnique(ids, strings.TrimSpace(v.VulnerabilityID))
}

// severityOrFallback normalises a scanner's severity word. A word saying
// that the scanner does not know (UNKNOWN, or none at all) falls back on
// the CVSS score, then on Medium, and source says so, so that such a
// finding is neither dropped nor silently ranked. ok is false for a word
// that is not a severity.
func severityOrFallback(word string, score float64) (sev Severity, source string, ok bool) {
	if s, ok := ParseSeverity(word); ok {
		return s, "", true
	}
	w := strings.TrimSpace(word)
	switch {
	case w != "" && !strings.EqualFold(w, "unknown"):
		return "", "", false
	case score > 0:
		return SeverityFromCVSS(score), "cvss", true
	case w == "":
		return Medium, "assumed: the tool gave no severity", true
	}
	return Medium, "assumed: the tool said " + w, true
}

// quoteShort quotes a value for an error message, cut short: a hostile
// report must not make a 100 MB message.
func quoteShort(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.ToValidUTF8(s[:max], "")) + fmt.Sprintf(" (%d bytes)", len(s))
}

// nonEmptyUnique returns list without empty strings, duplicates and the
// excluded ones, in order; nil when nothing is left.
func nonEmptyUnique(list []string, exclude ...string) []string {
	seen := make(map[string]bool, len(list)+len(exclude))
	for _, s := range exclude {
		seen[s] = true
	}
	var out []string
	for _, s := range list {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ecosystemName names a package that has no purl as ecosystem/name.
func ecosystemName(ecosystem, name string) string {
	if name == "" || ecosystem == "" {
		return name
	}
	return ecosystem + "/" + name
}

// codeLocation is path:line, or path when the line is unknown.
func codeLocation(path string, line int) string {
	if line <= 0 {
		return path
	}
	return path + ":" + strconv.Itoa(line)
}
