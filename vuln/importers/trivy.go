package importers

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unique"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/opsguard/opsguard/vuln"
)

// trivyImporter reads Trivy's JSON report (SchemaVersion 2) of an image,
// a file system or a repository, the two shapes of its Kubernetes report:
// resources listed once ("Resources"), or grouped by scanner
// ("Vulnerabilities" and "Misconfigurations" at the top), and its legacy
// report (before SchemaVersion 2, as Trivy wrote it until 0.19 and as
// pipelines still archive it): the list of results alone.
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
	return trivyLegacy(data)
}

// trivyLegacy reports whether data starts a legacy report: a list whose
// first element is a result, that names its Target and then its Type or
// its vulnerabilities (in Trivy's order, so that a first result of a
// hundred thousand vulnerabilities, past the head read, is no matter).
func trivyLegacy(data []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(bytes.TrimLeft(data, " \t\r\n\ufeff")))
	if t, err := dec.ReadToken(); err != nil || t.Kind() != '[' {
		return false
	}
	if t, err := dec.ReadToken(); err != nil || t.Kind() != '{' {
		return false
	}
	target := false
	for dec.PeekKind() == '"' {
		t, err := dec.ReadToken()
		if err != nil {
			return false
		}
		switch t.String() {
		case "Target":
			target = true
		case "Type", "Class", "Vulnerabilities":
			return target
		}
		if dec.SkipValue() != nil {
			return false
		}
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
		Vulnerabilities   trivyVulns
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
		Status           string // fixed (a fix exists), affected, not_affected, will_not_fix…
		Severity         string
		SeveritySource   string
		Title            string
		Description      string
		PrimaryURL       string
		References       refList
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
		References                         refList
		CauseMetadata                      struct{ StartLine int }
	}
	trivySecret struct {
		RuleID, Category, Title, Severity string
		StartLine                         int
	}
)

// trivyVulns is the list of a result's vulnerabilities, which may hold a
// hundred thousand: decoded element by element into a list that doubles as
// it grows, where the decoder's generic slices grow by a quarter and so
// allocate five times the list's size on the way.
type trivyVulns []trivyVuln

func (vs *trivyVulns) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	list := (*vs)[:0]
	err := eachElement(dec, trivyVulnsType, func(int) error {
		if len(list) == cap(list) {
			list = append(make([]trivyVuln, 0, 2*cap(list)+16), list...)
		}
		list = list[:len(list)+1]
		v := &list[len(list)-1]
		if err := jsonv2.UnmarshalDecode(dec, v); err != nil {
			return err
		}
		v.intern()
		return nil
	})
	*vs = list
	return err
}

// intern makes one string of each of a vulnerability's texts and
// references, which repeat for every package and target it affects: a
// large report holds each once, and its decoded copies are garbage at once.
func (v *trivyVuln) intern() {
	v.Title, v.Description = unique.Make(v.Title).Value(), unique.Make(v.Description).Value()
	for i, r := range v.References {
		v.References[i] = unique.Make(r).Value()
	}
}

func (t trivyImporter) Parse(name string, data []byte) (*vuln.Report, error) {
	return t.Stream(name, vuln.Bytes(data), 0, nil)
}

// Stream implements vuln.Streamer. The report is read with a streaming decoder
// (github.com/go-json-experiment/json/jsontext): a result's
// vulnerabilities, which may be a hundred thousand, are converted one by
// one as they are decoded and passed on a part at a time, once the report
// has named its target. Trivy writes ArtifactName (or ClusterName) before
// Results, and a result's Target and Type before its Vulnerabilities; a
// report written in another order is read whole first, as Parse does.
// With a nil emit, the findings are all in the returned report.
func (trivyImporter) Stream(name string, src vuln.Source, part int, emit func(*vuln.Report, []vuln.Reported) error) (*vuln.Report, error) {
	p := &trivyStream{trivyParse: trivyParse{file: name, report: &vuln.Report{Format: "trivy", Tool: "Trivy", Complete: true}}, part: part, emit: emit}
	in, original := jsonReader(src) // a 200 MB Description is read as MaxString bytes
	dec := jsontext.NewDecoder(in, largeJSON)
	err := p.document(dec)
	if err == nil {
		if _, err = dec.ReadToken(); err == io.EOF {
			err = nil
		} else if err == nil {
			line, col := LineColAt(src, original(dec.InputOffset()))
			return nil, &Error{File: name, Line: line, Col: col, Msg: "unexpected data after the JSON document"}
		}
	}
	var stop emitError
	switch {
	case errors.As(err, &stop):
		return nil, stop.err
	case err != nil:
		if e := (*Error)(nil); errors.As(err, &e) {
			return nil, e
		}
		return nil, largeJSONError(name, src, err, original)
	}
	p.report.Target = p.target()
	if emit == nil {
		return p.report, nil
	}
	if err := p.flush(); err != nil {
		return nil, err.(emitError).err
	}
	return p.report, nil
}

// emitError is an error of the consumer of a stream, returned as it is.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }

// trivyStream reads a Trivy report token by token down to the
// vulnerabilities, which it decodes one at a time.
type trivyStream struct {
	trivyParse
	part              int
	emit              func(*vuln.Report, []vuln.Reported) error
	artifact, cluster string
	frozen            bool            // a part was passed on: the target is fixed
	legacy            bool            // a legacy report: its first result names the artifact
	lists             map[string]bool // the top-level lists read, which may not repeat
}

var (
	trivyReportType = reflect.TypeFor[trivyReport]()
	trivyResultType = reflect.TypeFor[trivyResult]()
	trivyVulnsType  = reflect.TypeFor[[]trivyVuln]()
	trivyResourcesT = reflect.TypeFor[[]trivyResource]()
	trivyResultsT   = reflect.TypeFor[[]trivyResult]()
)

func (p *trivyStream) target() string {
	if p.frozen {
		return p.report.Target
	}
	return cmp.Or(p.artifact, p.cluster)
}

// document reads the top-level object, or the list of a legacy report.
func (p *trivyStream) document(dec *jsontext.Decoder) error {
	p.lists = map[string]bool{}
	if dec.PeekKind() == '[' {
		p.legacy = true
		return eachElement(dec, trivyResultsT, func(i int) error {
			return p.result(dec, fmt.Sprintf("[%d]", i), "")
		})
	}
	return eachField(dec, trivyReportType, func(name string) error {
		key := strings.ToLower(name)
		switch key {
		case "trivy":
			var t struct{ Version string }
			if err := jsonv2.UnmarshalDecode(dec, &t); err != nil {
				return err
			}
			p.report.ToolVersion = t.Version
			return nil
		case "artifactname":
			return jsonv2.UnmarshalDecode(dec, &p.artifact)
		case "clustername":
			return jsonv2.UnmarshalDecode(dec, &p.cluster)
		case "results", "resources", "vulnerabilities", "misconfigurations":
			// A list given twice would have its first findings passed on
			// already: refused, where a decoder would keep the last.
			if p.lists[key] {
				return Errorf(p.file, name, "the report gives %s twice", name)
			}
			p.lists[key] = true
			if key == "results" {
				return eachElement(dec, trivyResultsT, func(i int) error {
					return p.result(dec, fmt.Sprintf("Results[%d]", i), "")
				})
			}
			path := strings.ToUpper(key[:1]) + key[1:]
			return eachElement(dec, trivyResourcesT, func(i int) error {
				// A Kubernetes resource is decoded whole: its results
				// need its name, which may come after them.
				var res trivyResource
				if err := jsonv2.UnmarshalDecode(dec, &res); err != nil {
					return err
				}
				if err := p.results(fmt.Sprintf("%s[%d].Results", path, i), res.label(), res.Results); err != nil {
					return err
				}
				return p.next()
			})
		}
		return dec.SkipValue()
	})
}

// result reads the result at path at (of the Kubernetes resource named
// resource, if any). Its vulnerabilities are converted as they are
// decoded when its Target and Type came first; they are kept, with its
// misconfigurations and secrets, until the end of the result otherwise.
func (p *trivyStream) result(dec *jsontext.Decoder, at, resource string) error {
	var res trivyResult
	var hasTarget, hasType, streamed bool
	err := eachField(dec, trivyResultType, func(name string) error {
		switch strings.ToLower(name) {
		case "target":
			hasTarget = true
			if err := jsonv2.UnmarshalDecode(dec, &res.Target); err != nil {
				return err
			}
			if p.legacy && p.artifact == "" {
				p.artifact = legacyArtifact(res.Target)
			}
			return nil
		case "type":
			hasType = true
			return jsonv2.UnmarshalDecode(dec, &res.Type)
		case "vulnerabilities":
			if streamed || res.Vulnerabilities != nil {
				return Errorf(p.file, at+"."+name, "the result gives its vulnerabilities twice")
			}
			if hasTarget && hasType {
				streamed = true
				return p.vulns(dec, at, resultTarget(resource, res.Target), res)
			}
			return jsonv2.UnmarshalDecode(dec, &res.Vulnerabilities)
		case "misconfigurations":
			return jsonv2.UnmarshalDecode(dec, &res.Misconfigurations)
		case "secrets":
			return jsonv2.UnmarshalDecode(dec, &res.Secrets)
		}
		return dec.SkipValue()
	})
	if err != nil {
		return err
	}
	if p.legacy && !hasTarget {
		// The list is the whole report: of results, or of something else.
		return Errorf(p.file, at+".Target", "the result names no Target: a legacy Trivy report is a list of results")
	}
	if err := p.trivyParse.result(at, resultTarget(resource, res.Target), res); err != nil {
		return err
	}
	return p.next()
}

// vulns reads a result's list of vulnerabilities, converting each as it
// is decoded.
func (p *trivyStream) vulns(dec *jsontext.Decoder, at, target string, res trivyResult) error {
	return eachElement(dec, trivyVulnsType, func(j int) error {
		var v trivyVuln
		if err := jsonv2.UnmarshalDecode(dec, &v); err != nil {
			return err
		}
		v.intern()
		if err := p.addVuln(at, j, target, res, &v); err != nil {
			return err
		}
		return p.next()
	})
}

// next passes the findings read so far on when they make a part and the
// report's target is known.
func (p *trivyStream) next() error {
	if p.emit == nil || len(p.report.Findings) < p.part || p.target() == "" {
		return nil
	}
	return p.flush()
}

func (p *trivyStream) flush() error {
	if !p.frozen {
		p.frozen, p.report.Target = true, p.target()
	}
	fs := p.report.Findings
	p.report.Findings = make([]vuln.Reported, 0, p.part)
	for len(fs) > 0 {
		// A result's misconfigurations, or a Kubernetes resource, come
		// whole: cut into parts.
		n := min(len(fs), max(p.part, 1))
		head := *p.report // the consumer's copy: this one is still being written
		head.Findings, head.Statements = nil, nil
		if err := p.emit(&head, fs[:n:n]); err != nil {
			return emitError{err}
		}
		fs = fs[n:]
	}
	return nil
}

// eachField reads the JSON object at dec's position (a null as none),
// calling field with each name; field reads or skips the value. Another
// kind of value is refused as the decoder refuses it for goType.
func eachField(dec *jsontext.Decoder, goType reflect.Type, field func(name string) error) error {
	if null, err := open(dec, '{', goType); null || err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if err := field(tok.String()); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// eachElement reads the JSON array at dec's position (a null as none),
// calling elem with each index; elem reads the element.
func eachElement(dec *jsontext.Decoder, goType reflect.Type, elem func(i int) error) error {
	if null, err := open(dec, '[', goType); null || err != nil {
		return err
	}
	for i := 0; dec.PeekKind() != ']'; i++ {
		if err := elem(i); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

// open reads the start of an object or an array (kind '{' or '['), or a
// null.
func open(dec *jsontext.Decoder, kind jsontext.Kind, goType reflect.Type) (null bool, err error) {
	switch k := dec.PeekKind(); k {
	case kind:
		_, err := dec.ReadToken()
		return false, err
	case 'n':
		_, err := dec.ReadToken()
		return true, err
	case 0: // the decoder's own error, which ReadToken returns
		if _, err := dec.ReadToken(); err != nil {
			return false, err
		}
		return false, io.ErrUnexpectedEOF
	default:
		off := dec.InputOffset()
		if err := dec.SkipValue(); err != nil {
			return false, err
		}
		// The pointer of the value just skipped.
		return false, &jsonv2.SemanticError{ByteOffset: off, JSONPointer: dec.StackPointer(), JSONKind: k, GoType: goType}
	}
}

// legacyArtifact is what a legacy report scanned, which it does not name
// apart: its first result's target, without the operating system Trivy
// adds to an image's ("alpine:3.10 (alpine 3.10.2)").
func legacyArtifact(target string) string {
	if i := strings.LastIndex(target, " ("); i > 0 && strings.HasSuffix(target, ")") {
		return target[:i]
	}
	return target
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
	report *vuln.Report
}

// results adds the findings of results (at JSON path path); resource is
// the Kubernetes resource they belong to, if any.
func (p trivyParse) results(path, resource string, results []trivyResult) error {
	for i, res := range results {
		at := fmt.Sprintf("%s[%d]", path, i)
		if err := p.result(at, resultTarget(resource, res.Target), res); err != nil {
			return err
		}
	}
	return nil
}

// resultTarget names a result's target within its Kubernetes resource,
// if any.
func resultTarget(resource, target string) string {
	if resource == "" {
		return target
	}
	return resource + ": " + target
}

func (p trivyParse) result(at, target string, res trivyResult) error {
	for j := range res.Vulnerabilities {
		if err := p.addVuln(at, j, target, res, &res.Vulnerabilities[j]); err != nil {
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

// addVuln adds the j-th vulnerability of a result: a finding, or, when
// Trivy says the package is not affected (its Status, from the vendor's
// advisory or a VEX document Trivy applied), a statement, which decides
// about a finding opened before and opens none.
func (p trivyParse) addVuln(at string, j int, target string, res trivyResult, v *trivyVuln) error {
	f, err := p.vuln(at, j, target, res, v)
	if err != nil || !strings.EqualFold(v.Status, "not_affected") {
		return p.add(f, err)
	}
	p.report.Statements = append(p.report.Statements, vuln.Statement{VulnID: f.VulnID, Aliases: f.Aliases, Product: f.Package,
		Status: "not_affected", Justification: "vulnerable_code_not_present",
		Impact: "Trivy reports the package not affected (status not_affected), as its vendor's advisory or a VEX document says"})
	return nil
}

func (p trivyParse) add(f vuln.Reported, err error) error {
	if err != nil {
		return err
	}
	p.report.Findings = append(p.report.Findings, f)
	return nil
}

// vuln reads the j-th vulnerability of the result at path at; the path of
// the vulnerability is only written out for an error, as a report may hold
// a hundred thousand.
func (p trivyParse) vuln(at string, j int, target string, res trivyResult, v *trivyVuln) (vuln.Reported, error) {
	if strings.TrimSpace(v.VulnerabilityID) == "" {
		return vuln.Reported{}, Errorf(p.file, fmt.Sprintf("%s.Vulnerabilities[%d].VulnerabilityID", at, j), "the vulnerability has no id")
	}
	score, vector, err := p.cvss(at, j, v)
	if err != nil {
		return vuln.Reported{}, err
	}
	sev, source, ok := severityOrFallback(v.Severity, score)
	if !ok {
		return vuln.Reported{}, p.badSeverity(fmt.Sprintf("%s.Vulnerabilities[%d]", at, j), v.Severity)
	}
	return vuln.Reported{
		VulnID:         strings.TrimSpace(v.VulnerabilityID),
		Aliases:        trivyAliases(v),
		Title:          v.Title, // interned as decoded
		Description:    v.Description,
		Severity:       sev,
		SeveritySource: source,
		CVSSScore:      score,
		CVSSVector:     vector,
		Package:        cmp.Or(v.PkgIdentifier.PURL, ecosystemName(res.Type, v.PkgName)),
		Version:        v.InstalledVersion,
		FixedVersion:   v.FixedVersion,
		Target:         target,
		References:     CapReferences(nonEmptyUnique(append([]string{v.PrimaryURL}, v.References...))),
	}, nil
}

func (p trivyParse) misconf(at, target string, res trivyResult, m trivyMisconf) (vuln.Reported, error) {
	id := cmp.Or(strings.TrimSpace(m.ID), strings.TrimSpace(m.AVDID))
	if id == "" {
		return vuln.Reported{}, Errorf(p.file, at+".ID", "the misconfiguration has no ID or AVDID")
	}
	sev, source, err := p.severity(at, m.Severity, 0)
	if err != nil {
		return vuln.Reported{}, err
	}
	return vuln.Reported{
		VulnID:         id,
		Aliases:        nonEmptyUnique([]string{m.AVDID}, id),
		Title:          m.Title,
		Description:    strings.Join(nonEmptyUnique([]string{m.Description, m.Message, m.Resolution}), "\n\n"),
		Severity:       sev,
		SeveritySource: source,
		Location:       codeLocation(res.Target, m.CauseMetadata.StartLine),
		Target:         target,
		References:     CapReferences(nonEmptyUnique(append([]string{m.PrimaryURL}, m.References...))),
	}, nil
}

func (p trivyParse) secret(at, target string, res trivyResult, s trivySecret) (vuln.Reported, error) {
	if strings.TrimSpace(s.RuleID) == "" {
		return vuln.Reported{}, Errorf(p.file, at+".RuleID", "the secret has no RuleID")
	}
	sev, source, err := p.severity(at, s.Severity, 0)
	if err != nil {
		return vuln.Reported{}, err
	}
	// Match is left out on purpose: even masked, it is part of a secret.
	return vuln.Reported{
		VulnID:         strings.TrimSpace(s.RuleID),
		Title:          s.Title,
		Description:    s.Category,
		Severity:       sev,
		SeveritySource: source,
		Location:       codeLocation(res.Target, s.StartLine),
		Target:         target,
	}, nil
}

func (p trivyParse) severity(at, word string, score float64) (vuln.Severity, string, error) {
	sev, source, ok := severityOrFallback(word, score)
	if !ok {
		return "", "", p.badSeverity(at, word)
	}
	return sev, source, nil
}

func (p trivyParse) badSeverity(at, word string) error {
	return Errorf(p.file, at+".Severity", "unknown severity %s; expected CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN", quoteShort(word))
}

// cvss picks one CVSS v3 score among the vendors': NVD's, else that of the
// vendor Trivy took the severity from, else the first by vendor name (a
// JSON object has no order a map keeps).
func (p trivyParse) cvss(at string, j int, v *trivyVuln) (float64, string, error) {
	pick := func(k string) (float64, string, bool, error) {
		c, ok := v.CVSS[k]
		if !ok || c.V3Score == 0 {
			return 0, "", false, nil
		}
		if c.V3Score < 0 || c.V3Score > 10 {
			return 0, "", false, Errorf(p.file, fmt.Sprintf("%s.Vulnerabilities[%d].CVSS.%s.V3Score", at, j, k), "CVSS score %v is outside 0–10", c.V3Score)
		}
		return c.V3Score, c.V3Vector, true, nil
	}
	for _, k := range []string{"nvd", v.SeveritySource} {
		if score, vector, ok, err := pick(k); ok || err != nil {
			return score, vector, err
		}
	}
	vendors := make([]string, 0, len(v.CVSS))
	for k := range v.CVSS {
		vendors = append(vendors, k)
	}
	slices.Sort(vendors)
	for _, k := range vendors {
		if score, vector, ok, err := pick(k); ok || err != nil {
			return score, vector, err
		}
	}
	return 0, "", nil
}

// trivyAliases keeps the CVE and GHSA ids among VendorIDs; the others
// (DSA, DLA, RHSA…) name advisories that fix several vulnerabilities, so
// merging findings on them would be wrong.
func trivyAliases(v *trivyVuln) []string {
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
func severityOrFallback(word string, score float64) (sev vuln.Severity, source string, ok bool) {
	if s, ok := vuln.ParseSeverity(word); ok {
		return s, "", true
	}
	w := strings.TrimSpace(word)
	switch {
	case w != "" && !strings.EqualFold(w, "unknown"):
		return "", "", false
	case score > 0:
		return vuln.SeverityFromCVSS(score), "cvss", true
	case w == "":
		return vuln.Medium, "assumed: the tool gave no severity", true
	}
	return vuln.Medium, "assumed: the tool said " + w, true
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
	if len(list)+len(exclude) <= 32 {
		// Most lists are short: compare instead of hashing into a map.
		var out []string
		for _, s := range list {
			if s != "" && !slices.Contains(exclude, s) && !slices.Contains(out, s) {
				if out == nil {
					out = make([]string, 0, len(list))
				}
				out = append(out, s)
			}
		}
		return out
	}
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
