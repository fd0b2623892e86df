package importers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/opsguard/opsguard/vuln"
)

// cyclonedxImporter reads CycloneDX JSON documents (specVersion 1.4 and
// later) that carry a vulnerabilities array: a BOM with the findings of a
// scanner (Trivy, Grype, Snyk, Dependency-Track) or a VEX document.
//
// A vulnerability yields one vuln.Reported per component it affects, the
// affects[].ref resolved against components (nested ones too) to the
// component's purl, else its group/name, and version. A ref that names no
// component is kept as it is (a purl, or the fragment of a BOM-Link).
//
// Its severity comes from the rating of the best method (CVSSv4, CVSSv31,
// CVSSv3, CVSSv2, any other method, no method, in that order): the rating's
// severity word, else its CVSS score. When several ratings share the best
// method (Trivy lists NVD's, Red Hat's and GHSA's) the most severe one wins,
// so that a finding is never triaged below a rating its source gives it.
// With no usable rating it is Medium, marked "assumed".
//
// A vulnerability's analysis also yields one Statement per affected
// component, its state mapped onto the OpenVEX statuses.
//
// Complete rule: the document is a complete scan when it has components
// (an inventory the vulnerabilities were matched against) and
// metadata.tools names the tool that produced it. A document without
// components is a VEX document: it is not complete, and its analysed
// vulnerabilities become Statements only, not Findings. A document without
// a vulnerabilities key is a plain SBOM and is refused, lest importing it
// close every finding of the asset.
type cyclonedxImporter struct{}

func init() { Register(cyclonedxImporter{}) }

func (cyclonedxImporter) Name() string { return "cyclonedx" }

// Detect looks for bomFormat and the word CycloneDX only: a BOM's
// vulnerabilities usually come after its components, far past what Sniff
// reads.
func (cyclonedxImporter) Detect(data []byte) bool {
	if !Sniff(data, "bomFormat") {
		return false
	}
	if len(data) > 64<<10 {
		data = data[:64<<10]
	}
	return bytes.Contains(data, []byte(`"CycloneDX"`))
}

type cdxBOM struct {
	BOMFormat       string              `json:"bomFormat"`
	Metadata        *cdxMetadata        `json:"metadata"`
	Components      []cdxComponent      `json:"components"`
	Vulnerabilities *[]cdxVulnerability `json:"vulnerabilities"`
}

type cdxMetadata struct {
	// Tools is an array of tools in 1.4, an object {components, services}
	// from 1.5 on.
	Tools     json.RawMessage `json:"tools"`
	Component *cdxComponent   `json:"component"`
}

type cdxTool struct {
	Vendor  string `json:"vendor"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

type cdxComponent struct {
	BOMRef     string         `json:"bom-ref"`
	Group      string         `json:"group"`
	Name       string         `json:"name"`
	Version    string         `json:"version"`
	PURL       string         `json:"purl"`
	Components []cdxComponent `json:"components"`
}

type cdxSource struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

type cdxRating struct {
	Source   cdxSource `json:"source"`
	Score    *float64  `json:"score"`
	Severity string    `json:"severity"`
	Method   string    `json:"method"`
	Vector   string    `json:"vector"`
}

type cdxVulnerability struct {
	ID         string    `json:"id"`
	Source     cdxSource `json:"source"`
	References []struct {
		ID     string    `json:"id"`
		Source cdxSource `json:"source"`
	} `json:"references"`
	Ratings        []cdxRating `json:"ratings"`
	Description    string      `json:"description"`
	Detail         string      `json:"detail"`
	Recommendation string      `json:"recommendation"`
	Advisories     []struct {
		URL string `json:"url"`
	} `json:"advisories"`
	Analysis *struct {
		State         string   `json:"state"`
		Justification string   `json:"justification"`
		Response      []string `json:"response"`
		Detail        string   `json:"detail"`
	} `json:"analysis"`
	Affects []struct {
		Ref      string `json:"ref"`
		Versions []struct {
			Version string `json:"version"`
			Status  string `json:"status"`
		} `json:"versions"`
	} `json:"affects"`
	Properties []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"properties"`
}

func (cyclonedxImporter) Parse(name string, data []byte) (*vuln.Report, error) {
	if d := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(d) > 0 && d[0] != '{' {
		return nil, &Error{File: name, Line: 1, Msg: "not a CycloneDX document: expected a JSON object with \"bomFormat\": \"CycloneDX\" and \"vulnerabilities\""}
	}
	var bom cdxBOM
	if err := DecodeJSON(name, data, &bom); err != nil {
		return nil, err
	}
	if bom.BOMFormat != "CycloneDX" {
		return nil, Errorf(name, "bomFormat", "not a CycloneDX document: bomFormat is %q, expected \"CycloneDX\"", bom.BOMFormat)
	}
	if bom.Vulnerabilities == nil {
		return nil, Errorf(name, "vulnerabilities", "the BOM has no vulnerabilities array: it is an SBOM, not a vulnerability report (scan it, e.g. trivy sbom or grype sbom:, and import the result)")
	}
	r := &vuln.Report{Tool: "CycloneDX"}
	named := false // by metadata.tools
	if bom.Metadata != nil {
		tool, err := cdxTools(name, bom.Metadata.Tools)
		if err != nil {
			return nil, err
		}
		if named = tool.Name != ""; named {
			r.Tool, r.ToolVersion = cdxToolName(tool.Name), tool.Version
		}
		if c := bom.Metadata.Component; c != nil {
			r.Target = cdxTarget(*c)
		}
	}
	refs := map[string]cdxComponent{}
	cdxIndex(refs, bom.Components)
	if bom.Metadata != nil && bom.Metadata.Component != nil {
		cdxIndex(refs, []cdxComponent{*bom.Metadata.Component})
	}
	vexOnly := len(bom.Components) == 0
	r.Complete = !vexOnly && named
	for i, v := range *bom.Vulnerabilities {
		path := fmt.Sprintf("vulnerabilities[%d]", i)
		fs, ss, err := cdxVuln(name, path, v, refs, r.Target)
		if err != nil {
			return nil, err
		}
		if !(vexOnly && len(ss) > 0) {
			r.Findings = append(r.Findings, fs...)
		}
		r.Statements = append(r.Statements, ss...)
	}
	return r, nil
}

// cdxTools returns the first tool of metadata.tools in either form.
func cdxTools(file string, raw json.RawMessage) (cdxTool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return cdxTool{}, nil
	}
	var tools []cdxTool
	var err error
	switch raw[0] {
	case '[':
		err = json.Unmarshal(raw, &tools)
	case '{':
		var v struct {
			Components []cdxTool `json:"components"`
			Services   []cdxTool `json:"services"`
		}
		err = json.Unmarshal(raw, &v)
		tools = append(v.Components, v.Services...)
	default:
		return cdxTool{}, Errorf(file, "metadata.tools", "expected an array of tools (CycloneDX 1.4) or an object with components (1.5+)")
	}
	if err != nil {
		return cdxTool{}, Errorf(file, "metadata.tools", "%v", err)
	}
	for _, t := range tools {
		if t.Name != "" {
			return t, nil
		}
	}
	return cdxTool{}, nil
}

// cdxToolName spells the scanners as their own importers do, so that a
// CycloneDX scan and a native one of the same tool are one tool's scans.
func cdxToolName(name string) string {
	switch strings.ToLower(name) {
	case "trivy":
		return "Trivy"
	case "grype":
		return "Grype"
	}
	return name
}

func cdxIndex(refs map[string]cdxComponent, cs []cdxComponent) {
	for _, c := range cs {
		if c.BOMRef != "" {
			if _, dup := refs[c.BOMRef]; !dup {
				refs[c.BOMRef] = c
			}
		}
		cdxIndex(refs, c.Components)
	}
}

func cdxTarget(c cdxComponent) string {
	switch {
	case c.Name != "" && c.Version != "":
		return c.Name + "@" + c.Version
	case c.Name != "":
		return c.Name
	}
	return c.PURL
}

// cdxPackage names the component a ref points at: its purl (else
// group/name) and version. An unknown ref is kept: Trivy and Grype refs
// are purls, and a BOM-Link (urn:cdx:serial/version#ref) names a component
// of another BOM by its fragment.
func cdxPackage(ref string, refs map[string]cdxComponent) (pkg, version string) {
	if c, ok := refs[ref]; ok {
		pkg = c.PURL
		if pkg == "" {
			pkg = c.Name
			if c.Group != "" {
				pkg = c.Group + "/" + c.Name
			}
		}
		version = c.Version
		if version == "" {
			version = cdxPURLVersion(c.PURL)
		}
		return pkg, version
	}
	if strings.HasPrefix(ref, "urn:cdx:") {
		if _, frag, ok := strings.Cut(ref, "#"); ok {
			if u, err := url.PathUnescape(frag); err == nil {
				frag = u
			}
			ref = frag
		}
	}
	return ref, cdxPURLVersion(ref)
}

// cdxPURLVersion is the unescaped version of a purl, "" if it has none.
func cdxPURLVersion(purl string) string {
	if !strings.HasPrefix(purl, "pkg:") {
		return ""
	}
	s, _, _ := strings.Cut(purl, "#")
	s, _, _ = strings.Cut(s, "?")
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return ""
	}
	v, err := url.PathUnescape(s[i+1:])
	if err != nil {
		return s[i+1:]
	}
	return v
}

func cdxVuln(file, path string, v cdxVulnerability, refs map[string]cdxComponent, target string) ([]vuln.Reported, []vuln.Statement, error) {
	id, aliases := cdxIDs(v)
	if id == "" {
		return nil, nil, Errorf(file, path+".id", "a vulnerability needs an id")
	}
	sev, sevSrc, score, vector, err := cdxSeverity(file, path, v.Ratings)
	if err != nil {
		return nil, nil, err
	}
	var st *vuln.Statement
	if a := v.Analysis; a != nil && a.State != "" {
		status, just, ok := cdxStatus(a.State, a.Justification)
		if !ok {
			return nil, nil, Errorf(file, path+".analysis.state", "unknown analysis state %q; expected resolved, resolved_with_pedigree, exploitable, in_triage, false_positive or not_affected", a.State)
		}
		st = &vuln.Statement{VulnID: id, Aliases: aliases, Status: status, Justification: just,
			Impact: a.Detail, Action: strings.Join(a.Response, ", ")}
	}
	base := vuln.Reported{VulnID: id, Aliases: aliases, Title: cdxTitle(id, v.Description),
		Description: cdxJoin(v.Description, v.Detail, v.Recommendation), Severity: sev, SeveritySource: sevSrc,
		CVSSScore: score, CVSSVector: vector, References: CapReferences(cdxReferences(v))}
	fixed := cdxProperty(v, "grype:fixed_versions")
	if len(v.Affects) == 0 {
		f := base
		f.FixedVersion = fixed
		var ss []vuln.Statement
		if st != nil {
			s := *st
			s.Product = target
			ss = append(ss, s)
		}
		return []vuln.Reported{f}, ss, nil
	}
	var fs []vuln.Reported
	var ss []vuln.Statement
	seen := map[string]bool{}
	for _, a := range v.Affects {
		if seen[a.Ref] {
			continue
		}
		seen[a.Ref] = true
		f := base
		f.Package, f.Version = cdxPackage(a.Ref, refs)
		f.FixedVersion = fixed
		for _, ver := range a.Versions {
			if ver.Status == "unaffected" && ver.Version != "" {
				f.FixedVersion = ver.Version
				break
			}
		}
		fs = append(fs, f)
		if st != nil {
			s := *st
			s.Product = f.Package
			ss = append(ss, s)
		}
	}
	return fs, ss, nil
}

// cdxIDs prefers a CVE for the main identifier, as Reported.VulnID asks:
// Snyk's id is its own and the CVE is among its references.
func cdxIDs(v cdxVulnerability) (string, []string) {
	all := []string{strings.TrimSpace(v.ID)}
	for _, r := range v.References {
		all = append(all, strings.TrimSpace(r.ID))
	}
	main := all[0]
	if !strings.HasPrefix(main, "CVE-") {
		for _, x := range all[1:] {
			if strings.HasPrefix(x, "CVE-") {
				main = x
				break
			}
		}
	}
	if main == "" {
		for _, x := range all {
			if x != "" {
				main = x
				break
			}
		}
	}
	var aliases []string
	seen := map[string]bool{main: true, "": true}
	for _, x := range all {
		if !seen[x] {
			seen[x] = true
			aliases = append(aliases, x)
		}
	}
	return main, aliases
}

// cdxMethodRank orders the rating methods, best first.
func cdxMethodRank(m string) int {
	switch m {
	case "CVSSv4":
		return 5
	case "CVSSv31":
		return 4
	case "CVSSv3":
		return 3
	case "CVSSv2":
		return 2
	case "":
		return 0
	}
	return 1 // OWASP, SSVC, other
}

// cdxIsCVSS tells the ratings whose score is on the CVSS scale; a score
// without a method is taken to be one.
func cdxIsCVSS(method string) bool {
	return method == "" || strings.HasPrefix(method, "CVSS")
}

func cdxSeverityRank(s vuln.Severity) int {
	for i, x := range vuln.Severities {
		if x == s {
			return len(vuln.Severities) - i
		}
	}
	return 0
}

func cdxSeverity(file, path string, rs []cdxRating) (sev vuln.Severity, src string, score float64, vector string, err error) {
	best, bestRank := -1, -1
	var bestSev vuln.Severity
	var bestSrc string
	unknown := false
	for j, r := range rs {
		var s vuln.Severity
		var from string
		word := strings.TrimSpace(r.Severity)
		switch p, ok := vuln.ParseSeverity(word); {
		case ok:
			s = p
		case word == "" || strings.EqualFold(word, "unknown"):
			unknown = unknown || word != ""
			// A CVSS score stands in for the missing word; other
			// methods' scores (OWASP's 0–9) are on other scales.
			if r.Score != nil && *r.Score > 0 && cdxIsCVSS(r.Method) {
				s, from = vuln.SeverityFromCVSS(*r.Score), "cvss"
			}
		default:
			return "", "", 0, "", Errorf(file, fmt.Sprintf("%s.ratings[%d].severity", path, j),
				"unknown severity %q; expected critical, high, medium, low, info, none or unknown", r.Severity)
		}
		if s == "" {
			continue
		}
		rank := cdxMethodRank(r.Method)*10 + cdxSeverityRank(s)
		if rank > bestRank {
			best, bestRank, bestSev, bestSrc = j, rank, s, from
		}
	}
	// The score shown is the chosen rating's, else the best CVSS one's.
	scoreAt, scoreRank := -1, -1
	if best >= 0 && rs[best].Score != nil && cdxIsCVSS(rs[best].Method) {
		scoreAt = best
	} else {
		for j, r := range rs {
			if rank := cdxMethodRank(r.Method); r.Score != nil && cdxIsCVSS(r.Method) && rank > scoreRank {
				scoreAt, scoreRank = j, rank
			}
		}
	}
	if scoreAt >= 0 {
		score, vector = *rs[scoreAt].Score, rs[scoreAt].Vector
	}
	if best < 0 {
		why := "assumed: no rating"
		if unknown {
			why = "assumed: rated unknown"
		}
		return vuln.Medium, why, score, vector, nil
	}
	return bestSev, bestSrc, score, vector, nil
}

// cdxStatus maps a CycloneDX analysis onto a VEX status and justification.
func cdxStatus(state, justification string) (status, just string, ok bool) {
	switch justification {
	case "code_not_present":
		just = "vulnerable_code_not_present"
	case "code_not_reachable":
		just = "vulnerable_code_not_in_execute_path"
	default:
		just = justification // requires_configuration, protected_by_compiler, …
	}
	switch state {
	case "not_affected":
		return "not_affected", just, true
	case "false_positive":
		return "not_affected", "false_positive", true
	case "exploitable":
		return "affected", just, true
	case "resolved", "resolved_with_pedigree":
		return "fixed", just, true
	case "in_triage":
		return "under_investigation", just, true
	}
	return "", "", false
}

func cdxReferences(v cdxVulnerability) []string {
	var out []string
	seen := map[string]bool{"": true}
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	add(v.Source.URL)
	for _, a := range v.Advisories {
		add(a.URL)
	}
	for _, r := range v.References {
		add(r.Source.URL)
	}
	return out
}

func cdxProperty(v cdxVulnerability, name string) string {
	for _, p := range v.Properties {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// cdxTitle is the first line of the description, cut to 120 characters;
// CycloneDX has no title field.
func cdxTitle(id, desc string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(desc), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return id
	}
	if utf8.RuneCountInString(line) > 120 {
		n := 0
		for i := range line {
			if n == 119 {
				line = strings.TrimSpace(line[:i]) + "…"
				break
			}
			n++
		}
	}
	return line
}

func cdxJoin(desc, detail, recommendation string) string {
	parts := []string{strings.TrimSpace(desc)}
	if d := strings.TrimSpace(detail); d != "" {
		parts = append(parts, d)
	}
	if rec := strings.TrimSpace(recommendation); rec != "" {
		parts = append(parts, "Recommendation: "+rec)
	}
	return strings.TrimSpace(strings.Join(parts, "\n\n"))
}
