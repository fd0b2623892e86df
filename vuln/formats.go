package vuln

import "errors"

// Formats reads the outside formats for the register: scanners' reports,
// assessments, VEX documents and threat feeds. The register declares what
// it asks of them and the parsers (vuln/importers) implement it, so that
// the register's types live here and the parsers depend on them, not the
// other way round; app passes importers.Formats{} to NewService.
type Formats interface {
	// For returns the parser of format, or the one that detects head (the
	// start of the report, see Head) when format is "" or "auto"; name is
	// the report's, for errors.
	For(name, format string, head []byte) (Parser, error)
	// Detect returns the parser that detects head.
	Detect(name string, head []byte) (Parser, error)
	// ParseFeed reads a threat feed (CISA KEV, EPSS).
	ParseFeed(name string, data []byte) (*Feed, error)
}

// A Parser reads one format. Its errors for a report it cannot read are
// ErrInvalidReport (errors.Is), so that the register answers them as the
// caller's, not as its own.
type Parser interface {
	// Name is the format's name, as given to --format.
	Name() string
	// Parse reads a whole report; name is used in errors.
	Parse(name string, data []byte) (*Report, error)
}

// A Streamer is a Parser that can pass a report's findings on as it reads
// them, a part at a time, so that a report of a hundred thousand findings
// is stored while it is read and never held whole.
type Streamer interface {
	Parser
	// Stream reads src and passes its findings to emit in parts of at
	// most part findings, in the order Parse lists them, with the report
	// as read so far (its Findings empty, its Format the parser's name):
	// its Target is known from the first part on, its ToolVersion perhaps
	// only at the end. It returns the whole report without its findings.
	// An error of emit stops the reading and is returned as it is; a
	// report it cannot read is an ErrInvalidReport, as for Parse, perhaps
	// after some parts were passed on.
	Stream(name string, src Source, part int, emit func(head *Report, findings []Reported) error) (*Report, error)
}

// ErrInvalidReport is what the error of a report that cannot be read is
// (errors.Is): the importers' located *importers.Error says so.
var ErrInvalidReport = errors.New("invalid report")
