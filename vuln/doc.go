// Package vuln is the one register of vulnerabilities (VM-1 … VM-8):
// every scanner's report and every external assessment lands here, on an
// asset, de-duplicated per (asset, vulnerability, package or code
// location) with the aliases of a vulnerability merged, with a due date
// from the remediation SLA of its risk. A finding that a newer complete
// scan by the same tool no longer reports is closed as fixed, verified by
// that scan, unless another tool's latest scan still reports it; one that
// comes back is reopened as a regression.
//
// An import is one transaction: the raw report is kept as ledger evidence,
// the scan, every new, fixed or reopened finding is ledgered with it, or
// nothing is.
//
// The register's vocabulary lives here, not in the parsers: a Severity,
// a Report as parsed with its Reported findings and VEX Statements, the
// Intel of a threat feed, a report's bytes as a Source. The importers
// (vuln/importers, one file per outside format) produce these types and
// so depend on vuln; the register never imports them. It asks for a
// format's Parser (a Streamer when the format can be read a part at a
// time) through Formats, which app passes to NewService
// (importers.Formats{}), and it tells a report it cannot read from its
// own failures by ErrInvalidReport. The store, too, speaks these types
// and never sees a parser.
package vuln
