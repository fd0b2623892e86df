// Package importers turns the reports of vulnerability scanners and of
// external assessments into one normalised vuln.Report. There is one file
// per outside format, each tested on the real samples of
// ../shared/fixtures/vuln and fuzzed; each parses into small local structs
// holding only the fields opsguard uses.
//
// The types it produces (vuln.Report, vuln.Reported, vuln.Statement,
// vuln.Severity, vuln.Intel, vuln.Source) are the register's and live in
// package vuln: the parsers depend on the register, not the other way
// round. The register asks for parsers through vuln.Formats, which
// Formats implements over the registered importers; app passes it in.
//
// An importer never half-accepts a report: a report it cannot read whole is
// an *Error naming the file and, where it can, the line and the JSON path
// (an *Error is vuln.ErrInvalidReport).
package importers

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/opsguard/opsguard/vuln"
)

// Importer reads one format.
type Importer interface {
	// Name is the format's name, as given to --format.
	Name() string
	// Detect reports whether data looks like this format (cheaply: it is
	// called on every upload with --format auto).
	Detect(data []byte) bool
	// Parse reads a whole report; name is used in errors.
	Parse(name string, data []byte) (*vuln.Report, error)
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
func Parse(name, format string, data []byte) (*vuln.Report, error) {
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

// Formats is the registered importers and the feed parser as the register
// asks for them (vuln.Formats).
type Formats struct{}

var _ vuln.Formats = Formats{}

// For implements vuln.Formats with the package's For.
func (Formats) For(name, format string, head []byte) (vuln.Parser, error) {
	return For(name, format, head)
}

// Detect implements vuln.Formats with the package's Detect.
func (Formats) Detect(name string, head []byte) (vuln.Parser, error) {
	return Detect(name, head)
}

// ParseFeed implements vuln.Formats with the package's ParseFeed.
func (Formats) ParseFeed(name string, data []byte) (*vuln.Feed, error) {
	return ParseFeed(name, data)
}
