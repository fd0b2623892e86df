package importers

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/opsguard/opsguard/vuln"
)

// assessmentImporter reads the findings of external assessments and
// penetration tests in opsguard's own assessment format, CSV or JSON, into
// which a vendor's PDF report is transcribed or its export converted.
//
// CSV: UTF-8 (a byte-order mark is allowed), comma-separated, quoted as in
// RFC 4180 (a quoted field may span lines), with a header row naming the
// columns, in any order and any case:
//
//	id,title,severity,cvss,cve,asset,location,description,recommendation,reference
//
// id, title and severity are required, as columns and as values; the other
// columns may be left out or left empty. Any other column is refused, so
// that a misspelt one is not silently dropped. Detection needs the header
// to start with id,title,severity; --format assessment reads any order.
//
// JSON: one object, the same fields in each finding, cvss a number:
//
//	{
//	  "assessment": {"vendor": "Acme Security", "date": "2025-03-14", "kind": "pentest", "target": "shop.example.com"},
//	  "findings": [{"id": "ACME-2025-01", "title": "SQL injection in search", "severity": "high", "cvss": 8.6,
//	                "asset": "https://shop.example.com", "location": "/search?q=", "description": "…",
//	                "recommendation": "…", "reference": "report §4.1"}]
//	}
//
// assessment.vendor is required; date (YYYY-MM-DD), kind (pentest or
// external-scan) and target (what was assessed) are optional but checked.
// Unknown fields are refused, as unknown columns are.
//
// The fields: id is the vendor's reference of the finding, unique within
// the file; severity is critical, high, medium (or moderate), low or info
// (or informational); cvss a CVSS base score from 0 to 10; cve a CVE id;
// asset the host, URL or application tested; location where on it (a URL
// path, host:port, a parameter); reference a URL or a section of the
// vendor's report.
//
// A finding's VulnID is its cve when given (its id becomes an alias), else
// its id; Location is its location, else its asset; its Asset is its
// asset, which wins over the asset the import is given. The report's Tool is
// the vendor (JSON) or "assessment" (CSV); its Target is the JSON's
// target, else the asset every finding names when they all name the same.
// An assessment samples an asset and proves no absence: it is never
// complete.
type assessmentImporter struct{}

func init() { Register(assessmentImporter{}) }

func (assessmentImporter) Name() string { return "assessment" }

func (assessmentImporter) Detect(data []byte) bool {
	d := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(d) > 0 && d[0] == '{' {
		return Sniff(d, "assessment", "findings")
	}
	if len(d) > 4096 {
		d = d[:4096]
	}
	line, _, _ := bytes.Cut(d, []byte("\n"))
	line = bytes.ToLower(bytes.TrimRight(line, "\r"))
	rest, ok := bytes.CutPrefix(line, []byte("id,title,severity"))
	return ok && (len(rest) == 0 || rest[0] == ',')
}

// assessmentColumns are the CSV's columns, the JSON's fields.
var assessmentColumns = []string{"id", "title", "severity", "cvss", "cve", "asset", "location", "description", "recommendation", "reference"}

type assessmentRow struct {
	ID             string   `json:"id"`
	Title          string   `json:"title"`
	Severity       string   `json:"severity"`
	CVSS           *float64 `json:"cvss"`
	CVE            string   `json:"cve"`
	Asset          string   `json:"asset"`
	Location       string   `json:"location"`
	Description    string   `json:"description"`
	Recommendation string   `json:"recommendation"`
	Reference      string   `json:"reference"`
}

type assessmentDoc struct {
	Assessment *struct {
		Vendor string `json:"vendor"`
		Date   string `json:"date"`
		Kind   string `json:"kind"`
		Target string `json:"target"`
	} `json:"assessment"`
	Findings []assessmentRow `json:"findings"`
}

func (assessmentImporter) Parse(name string, data []byte) (*vuln.Report, error) {
	if d := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(d) > 0 && d[0] == '{' {
		return assessmentJSON(name, data)
	}
	return assessmentCSV(name, data)
}

// assessmentBad locates a problem with a field of a finding.
type assessmentBad func(field, format string, args ...any) error

var assessmentCVE = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)

func (row assessmentRow) finding(bad assessmentBad) (vuln.Reported, error) {
	for _, req := range []struct{ field, v string }{{"id", row.ID}, {"title", row.Title}, {"severity", row.Severity}} {
		if req.v == "" {
			return vuln.Reported{}, bad(req.field, "the %s is required", req.field)
		}
	}
	sev, ok := vuln.ParseSeverity(row.Severity)
	if !ok {
		return vuln.Reported{}, bad("severity", "unknown severity %q; expected critical, high, medium, low or info", row.Severity)
	}
	f := vuln.Reported{VulnID: row.ID, Title: row.Title, Severity: sev, Description: row.Description,
		Target: row.Asset, Location: row.Location, Asset: row.Asset}
	if row.CVSS != nil {
		if v := *row.CVSS; !(v >= 0 && v <= 10) {
			return vuln.Reported{}, bad("cvss", "the CVSS score %v is not between 0 and 10", v)
		}
		f.CVSSScore = *row.CVSS
	}
	if row.CVE != "" {
		cve := strings.ToUpper(row.CVE)
		if !assessmentCVE.MatchString(cve) {
			return vuln.Reported{}, bad("cve", "%q is not a CVE id (CVE-YYYY-NNNN)", row.CVE)
		}
		f.VulnID, f.Aliases = cve, []string{row.ID}
	}
	if f.Location == "" {
		f.Location = row.Asset
	}
	if row.Recommendation != "" {
		f.Description = strings.TrimSpace(f.Description + "\n\nRecommendation: " + row.Recommendation)
	}
	if row.Reference != "" {
		f.References = []string{row.Reference}
	}
	return f, nil
}

func (row *assessmentRow) trim() {
	for _, p := range []*string{&row.ID, &row.Title, &row.Severity, &row.CVE, &row.Asset, &row.Location,
		&row.Description, &row.Recommendation, &row.Reference} {
		*p = strings.TrimSpace(*p)
	}
}

func assessmentCSV(name string, data []byte) (*vuln.Report, error) {
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	cr.FieldsPerRecord = -1 // a short row's missing trailing cells are empty
	header, err := cr.Read()
	if err != nil {
		return nil, assessmentCSVError(name, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		k := strings.ToLower(strings.TrimSpace(h))
		line, col := cr.FieldPos(i)
		if _, dup := cols[k]; dup {
			return nil, &Error{File: name, Line: line, Col: col, Path: h, Msg: fmt.Sprintf("column %q appears twice", h)}
		}
		known := false
		for _, c := range assessmentColumns {
			known = known || c == k
		}
		if !known {
			return nil, &Error{File: name, Line: line, Col: col, Path: h,
				Msg: fmt.Sprintf("unknown column %q; the columns are %s", h, strings.Join(assessmentColumns, ","))}
		}
		cols[k] = i
	}
	for _, req := range assessmentColumns[:3] {
		if _, ok := cols[req]; !ok {
			return nil, &Error{File: name, Line: 1, Path: req, Msg: "the required column " + req + " is missing; the header must name id, title and severity"}
		}
	}
	r := &vuln.Report{Tool: "assessment"}
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, assessmentCSVError(name, err)
		}
		if len(rec) > len(header) {
			line, col := cr.FieldPos(len(header))
			return nil, &Error{File: name, Line: line, Col: col,
				Msg: fmt.Sprintf("the row has %d fields, more than the header's %d columns", len(rec), len(header))}
		}
		get := func(k string) string {
			if i, ok := cols[k]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		bad := func(field, format string, args ...any) error {
			// A cell left out of a short row is shown at the row's last.
			i := min(cols[field], len(rec)-1)
			line, col := cr.FieldPos(i)
			return &Error{File: name, Line: line, Col: col, Path: field, Msg: fmt.Sprintf(format, args...)}
		}
		row := assessmentRow{ID: get("id"), Title: get("title"), Severity: get("severity"), CVE: get("cve"),
			Asset: get("asset"), Location: get("location"), Description: get("description"),
			Recommendation: get("recommendation"), Reference: get("reference")}
		if s := get("cvss"); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, bad("cvss", "%q is not a CVSS score (a number from 0 to 10)", s)
			}
			row.CVSS = &v
		}
		f, err := row.finding(bad)
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if prev, dup := seen[row.ID]; dup {
			return nil, bad("id", "the id %q is already used on line %d", row.ID, prev)
		}
		seen[row.ID] = line
		r.Findings = append(r.Findings, f)
	}
	assessmentTarget(r, "")
	return r, nil
}

func assessmentCSVError(name string, err error) error {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return &Error{File: name, Msg: "the report is empty"}
	case errors.As(err, &pe):
		return &Error{File: name, Line: pe.Line, Col: pe.Column, Msg: "invalid CSV: " + pe.Err.Error()}
	}
	return &Error{File: name, Msg: err.Error()}
}

func assessmentJSON(name string, data []byte) (*vuln.Report, error) {
	var doc assessmentDoc
	if err := DecodeJSON(name, data, &doc); err != nil {
		return nil, err
	}
	// A second, strict pass: a misspelt field must not vanish.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&assessmentDoc{}); err != nil {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		e := &Error{File: name, Msg: msg + "; an assessment has vendor, date, kind and target, a finding " + strings.Join(assessmentColumns, ", ")}
		if field, ok := strings.CutPrefix(msg, "unknown field "); ok {
			// The first place the name is used as a key, most likely it.
			if loc := regexp.MustCompile(regexp.QuoteMeta(field) + `\s*:`).FindIndex(data); loc != nil {
				e.Line, e.Col = LineCol(data, int64(loc[0]))
			}
			e.Path, _ = strconv.Unquote(field)
		}
		return nil, e
	}
	a := doc.Assessment
	if a == nil || strings.TrimSpace(a.Vendor) == "" {
		return nil, Errorf(name, "assessment.vendor", "the assessment needs its vendor: {\"assessment\": {\"vendor\": …}, \"findings\": […]}")
	}
	if a.Date != "" {
		if _, err := time.Parse(time.DateOnly, a.Date); err != nil {
			return nil, Errorf(name, "assessment.date", "%q is not a date (YYYY-MM-DD)", a.Date)
		}
	}
	if a.Kind != "" && a.Kind != "pentest" && a.Kind != "external-scan" {
		return nil, Errorf(name, "assessment.kind", "unknown kind %q; expected pentest or external-scan", a.Kind)
	}
	r := &vuln.Report{Tool: strings.TrimSpace(a.Vendor)}
	seen := map[string]int{}
	for i, row := range doc.Findings {
		row.trim()
		bad := func(field, format string, args ...any) error {
			return Errorf(name, fmt.Sprintf("findings[%d].%s", i, field), format, args...)
		}
		f, err := row.finding(bad)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[row.ID]; dup {
			return nil, bad("id", "the id %q is already used by findings[%d]", row.ID, prev)
		}
		seen[row.ID] = i
		r.Findings = append(r.Findings, f)
	}
	assessmentTarget(r, strings.TrimSpace(a.Target))
	return r, nil
}

// assessmentTarget sets the report's target: the one given, else the asset
// all findings share, which the findings then need not repeat.
func assessmentTarget(r *vuln.Report, target string) {
	common := ""
	for i, f := range r.Findings {
		if i == 0 {
			common = f.Target
		} else if f.Target != common {
			common = ""
			break
		}
	}
	if target == "" {
		target = common
	}
	r.Target = target
	if common != "" && common == target {
		for i := range r.Findings {
			r.Findings[i].Target = ""
		}
	}
}
