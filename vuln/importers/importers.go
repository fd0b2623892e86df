// Package importers turns the reports of vulnerability scanners and of
// external assessments into one normalised Report. There is one file per
// outside format, each tested on the real samples of ../shared/fixtures/vuln
// and fuzzed; each parses into small local structs holding only the fields
// opsguard uses.
//
// An importer never half-accepts a report: a report it cannot read whole is
// an *Error naming the file and, where it can, the line and the JSON path.
package importers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

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

// Finding is one vulnerability (or weakness, or misconfiguration) at one
// place, as a report states it.
type Finding struct {
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
func (f Finding) Key() string {
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
	Findings   []Finding
	Statements []Statement
}

// Importer reads one format.
type Importer interface {
	// Name is the format's name, as given to --format.
	Name() string
	// Detect reports whether data looks like this format (cheaply: it is
	// called on every upload with --format auto).
	Detect(data []byte) bool
	// Parse reads a whole report; name is used in errors.
	Parse(name string, data []byte) (*Report, error)
}

var registry = map[string]Importer{}

// Register adds an importer; each format's file registers itself.
func Register(i Importer) {
	if _, dup := registry[i.Name()]; dup {
		panic("importers: " + i.Name() + " registered twice")
	}
	registry[i.Name()] = i
}

// Names lists the registered formats.
func Names() []string {
	var n []string
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Get returns the importer of a format.
func Get(name string) (Importer, bool) {
	i, ok := registry[name]
	return i, ok
}

// Detect finds the importer for data, or says what it expected.
func Detect(name string, data []byte) (Importer, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{File: name, Msg: "the report is empty"}
	}
	var found []Importer
	for _, n := range Names() {
		if registry[n].Detect(data) {
			found = append(found, registry[n])
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, &Error{File: name, Msg: "not a report of any known format; expected one of " + strings.Join(Names(), ", ") +
			" (Trivy or Grype JSON, osv-scanner JSON, SARIF 2.1.0, CycloneDX with vulnerabilities, OpenVEX, Dependabot alerts, an assessment CSV/JSON)"}
	}
	var names []string
	for _, i := range found {
		names = append(names, i.Name())
	}
	return nil, &Error{File: name, Msg: "the report matches several formats (" + strings.Join(names, ", ") + "): give --format"}
}

// For returns the importer of format, or the one that detects data when
// format is "" or "auto".
func For(name, format string, data []byte) (Importer, error) {
	if format == "" || format == "auto" {
		return Detect(name, data)
	}
	imp, ok := Get(format)
	if !ok {
		return nil, &Error{File: name, Msg: fmt.Sprintf("unknown format %q; one of auto, %s", format, strings.Join(Names(), ", "))}
	}
	return imp, nil
}

// Parse detects the format (when format is "" or "auto") and parses data.
func Parse(name, format string, data []byte) (*Report, error) {
	imp, err := For(name, format, data)
	if err != nil {
		return nil, err
	}
	r, err := imp.Parse(name, data)
	if err != nil {
		return nil, err
	}
	r.Format = imp.Name()
	return r, nil
}

// A Streamer is an importer that can pass a report's findings on as it
// reads them, a part at a time, so that a report of a hundred thousand
// findings is stored while it is read and never held whole.
type Streamer interface {
	Importer
	// Stream reads data and passes its findings to emit in parts of at
	// most part findings, in the order Parse lists them, with the report
	// as read so far (its Findings empty, its Format the importer's
	// name): its Target is known from the first part on, its ToolVersion
	// perhaps only at the end. It returns
	// the whole report without its findings. An error of emit stops the
	// reading and is returned as it is; a report it cannot read is an
	// *Error, as for Parse, perhaps after some parts were passed on.
	Stream(name string, src Source, part int, emit func(head *Report, findings []Finding) error) (*Report, error)
}

// A Source is a report's bytes, in memory (Bytes) or in a file (an
// *io.SectionReader), for a Streamer to read as it goes: a report of
// hundreds of megabytes uploaded to a server need not be held in memory.
type Source interface {
	io.ReaderAt
	Size() int64
}

// Bytes is a report in memory.
type Bytes []byte

// ReadAt implements io.ReaderAt.
func (b Bytes) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("importers: negative offset")
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Size is the report's length.
func (b Bytes) Size() int64 { return int64(len(b)) }

// Head returns the start of src, enough for Detect.
func Head(src Source) ([]byte, error) {
	if b, ok := src.(Bytes); ok {
		return b[:min(len(b), headSize)], nil
	}
	buf := make([]byte, min(src.Size(), headSize))
	n, err := src.ReadAt(buf, 0)
	if err == io.EOF && n == len(buf) {
		err = nil
	}
	return buf[:n], err
}

// headSize is how much of a report Detect is given: the importers look
// at the first 64 KiB, Dependabot's at its first alert.
const headSize = 1 << 20

// ReadAll returns the whole of src.
func ReadAll(src Source) ([]byte, error) {
	if b, ok := src.(Bytes); ok {
		return b, nil
	}
	return io.ReadAll(io.NewSectionReader(src, 0, src.Size()))
}
