package importers

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/opsguard/opsguard/vuln"
)

// osvImporter reads osv-scanner's JSON report (osv-scanner --format json):
// results per scanned source (a lockfile, a git checkout), packages in
// each, and the OSV records of each package's vulnerabilities.
type osvImporter struct{}

func init() { Register(osvImporter{}) }

func (osvImporter) Name() string { return "osv" }

// Detect wants results and packages, or, in a scan that found nothing,
// results and experimental_config (osv-scanner 1.x writes both). Grype's
// report (matches) and a SARIF log (runs) may hold the same words in a
// property.
func (osvImporter) Detect(data []byte) bool {
	return Sniff(data, "results") && (Sniff(data, "packages") || Sniff(data, "experimental_config")) &&
		!Sniff(data, "matches") && !Sniff(data, "runs")
}

// The local structs hold only what opsguard reads. osvVuln is an OSV
// record, shared with the govulncheck importer.
type (
	osvReport struct {
		// A pointer, to tell a report without findings ("results": [])
		// from JSON that is not an osv-scanner report at all.
		Results *[]osvResult `json:"results"`
	}
	osvResult struct {
		Source struct {
			Path string `json:"path"`
		} `json:"source"`
		Packages []osvPackage `json:"packages"`
	}
	osvPackage struct {
		Package struct {
			Name      string `json:"name"`
			Version   string `json:"version"`
			Ecosystem string `json:"ecosystem"`
			Commit    string `json:"commit"`
			PURL      string `json:"purl"`
		} `json:"package"`
		Vulnerabilities []osvVuln  `json:"vulnerabilities"`
		Groups          []osvGroup `json:"groups"`
	}
	// osvGroup lists the ids osv-scanner found to be one vulnerability
	// (a GHSA and the PYSEC of the same CVE), with all their aliases.
	osvGroup struct {
		IDs     []string `json:"ids"`
		Aliases []string `json:"aliases"`
	}
	osvVuln struct {
		ID       string   `json:"id"`
		Aliases  []string `json:"aliases"`
		Summary  string   `json:"summary"`
		Details  string   `json:"details"`
		Severity []struct {
			Type  string `json:"type"`
			Score string `json:"score"`
		} `json:"severity"`
		Affected   []osvAffected `json:"affected"`
		References []struct {
			URL string `json:"url"`
		} `json:"references"`
		DatabaseSpecific struct {
			// Free-form in OSV: GHSA puts a word here, other databases
			// anything, so it is read only when it is a string.
			Severity json.RawMessage `json:"severity"`
		} `json:"database_specific"`
	}
	osvAffected struct {
		Package struct {
			Name      string `json:"name"`
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
		Ranges []struct {
			Type   string `json:"type"`
			Repo   string `json:"repo"`
			Events []struct {
				Introduced   string `json:"introduced"`
				Fixed        string `json:"fixed"`
				LastAffected string `json:"last_affected"`
			} `json:"events"`
		} `json:"ranges"`
	}
)

// Parse makes one finding per group of a package: osv-scanner lists the
// GHSA and the PYSEC record of one CVE as two vulnerabilities of the
// package, and its groups say they are the same.
func (osvImporter) Parse(name string, data []byte) (*vuln.Report, error) {
	var doc osvReport
	if err := DecodeJSON(name, data, &doc); err != nil {
		return nil, err
	}
	if doc.Results == nil {
		return nil, Errorf(name, "results", "not an osv-scanner report: it has no results")
	}
	r := &vuln.Report{Tool: "osv-scanner", Complete: true, Findings: []vuln.Reported{}}
	for i, res := range *doc.Results {
		for j, p := range res.Packages {
			at := fmt.Sprintf("results[%d].packages[%d]", i, j)
			for k, v := range p.Vulnerabilities {
				if strings.TrimSpace(v.ID) == "" {
					return nil, Errorf(name, fmt.Sprintf("%s.vulnerabilities[%d].id", at, k), "the vulnerability has no id")
				}
			}
			for _, g := range osvGroups(p) {
				r.Findings = append(r.Findings, osvFinding(res.Source.Path, p, g))
			}
		}
	}
	return r, nil
}

// osvMembers is a group of a package with the records it names, in the
// package's order.
type osvMembers struct {
	group osvGroup
	vulns []osvVuln
}

// osvGroups splits a package's vulnerabilities into its groups. A record
// no group names is a group of its own; a group naming no listed record is
// dropped, as it has nothing to report.
func osvGroups(p osvPackage) []osvMembers {
	index := make(map[string]int, len(p.Vulnerabilities))
	for i, v := range p.Vulnerabilities {
		if _, dup := index[strings.TrimSpace(v.ID)]; !dup {
			index[strings.TrimSpace(v.ID)] = i
		}
	}
	taken := make([]bool, len(p.Vulnerabilities))
	var out []osvMembers
	for _, g := range p.Groups {
		m := osvMembers{group: g}
		for _, id := range g.IDs {
			if i, ok := index[strings.TrimSpace(id)]; ok && !taken[i] {
				taken[i] = true
				m.vulns = append(m.vulns, p.Vulnerabilities[i])
			}
		}
		if len(m.vulns) > 0 {
			out = append(out, m)
		}
	}
	for i, v := range p.Vulnerabilities {
		if !taken[i] {
			out = append(out, osvMembers{vulns: []osvVuln{v}})
		}
	}
	return out
}

func osvFinding(target string, p osvPackage, m osvMembers) vuln.Reported {
	var ids, refs []string
	var summary, details string
	for _, v := range m.vulns {
		ids = append(ids, v.ID)
		ids = append(ids, v.Aliases...)
		summary = cmp.Or(summary, strings.TrimSpace(v.Summary))
		details = cmp.Or(details, strings.TrimSpace(v.Details))
		for _, ref := range v.References {
			refs = append(refs, strings.TrimSpace(ref.URL))
		}
	}
	ids = append(append(ids, m.group.IDs...), m.group.Aliases...)
	id, aliases := osvIDs(ids)
	sev, source, score, vector := osvSeverity(m.vulns)
	pkg, version := osvPackageName(p, m.vulns)
	return vuln.Reported{
		VulnID:         id,
		Aliases:        aliases,
		Title:          cmp.Or(summary, osvFirstLine(details)),
		Description:    details,
		Severity:       sev,
		SeveritySource: source,
		CVSSScore:      score,
		CVSSVector:     vector,
		Package:        pkg,
		Version:        version,
		FixedVersion:   osvFixed(m.vulns, p.Package.Name, p.Package.Version),
		Target:         target,
		References:     CapReferences(osvUnique(refs)),
	}
}

// osvIDs picks the first CVE among ids as the finding's id, so that it
// merges with other tools' findings of the CVE, else the first id; the
// others, sorted, are its aliases.
func osvIDs(ids []string) (string, []string) {
	for i := range ids {
		ids[i] = strings.TrimSpace(ids[i])
	}
	ids = osvUnique(ids)
	id := ids[0]
	for _, s := range ids {
		if strings.HasPrefix(s, "CVE-") {
			id = s
			break
		}
	}
	aliases := osvUnique(ids, id)
	slices.Sort(aliases)
	return id, aliases
}

// osvSeverity takes the first database's severity word of the group;
// without one, the base score of the first CVSS v3 vector; without that,
// Medium, saying so.
func osvSeverity(vulns []osvVuln) (sev vuln.Severity, source string, score float64, vector string) {
	for _, v := range vulns {
		for _, s := range v.Severity {
			if vector == "" && s.Type == "CVSS_V3" {
				if sc, ok := cvss3BaseScoreOSV(s.Score); ok {
					score, vector = sc, strings.TrimSpace(s.Score)
				}
			}
		}
	}
	for _, v := range vulns {
		var word string
		if json.Unmarshal(v.DatabaseSpecific.Severity, &word) == nil {
			if s, ok := vuln.ParseSeverity(word); ok {
				return s, "", score, vector
			}
		}
	}
	if vector != "" {
		return vuln.SeverityFromCVSS(score), "cvss", score, vector
	}
	return vuln.Medium, "assumed: no severity in the report", 0, ""
}

// osvPackageName is the purl osv-scanner gives, else ecosystem/name; a git
// checkout scanned by commit has neither, and is named by the repository
// of the records' GIT ranges.
func osvPackageName(p osvPackage, vulns []osvVuln) (pkg, version string) {
	pk := p.Package
	switch {
	case pk.PURL != "":
		return pk.PURL, pk.Version
	case pk.Name != "" && pk.Ecosystem != "":
		return pk.Ecosystem + "/" + pk.Name, pk.Version
	case pk.Name != "":
		return pk.Name, pk.Version
	}
	for _, v := range vulns {
		for _, a := range v.Affected {
			for _, r := range a.Ranges {
				if r.Type == "GIT" && r.Repo != "" {
					return r.Repo, cmp.Or(pk.Version, pk.Commit)
				}
			}
		}
	}
	return "", cmp.Or(pk.Version, pk.Commit)
}

// osvFixed is the version that fixes every record of the group: for each
// record the fixed event of the range holding version (when versions
// compare as dotted numbers), and the highest of those. When a record's
// range cannot be told, it is every fixed version of the group, comma-
// separated, for the reader to choose. GIT ranges fix commits, not
// versions, and a record without a fixed version does not count.
func osvFixed(vulns []osvVuln, name, version string) string {
	var all []string
	best, bestNumbers, told := "", []int(nil), true
	for _, v := range vulns {
		fixed, candidates := osvFixedOne(v, name, version)
		all = append(all, candidates...)
		switch {
		case len(candidates) == 0:
		case fixed == "":
			told = false
		default:
			if n, _ := osvNumbers(fixed); best == "" || osvCompare(n, bestNumbers) > 0 {
				best, bestNumbers = fixed, n
			}
		}
	}
	if told && best != "" {
		return best
	}
	return strings.Join(osvUnique(all), ", ")
}

// osvFixedOne returns the fixed event of the record's range that holds
// version, if one can be told, and all its fixed events.
func osvFixedOne(v osvVuln, name, version string) (fixed string, all []string) {
	for _, a := range v.Affected {
		if a.Package.Name != "" && name != "" && !strings.EqualFold(a.Package.Name, name) {
			continue
		}
		for _, r := range a.Ranges {
			if r.Type == "GIT" {
				continue
			}
			introduced := ""
			for _, e := range r.Events {
				switch {
				case e.Introduced != "":
					introduced = e.Introduced
				case e.Fixed != "":
					if fixed == "" && osvInRange(version, introduced, e.Fixed) {
						fixed = e.Fixed
					}
					all = append(all, e.Fixed)
				}
			}
		}
	}
	return fixed, all
}

// osvInRange reports whether introduced <= version < fixed, all three
// being dotted numbers ("v1.2.3", "0"); pre-releases, epochs and the like
// are not ordered here, and the answer is then false.
func osvInRange(version, introduced, fixed string) bool {
	v, ok1 := osvNumbers(version)
	i, ok2 := osvNumbers(introduced)
	f, ok3 := osvNumbers(fixed)
	return ok1 && ok2 && ok3 && osvCompare(i, v) <= 0 && osvCompare(v, f) < 0
}

func osvNumbers(s string) ([]int, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexByte(s, '+'); i >= 0 { // build metadata (Go's +incompatible)
		s = s[:i]
	}
	if s == "" {
		return nil, false
	}
	parts := strings.Split(s, ".")
	n := make([]int, len(parts))
	for k, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return nil, false
		}
		x, err := strconv.Atoi(p)
		if err != nil {
			return nil, false
		}
		n[k] = x
	}
	return n, true
}

func osvCompare(a, b []int) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// cvss3BaseScoreOSV computes the base score of a CVSS v3.0 or v3.1 vector
// (FIRST's specification, with v3.1's Roundup, which gives v3.0's results
// without floating-point surprises). ok is false unless every base metric
// is given once with a valid value.
func cvss3BaseScoreOSV(vector string) (score float64, ok bool) {
	parts := strings.Split(strings.TrimSpace(vector), "/")
	if parts[0] != "CVSS:3.0" && parts[0] != "CVSS:3.1" {
		return 0, false
	}
	weights := map[string]map[string]float64{
		"AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
		"AC": {"L": 0.77, "H": 0.44},
		"PR": {"N": 0.85, "L": 0.62, "H": 0.27}, // scope unchanged
		"UI": {"N": 0.85, "R": 0.62},
		"S":  {"U": 0, "C": 1},
		"C":  {"H": 0.56, "L": 0.22, "N": 0},
		"I":  {"H": 0.56, "L": 0.22, "N": 0},
		"A":  {"H": 0.56, "L": 0.22, "N": 0},
	}
	m := make(map[string]string, len(parts))
	for _, p := range parts[1:] {
		k, v, found := strings.Cut(p, ":")
		if !found || k == "" || v == "" {
			return 0, false
		}
		if _, dup := m[k]; dup {
			return 0, false
		}
		m[k] = v
	}
	w := make(map[string]float64, len(weights))
	for k, values := range weights {
		x, valid := values[m[k]]
		if !valid {
			return 0, false
		}
		w[k] = x
	}
	changed := m["S"] == "C"
	if changed && m["PR"] == "L" {
		w["PR"] = 0.68
	} else if changed && m["PR"] == "H" {
		w["PR"] = 0.5
	}
	iss := 1 - (1-w["C"])*(1-w["I"])*(1-w["A"])
	impact := 6.42 * iss
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	}
	if impact <= 0 {
		return 0, true
	}
	exploitability := 8.22 * w["AV"] * w["AC"] * w["PR"] * w["UI"]
	if changed {
		return cvssRoundup(min(1.08*(impact+exploitability), 10)), true
	}
	return cvssRoundup(min(impact+exploitability, 10)), true
}

// cvssRoundup is CVSS v3.1's Roundup: the smallest number with one
// decimal that is not below x, computed on integers.
func cvssRoundup(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

// osvFirstLine is a title for a record without a summary.
func osvFirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.TrimSpace(s)
	n := 0
	for i := range s { // i is the byte offset of each rune
		if n == 120 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// osvUnique returns list without empty strings, duplicates and the
// excluded ones, in order; nil when nothing is left.
func osvUnique(list []string, exclude ...string) []string {
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

// osvQuote quotes a value for an error message, cut short: a hostile
// report must not make a 100 MB message.
func osvQuote(s string) string {
	const limit = 64
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.ToValidUTF8(s[:limit], "")) + fmt.Sprintf(" (%d bytes)", len(s))
}
