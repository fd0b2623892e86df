package vuln

import (
	"context"
	"strings"
	"time"

	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/ledger"
)

// Tx is what the register needs from a store transaction.
type Tx interface {
	ledger.Tx
	AssetByName(ctx context.Context, name string) (Asset, error)
	// InsertAsset stores an asset unless one of its name exists, and
	// reports whether it did.
	InsertAsset(ctx context.Context, a Asset) (bool, error)
	// LockAsset holds the imports of the asset named name (which may not
	// exist yet) until the transaction ends.
	LockAsset(ctx context.Context, name string) error
	InsertScan(ctx context.Context, s Scan) error
	// UpdateScanCounts stores what is known of a scan at the end of its
	// import: its tool's version and its counts.
	UpdateScanCounts(ctx context.Context, s Scan) error
	// UpdateFindingRisk stores a finding's severity, risk and due date
	// rated anew.
	UpdateFindingRisk(ctx context.Context, f Finding) error
	// AssetFindings returns every finding of an asset with its IDs and the
	// tools whose latest scans report it.
	AssetFindings(ctx context.Context, assetID string) ([]Finding, error)
	InsertFindings(ctx context.Context, fs []Finding, tool, scanID string) error
	AddFindingIDs(ctx context.Context, findingID string, ids []string) error
	// Intel returns what the threat feeds say of the given CVEs.
	Intel(ctx context.Context, cves []string) (map[string]Intel, error)
	// SeenAgain records that scanID (by tool) reports the findings had and
	// added: the rows for tool of those that had one point at it, those
	// added get one; so their last_seen is the scan's time.
	SeenAgain(ctx context.Context, had, added []string, tool, scanID string) error
	RemoveFindingTool(ctx context.Context, findingID, tool string) error
	// ScanByEvidence returns the newest scan of the report with the given
	// evidence reference, LatestScan the newest scan of an asset by a tool.
	ScanByEvidence(ctx context.Context, evidence string) (Scan, error)
	LatestScan(ctx context.Context, assetID, tool string) (Scan, error)
	// ClosedFindingsOfScan returns the closed findings whose tool rows
	// point at the scan; ScanSeen records that those rows' findings were
	// reported again at a time (by a scan repeating it) and counts them.
	ClosedFindingsOfScan(ctx context.Context, scanID string) ([]Finding, error)
	ScanSeen(ctx context.Context, scanID string, at time.Time) (int, error)
	UpdateFindingState(ctx context.Context, f Finding) error
	ListFindings(ctx context.Context, f Filter) ([]Finding, int, error)
	CountFindings(ctx context.Context, f Filter) (int, error)
	FindingByID(ctx context.Context, id string) (Finding, error)
}

// Store runs transactions.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Service is the register.
type Service struct {
	store   Store
	log     *ledger.Log
	cfg     config.Vuln
	formats Formats
	now     func() time.Time
	slots   chan struct{} // imports running (see Admit)
}

// Options are what a Service is given beyond its store, ledger and config.
type Options struct {
	// Formats reads the reports and feeds: importers.Formats{}. It is
	// required, so that a service wired without parsers fails at start,
	// not at its first import.
	Formats Formats
	Now     func() time.Time
}

// NewService returns the register over store and log, with the SLAs of cfg.
func NewService(store Store, log *ledger.Log, cfg config.Vuln, opts Options) *Service {
	if opts.Formats == nil {
		panic("vuln: NewService without Options.Formats")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{store: store, log: log, cfg: cfg, formats: opts.Formats, now: opts.Now,
		slots: make(chan struct{}, max(1, cfg.MaxConcurrentImports))}
}

// clean makes a report's text storable in either engine: valid UTF-8
// without NUL, which PostgreSQL's text refuses (real reports carry both).
func clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

func cleanFinding(in Reported) Reported {
	in.VulnID, in.Title, in.Description, in.SeveritySource = clean(in.VulnID), clean(in.Title), clean(in.Description), clean(in.SeveritySource)
	in.CVSSVector, in.Package, in.Version, in.FixedVersion = clean(in.CVSSVector), clean(in.Package), clean(in.Version), clean(in.FixedVersion)
	in.Location, in.Target = clean(in.Location), clean(in.Target)
	for i, a := range in.Aliases {
		in.Aliases[i] = clean(a)
	}
	return in
}

// cves are the CVE ids among the findings' identifiers.
func cves(fs []Reported) []string {
	var out []string
	for _, f := range fs {
		out = append(out, cveIDs(ids(f))...)
	}
	return out
}

// cveIDs are the CVE ids among xs.
func cveIDs(xs []string) []string {
	var out []string
	for _, x := range xs {
		if strings.HasPrefix(x, "CVE-") {
			out = append(out, x)
		}
	}
	return out
}

func intelOf(xs []string, intel map[string]Intel) []Intel {
	var out []Intel
	for _, x := range xs {
		if in, ok := intel[x]; ok {
			out = append(out, in)
		}
	}
	return out
}

// ids are every identifier of an incoming finding.
func ids(in Reported) []string {
	out := []string{in.VulnID}
	for _, a := range in.Aliases {
		if a != "" && a != in.VulnID {
			out = append(out, a)
		}
	}
	return out
}

// newIDs are the identifiers of in that f does not know yet.
func newIDs(f *Finding, in Reported) []string {
	var out []string
	for _, x := range ids(in) {
		if _, ok := f.IDs[x]; !ok {
			f.IDs[x] = struct{}{}
			out = append(out, x)
		}
	}
	return out
}

func rank(s Severity) int {
	for i, x := range Severities {
		if x == s {
			return i
		}
	}
	return len(Severities)
}
