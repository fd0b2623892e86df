package vuln

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/vuln/importers"
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
	Intel(ctx context.Context, cves []string) (map[string]importers.Intel, error)
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
	// point at the scan; MoveScan points the tool rows that point at scan
	// from at scan to instead, and returns how many there are.
	ClosedFindingsOfScan(ctx context.Context, scanID string) ([]Finding, error)
	MoveScan(ctx context.Context, from, to string) (int, error)
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
	store Store
	log   *ledger.Log
	cfg   config.Vuln
	now   func() time.Time
	slots chan struct{} // imports running (see Admit)
}

// NewService returns the register over store and log, with the SLAs of cfg.
func NewService(store Store, log *ledger.Log, cfg config.Vuln, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, log: log, cfg: cfg, now: now, slots: make(chan struct{}, max(1, cfg.MaxConcurrentImports))}
}

// ImportRequest is one report to import.
type ImportRequest struct {
	Asset     string // the asset's name; default: the report's target
	AssetKind string // image, repository, host, application, url, other
	File      string // the report's name, for errors and the record
	Format    string // an importer's name, or "auto"
	Data      []byte
	// Source, when Data is nil, holds the report in a file: a format that
	// streams (Trivy) is read from it as it is stored, so that a report of
	// hundreds of megabytes is never held in memory.
	Source importers.Source
}

// Content is where the request's report is read from: Source, or Data.
func (req ImportRequest) Content() importers.Source {
	if req.Data == nil && req.Source != nil {
		return req.Source
	}
	return importers.Bytes(req.Data)
}

// head is the start of the report, for detecting its format.
func (req ImportRequest) head() ([]byte, error) {
	h, err := importers.Head(req.Content())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", req.File, err)
	}
	return h, nil
}

// Summary says what an import changed.
type Summary struct {
	Scan       string `json:"scan"`
	Asset      string `json:"asset"`
	Format     string `json:"format"`
	Tool       string `json:"tool"`
	Findings   int    `json:"findings"`   // in the report, after merging duplicates
	New        int    `json:"new"`        // opened by this import
	Unchanged  int    `json:"unchanged"`  // already known
	Fixed      int    `json:"fixed"`      // closed: absent from this complete scan
	Reopened   int    `json:"reopened"`   // fixed before, reported again
	Statements int    `json:"statements"` // VEX statements in the report
	Decided    int    `json:"decided"`    // findings the report's statements (VEX, dismissed alerts) closed or sent for approval
	LedgerSeq  int64  `json:"ledger_seq"`
	// Assets are the assets the report's findings were recorded on when
	// they name several (an assessment's rows): Scan and Asset are then
	// the first's, the counts the sums of all.
	Assets []string `json:"assets,omitempty"`
}

// Import reads a report and records it on its asset in one transaction.
func (s *Service) Import(ctx context.Context, actor string, req ImportRequest) (Summary, error) {
	if err := checkAssetName(strings.TrimSpace(req.Asset), "asset"); err != nil {
		return Summary{}, err
	}
	ctx, release, err := s.Admit(ctx)
	if err != nil {
		return Summary{}, err
	}
	defer release()
	// The report is hashed once, before anything else: a report that is
	// byte for byte the last one of its tool on its asset needs no parsing.
	src := req.Content()
	var blob ledger.Blob
	if data, inMemory := src.(importers.Bytes); inMemory {
		blob = ledger.NewBlob("application/octet-stream", data)
	} else {
		if blob, err = ledger.NewBlobFrom("application/octet-stream", src, src.Size()); err != nil {
			return Summary{}, fmt.Errorf("import %s: %w", req.File, err)
		}
	}
	if sum, ok, err := s.importAgain(ctx, actor, req, blob); ok || err != nil {
		return sum, err
	}
	kind := cmp.Or(req.AssetKind, "other")
	if !slices.Contains(AssetKinds, kind) {
		return Summary{}, &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("asset kind %q: one of %s", kind, strings.Join(AssetKinds, ", ")), Details: map[string]any{"field": "kind"}}
	}
	head, err := req.head()
	if err != nil {
		return Summary{}, err
	}
	imp, err := importers.For(req.File, req.Format, head)
	if err != nil {
		return Summary{}, invalidReport(err)
	}
	if st, ok := imp.(importers.Streamer); ok {
		return s.importStream(ctx, actor, req, kind, blob, st)
	}
	data, err := importers.ReadAll(src)
	if err != nil {
		return Summary{}, fmt.Errorf("read %s: %w", req.File, err)
	}
	rep, err := imp.Parse(req.File, data)
	if err != nil {
		return Summary{}, invalidReport(err)
	}
	rep.Format = imp.Name()
	// A VEX document decides about findings without being a scan; a complete
	// scan with only decisions (every Dependabot alert fixed) is a scan.
	if len(rep.Findings) == 0 && len(rep.Statements) > 0 && !rep.Complete {
		if strings.TrimSpace(req.Asset) == "" {
			return Summary{}, &opsguard.Error{Code: opsguard.EInvalid, Message: req.File + ": a VEX document decides about an asset's findings: give the asset", Details: map[string]any{"field": "asset"}}
		}
		return s.applyVEX(ctx, actor, clean(strings.TrimSpace(req.Asset)), req.File, data, rep)
	}
	fs, maxText := rep.Findings, s.cfg.MaxTextBytes
	rep.Findings = nil
	if groups := byAsset(req, fs); groups != nil {
		return s.importByAsset(ctx, actor, kind, blob, rep, groups)
	}
	return s.importParts(ctx, actor, req, kind, blob, partsOf(rep, fs, maxText))
}

// partsOf hands an import the findings fs of rep a part at a time.
func partsOf(rep *importers.Report, fs []importers.Finding, maxText int) parts {
	return func() (*importers.Report, []importers.Finding, error) {
		part := fs[:min(importPart, len(fs))]
		fs = fs[len(part):]
		if len(part) == 0 {
			return rep, nil, nil
		}
		return rep, prepare(part, maxText), nil
	}
}

// assetGroup is the findings of a report on one asset, and the request
// that records them there.
type assetGroup struct {
	req ImportRequest
	fs  []importers.Finding
}

// byAsset splits a report's findings by the asset each names (an
// assessment's rows), the request's asset for those that name none, that
// one first; nil when none names one.
func byAsset(req ImportRequest, fs []importers.Finding) []assetGroup {
	at := map[string]int{"": 0}
	groups := []assetGroup{{req: req}}
	for _, f := range fs {
		name := strings.TrimSpace(f.Asset)
		if name == strings.TrimSpace(req.Asset) {
			name = ""
		}
		i, ok := at[name]
		if !ok {
			i, at[name] = len(groups), len(groups)
			g := assetGroup{req: req}
			g.req.Asset = name
			groups = append(groups, g)
		}
		groups[i].fs = append(groups[i].fs, f)
	}
	if len(groups) == 1 {
		return nil
	}
	if len(groups[0].fs) == 0 {
		groups = groups[1:]
	}
	return groups
}

// importByAsset records each group of a report's findings on its asset,
// all in one transaction, and sums up what changed.
func (s *Service) importByAsset(ctx context.Context, actor, kind string, blob ledger.Blob, rep *importers.Report, groups []assetGroup) (Summary, error) {
	var total Summary
	err := s.store.Update(ctx, func(tx Tx) error {
		// Every asset is held first, in the order of their names, and the
		// ledger after: two imports of the same assets never wait for each
		// other in a cycle.
		var names []string
		for _, g := range groups {
			if err := checkAssetName(strings.TrimSpace(g.req.Asset), g.req.File+": a row's asset"); err != nil {
				return err
			}
			name, err := assetName(g.req, rep)
			if err != nil {
				return err
			}
			names = append(names, name)
		}
		for _, name := range slices.Sorted(slices.Values(names)) {
			if err := tx.LockAsset(ctx, name); err != nil {
				return fmt.Errorf("lock asset %s: %w", name, err)
			}
		}
		for i, g := range groups {
			var sum Summary
			if err := s.record(ctx, tx, actor, kind, g.req, blob, partsOf(rep, g.fs, s.cfg.MaxTextBytes), &sum); err != nil {
				return err
			}
			if i == 0 {
				total = sum
			} else {
				total.Findings, total.New, total.Unchanged = total.Findings+sum.Findings, total.New+sum.New, total.Unchanged+sum.Unchanged
				total.Fixed, total.Reopened, total.Decided = total.Fixed+sum.Fixed, total.Reopened+sum.Reopened, total.Decided+sum.Decided
				total.LedgerSeq = sum.LedgerSeq
			}
			total.Assets = append(total.Assets, sum.Asset)
		}
		return nil
	})
	if err != nil {
		return Summary{}, importError(groups[0].req, err)
	}
	return total, nil
}

// parts hands an import a report's findings a part at a time, prepared:
// the report as read so far and the next part; at the end a nil part and
// the whole report.
type parts func() (*importers.Report, []importers.Finding, error)

// prepare makes a part of a report's findings storable, their texts cut
// at maxText bytes, and merges those that are one finding, in place.
func prepare(part []importers.Finding, maxText int) []importers.Finding {
	for i := range part {
		part[i] = capTexts(cleanFinding(part[i]), maxText)
		// The register keeps no references: let them go now, they can be
		// a third of a large report's memory.
		part[i].References = nil
	}
	return part
}

// importStream imports a report read by a Streamer: it is parsed by a
// goroutine while the parts it has read are stored, so that reading and
// storing take two processors instead of one after the other, and the
// report's findings are never all held at once.
func (s *Service) importStream(ctx context.Context, actor string, req ImportRequest, kind string, blob ledger.Blob, st importers.Streamer) (Summary, error) {
	type read struct {
		head *importers.Report
		fs   []importers.Finding
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan read, 1)
	go func() {
		defer close(ch)
		// A reader's bug must fail this import, not the server: a panic
		// here is out of reach of the HTTP server's recovery.
		defer func() {
			if v := recover(); v != nil {
				err := fmt.Errorf("reading %s: internal error: %v", req.File, v)
				select {
				case ch <- read{err: err}:
				case <-ctx.Done():
				}
			}
		}()
		rep, err := st.Stream(req.File, req.Content(), importPart, func(head *importers.Report, fs []importers.Finding) error {
			// Prepared here, while the import stores the part before.
			fs = prepare(fs, s.cfg.MaxTextBytes)
			select {
			case ch <- read{head: head, fs: fs}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		select {
		case ch <- read{head: rep, err: err}:
		case <-ctx.Done():
		}
	}()
	defer func() {
		// The reader stops at its next part; the request's bytes are the
		// caller's again only once it has.
		cancel()
		for range ch {
		}
	}()
	return s.importParts(ctx, actor, req, kind, blob, func() (*importers.Report, []importers.Finding, error) {
		r, ok := <-ch
		switch {
		case !ok:
			return nil, nil, errors.New("the report's reader stopped")
		case r.err != nil:
			return nil, nil, r.err
		}
		return r.head, r.fs, nil
	})
}

// importParts records the parts of a report in one transaction.
func (s *Service) importParts(ctx context.Context, actor string, req ImportRequest, kind string, blob ledger.Blob, next parts) (Summary, error) {
	var sum Summary
	err := s.store.Update(ctx, func(tx Tx) error {
		return s.record(ctx, tx, actor, kind, req, blob, next, &sum)
	})
	if err != nil {
		return Summary{}, importError(req, err)
	}
	return sum, nil
}

// importError is the error of an import that failed: an invalid report's
// as it is, any other with the file named.
func importError(req ImportRequest, err error) error {
	var oe *opsguard.Error
	switch {
	case errors.As(err, new(*importers.Error)):
		return invalidReport(err)
	case errors.As(err, &oe) && oe.Code == opsguard.EInvalid:
		return oe
	}
	return fmt.Errorf("import %s: %w", req.File, err)
}

// invalidReport is the error of a report that cannot be read.
func invalidReport(err error) error {
	return &opsguard.Error{Code: opsguard.EInvalid, Message: err.Error()}
}

// assetName is the asset a report is recorded on: the one the request
// names, else the report's target.
func assetName(req ImportRequest, rep *importers.Report) (string, error) {
	name := clean(strings.TrimSpace(req.Asset))
	if name == "" {
		name = clean(rep.Target)
		if err := checkAssetName(name, req.File+": the report's target, the asset's name,"); err != nil {
			return "", err
		}
	}
	if name == "" {
		return "", &opsguard.Error{Code: opsguard.EInvalid, Message: req.File + ": the report names no target: give the asset", Details: map[string]any{"field": "asset"}}
	}
	return name, nil
}

func (s *Service) record(ctx context.Context, tx Tx, actor, kind string, req ImportRequest, blob ledger.Blob, next parts, sum *Summary) error {
	rep, part, err := next()
	if err != nil {
		return err
	}
	name, err := assetName(req, rep)
	if err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	asset, err := s.asset(ctx, tx, actor, name, kind, now)
	if err != nil {
		return err
	}
	if err := s.log.Put(ctx, tx, blob); err != nil {
		return err
	}
	// The scan's time is the last_seen of every finding it reports. Its
	// counts and the tool's version are known at the end.
	tool := clean(rep.Tool)
	scan := Scan{ID: id.New("scn"), AssetID: asset.ID, Format: rep.Format, Tool: tool, ToolVersion: clean(rep.ToolVersion),
		Target: clean(rep.Target), Complete: rep.Complete, Evidence: blob.Ref(), ImportedAt: now, ImportedBy: actor}
	*sum = Summary{Scan: scan.ID, Asset: name, Format: rep.Format, Tool: tool}
	if err := tx.InsertScan(ctx, scan); err != nil {
		return err
	}
	existing, err := tx.AssetFindings(ctx, asset.ID)
	if err != nil {
		return err
	}
	ix := newIndex(existing, len(part))
	// The findings are recorded a part at a time, each part's new findings
	// stored and its events appended before the next is read, so that
	// neither the report's findings nor the new ones are all held at once:
	// the index keeps of a stored finding only what matches it again.
	app, err := s.log.Begin(ctx, tx)
	if err != nil {
		return err
	}
	var fresh []Finding // opened by this part; the index holds their positions
	var events []ledger.Event
	var had, added []string // known findings reported, with and without a row for this tool
	seen := map[string]bool{}
	for ; part != nil; rep, part, err = next() {
		intel, err := tx.Intel(ctx, cves(part))
		if err != nil {
			return err
		}
		for _, in := range part {
			r := ix.match(in)
			switch i, opened := r.fresh(); {
			case opened:
				// Opened by this part: the report states it twice.
				s.restatedFresh(&fresh[i], in, intel)
			case r.n != nil:
				// Opened by this import from an earlier part.
				ev, err := s.restated(ctx, tx, actor, r.n, in, now)
				if err != nil {
					return err
				}
				if ev != nil {
					events = append(events, *ev)
				}
			case r.old != nil:
				f := r.old
				if ids := newIDs(f, in); len(ids) > 0 {
					if err := tx.AddFindingIDs(ctx, f.ID, ids); err != nil {
						return err
					}
				}
				if seen[f.ID] {
					break
				}
				seen[f.ID] = true
				if slices.Contains(f.Tools, tool) {
					had = append(had, f.ID)
				} else {
					added = append(added, f.ID)
				}
				ev, err := s.reopen(ctx, tx, actor, f, scan.ID)
				if err != nil {
					return err
				}
				if ev != nil {
					sum.Reopened++
					events = append(events, *ev)
				} else {
					sum.Unchanged++
				}
			default:
				fresh = append(fresh, s.newFinding(asset, in, intelOf(ids(in), intel), now))
				r = freshRef(len(fresh) - 1)
			}
			ix.point(in, r)
		}
		if err := tx.InsertFindings(ctx, fresh, tool, scan.ID); err != nil {
			return err
		}
		// The opened events come once the part has said all it says of
		// its new findings.
		if _, err := app.Add(openedEvents(actor, name, scan.ID, fresh)...); err != nil {
			return err
		}
		if _, err := app.Add(events...); err != nil {
			return err
		}
		sum.New += len(fresh)
		for i := range fresh {
			ix.stored(i, &fresh[i])
		}
		// Let this part go: its findings, new findings and events.
		clear(part)
		clear(fresh)
		clear(events)
		fresh, events = fresh[:0], events[:0]
	}
	if err != nil {
		return err
	}
	// rep is the whole report now.
	sum.Findings, sum.Statements = sum.New+sum.Unchanged+sum.Reopened, len(rep.Statements)
	scan.ToolVersion, scan.Findings, scan.Statements = clean(rep.ToolVersion), sum.Findings, sum.Statements
	if err := tx.UpdateScanCounts(ctx, scan); err != nil {
		return err
	}
	// The report's statements (Dependabot's dismissed alerts) are about
	// findings it does not list as open: those still there are reported
	// all the same, and not closed as fixed.
	decisions := setAside(existing, seen, rep.Statements, name)
	for _, d := range decisions {
		if slices.Contains(d.f.Tools, tool) {
			had = append(had, d.f.ID)
		} else {
			added = append(added, d.f.ID)
		}
	}
	if err := tx.SeenAgain(ctx, had, added, tool, scan.ID); err != nil {
		return err
	}
	if rep.Complete {
		fixed, err := s.closeAbsent(ctx, tx, actor, existing, seen, tool, scan.ID, now)
		if err != nil {
			return err
		}
		sum.Fixed = len(fixed)
		events = append(events, fixed...)
	}
	if _, err := app.Add(events...); err != nil {
		return err
	}
	if err := app.Close(); err != nil {
		return err
	}
	// Then what the statements decide, through the workflow as by hand,
	// and the scan's own entry last.
	if len(decisions) > 0 {
		wtx, err := workflowTx(tx)
		if err != nil {
			return err
		}
		for _, d := range decisions {
			done, err := s.applyStatement(ctx, wtx, Actor{Name: actor}, d.f.ID, d.st)
			if err != nil {
				return fmt.Errorf("statement on %s: %w", d.st.VulnID, err)
			}
			if done {
				sum.Decided++
			}
		}
	}
	es, err := s.log.Append(ctx, tx, scanImported(actor, name, req.File, scan, *sum))
	if err != nil {
		return err
	}
	sum.LedgerSeq = es[len(es)-1].Seq
	return nil
}

// decision is a report's statement about one of the asset's findings.
type decision struct {
	f  *Finding
	st importers.Statement
}

// setAside returns the findings of existing, open and not reported by the
// scan (seen), that a statement of the report other than fixed speaks of
// (a fixed one is closed as fixed by the scan itself), and marks them seen.
func setAside(existing []Finding, seen map[string]bool, statements []importers.Statement, asset string) []decision {
	var out []decision
	for _, st := range statements {
		if st.Status == "fixed" {
			continue
		}
		for i := range existing {
			f := &existing[i]
			if f.Status == Closed || seen[f.ID] || !speaksOf(st, *f, asset) {
				continue
			}
			seen[f.ID] = true
			out = append(out, decision{f, st})
		}
	}
	return out
}

// restatedFresh merges into a finding this part opened what the report
// says of it again: its other ids, and a more severe statement, which
// rates it anew.
func (s *Service) restatedFresh(f *Finding, in importers.Finding, intel map[string]importers.Intel) {
	more := rank(in.Severity) < rank(f.Severity)
	if more {
		f.Severity, f.SeverityNote, f.CVSSScore, f.CVSSVector = in.Severity, in.SeveritySource, in.CVSSScore, in.CVSSVector
	}
	added := false
	for _, x := range ids(in) {
		if _, ok := f.IDs[x]; !ok {
			f.IDs[x] = struct{}{}
			// Clipped: the aliases may share their array with the report's.
			f.Aliases, added = append(slices.Clip(f.Aliases), x), true
		}
	}
	if more || added {
		f.SLADays, f.Risk, f.RiskNote = assess(s.cfg, f.Severity, intelOf(append([]string{f.VulnID}, f.Aliases...), intel))
		f.DueAt = f.FirstSeen.AddDate(0, 0, f.SLADays)
	}
}

// openedEvents are the ledger events of the findings a part opened.
func openedEvents(actor, asset, scanID string, fresh []Finding) []ledger.Event {
	events := make([]ledger.Event, len(fresh))
	for i := range fresh {
		nf := &fresh[i]
		events[i] = ledger.Event{Actor: actor, Kind: "finding.opened", Subject: "finding/" + nf.ID,
			Payload: opened{Scan: scanID, Asset: asset, Vuln: nf.VulnID, Package: nf.Package, Location: nf.Location,
				Severity: nf.Severity, Risk: nf.Risk, DueAt: nf.DueAt, SLA: nf.RiskNote}}
	}
	return events
}

// restated merges into a finding this import opened from an earlier part
// what the report says of it again: its other ids, and a more severe
// statement, which rates it anew as the merge of one part would have.
func (s *Service) restated(ctx context.Context, tx Tx, actor string, n *storedFinding, in importers.Finding, now time.Time) (*ledger.Event, error) {
	f := n.finding()
	if ids := newIDs(f, in); len(ids) > 0 {
		n.ids = append(n.ids, ids...)
		if err := tx.AddFindingIDs(ctx, n.id, ids); err != nil {
			return nil, err
		}
	}
	if rank(in.Severity) >= rank(n.severity) {
		return nil, nil
	}
	from := map[string]any{"severity": n.severity, "risk": n.risk, "sla_days": n.slaDays}
	all, err := tx.Intel(ctx, cveIDs(n.ids))
	if err != nil {
		return nil, err
	}
	days, risk, note := assess(s.cfg, in.Severity, intelOf(n.ids, all))
	f.Severity, f.SeverityNote, f.CVSSScore, f.CVSSVector = in.Severity, in.SeveritySource, in.CVSSScore, in.CVSSVector
	f.Risk, f.SLADays, f.DueAt, f.RiskNote = risk, days, now.AddDate(0, 0, days), note
	if err := tx.UpdateFindingRisk(ctx, *f); err != nil {
		return nil, err
	}
	n.severity, n.risk, n.slaDays = in.Severity, risk, days
	return &ledger.Event{Actor: actor, Kind: "finding.risk_changed", Subject: "finding/" + n.id,
		Payload: map[string]any{"from": from, "severity": in.Severity, "risk": risk, "sla_days": days, "due_at": f.DueAt,
			"why": "the report states it again with severity " + string(in.Severity) + "; " + note}}, nil
}

// importPart is how many of a report's findings an import records at a
// time (a variable for the tests).
var importPart = 5000

// reopen opens again a finding closed as fixed that scanID reports, and
// returns the event that records it; nil when the finding was not fixed.
func (s *Service) reopen(ctx context.Context, tx Tx, actor string, f *Finding, scanID string) (*ledger.Event, error) {
	if f.Status != Closed || f.Resolution != Fixed {
		return nil, nil
	}
	f.Status, f.Resolution, f.ClosedAt, f.FixedByScan, f.Regression = Open, "", nil, "", true
	if err := tx.UpdateFindingState(ctx, *f); err != nil {
		return nil, err
	}
	return &ledger.Event{Actor: actor, Kind: "finding.reopened", Subject: "finding/" + f.ID,
		Payload: map[string]any{"scan": scanID, "regression": true}}, nil
}

// scanImported is the ledger event of an imported scan.
func scanImported(actor, asset, file string, scan Scan, sum Summary) ledger.Event {
	return ledger.Event{Actor: actor, Kind: "scan.imported", Subject: "scan/" + scan.ID,
		Payload: map[string]any{"asset": asset, "asset_id": scan.AssetID, "file": file, "format": scan.Format, "tool": scan.Tool,
			"tool_version": scan.ToolVersion, "target": scan.Target, "complete": scan.Complete, "evidence": []string{scan.Evidence},
			"findings": sum.Findings, "new": sum.New, "unchanged": sum.Unchanged, "fixed": sum.Fixed, "reopened": sum.Reopened,
			"statements": sum.Statements, "decided": sum.Decided}}
}

// opened is the ledger payload of a new finding: a struct, because an
// import may write a hundred thousand of them and maps marshal slowly.
type opened struct {
	Scan     string             `json:"scan"`
	Asset    string             `json:"asset"`
	Vuln     string             `json:"vuln"`
	Package  string             `json:"package,omitempty"`
	Location string             `json:"location,omitempty"`
	Severity importers.Severity `json:"severity"`
	Risk     Risk               `json:"risk"`
	DueAt    time.Time          `json:"due_at"`
	SLA      string             `json:"sla"`
}

// closeAbsent drops this tool from the open findings it no longer reports
// and closes those no tool reports any more as fixed, verified by scanID.
func (s *Service) closeAbsent(ctx context.Context, tx Tx, actor string, existing []Finding, seen map[string]bool, tool, scanID string, now time.Time) ([]ledger.Event, error) {
	var events []ledger.Event
	for i := range existing {
		f := &existing[i]
		if f.Status == Closed || seen[f.ID] || !slices.Contains(f.Tools, tool) {
			continue
		}
		if err := tx.RemoveFindingTool(ctx, f.ID, tool); err != nil {
			return nil, err
		}
		if len(f.Tools) > 1 {
			continue // another tool's latest scan still reports it
		}
		at := now
		f.Status, f.Resolution, f.ClosedAt, f.FixedByScan = Closed, Fixed, &at, scanID
		if err := tx.UpdateFindingState(ctx, *f); err != nil {
			return nil, err
		}
		events = append(events, ledger.Event{Actor: actor, Kind: "finding.fixed", Subject: "finding/" + f.ID,
			Payload: map[string]any{"verified_by_scan": scanID, "tool": tool, "vuln": f.VulnID}})
	}
	return events, nil
}

// asset returns the asset an import records a report on, created if need
// be, and holds the other imports of it until the transaction ends: an
// import reads the asset's findings, and one on another replica must not
// read them before this one has written what it decides.
func (s *Service) asset(ctx context.Context, tx Tx, actor, name, kind string, now time.Time) (Asset, error) {
	if err := tx.LockAsset(ctx, name); err != nil {
		return Asset{}, fmt.Errorf("lock asset %s: %w", name, err)
	}
	a, err := tx.AssetByName(ctx, name)
	if err == nil || opsguard.ErrorCode(err) != opsguard.ENotFound {
		return a, err
	}
	a = Asset{ID: id.New("ast"), Name: name, Kind: kind, CreatedAt: now}
	created, err := tx.InsertAsset(ctx, a)
	if err != nil {
		return a, err
	}
	if !created { // by another import since
		return tx.AssetByName(ctx, name)
	}
	_, err = s.log.Append(ctx, tx, ledger.Event{Actor: actor, Kind: "asset.created", Subject: "asset/" + a.ID,
		Payload: map[string]any{"name": name, "kind": kind}})
	return a, err
}

// clean makes a report's text storable in either engine: valid UTF-8
// without NUL, which PostgreSQL's text refuses (real reports carry both).
func clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

func cleanFinding(in importers.Finding) importers.Finding {
	in.VulnID, in.Title, in.Description, in.SeveritySource = clean(in.VulnID), clean(in.Title), clean(in.Description), clean(in.SeveritySource)
	in.CVSSVector, in.Package, in.Version, in.FixedVersion = clean(in.CVSSVector), clean(in.Package), clean(in.Version), clean(in.FixedVersion)
	in.Location, in.Target = clean(in.Location), clean(in.Target)
	for i, a := range in.Aliases {
		in.Aliases[i] = clean(a)
	}
	return in
}

// cves are the CVE ids among the findings' identifiers.
func cves(fs []importers.Finding) []string {
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

func intelOf(xs []string, intel map[string]importers.Intel) []importers.Intel {
	var out []importers.Intel
	for _, x := range xs {
		if in, ok := intel[x]; ok {
			out = append(out, in)
		}
	}
	return out
}

func (s *Service) newFinding(a Asset, in importers.Finding, intel []importers.Intel, now time.Time) Finding {
	days, risk, note := assess(s.cfg, in.Severity, intel)
	f := Finding{ID: id.New("fnd"), AssetID: a.ID, Asset: a.Name, VulnID: in.VulnID, Aliases: in.Aliases,
		Package: in.Package, Version: in.Version, FixedVersion: in.FixedVersion, Location: in.Location, Target: in.Target,
		Title: in.Title, Description: in.Description, TitleCut: in.TitleCut, DescriptionCut: in.DescriptionCut, Severity: in.Severity, SeverityNote: in.SeveritySource,
		CVSSScore: in.CVSSScore, CVSSVector: in.CVSSVector, Risk: risk, RiskNote: note, Status: Open,
		FirstSeen: now, LastSeen: now, SLADays: days, DueAt: now.AddDate(0, 0, days), IDs: map[string]struct{}{}}
	for _, x := range ids(in) {
		f.IDs[x] = struct{}{}
	}
	return f
}

// ids are every identifier of an incoming finding.
func ids(in importers.Finding) []string {
	out := []string{in.VulnID}
	for _, a := range in.Aliases {
		if a != "" && a != in.VulnID {
			out = append(out, a)
		}
	}
	return out
}

// newIDs are the identifiers of in that f does not know yet.
func newIDs(f *Finding, in importers.Finding) []string {
	var out []string
	for _, x := range ids(in) {
		if _, ok := f.IDs[x]; !ok {
			f.IDs[x] = struct{}{}
			out = append(out, x)
		}
	}
	return out
}

func rank(s importers.Severity) int {
	for i, x := range importers.Severities {
		if x == s {
			return i
		}
	}
	return len(importers.Severities)
}

// key is one identifier of a finding at its place on the asset (its
// package or code location). A struct, not a joined string: an import of a
// hundred thousand findings looks up several keys for each.
type key struct{ pkg, loc, id string }

func keyOf(f importers.Finding, id string) key { return key{f.Package, f.Location, id} }

// eachID yields every identifier of an incoming finding, as ids returns
// them, without building the list.
func eachID(in importers.Finding) iter.Seq[string] {
	return func(yield func(string) bool) {
		if !yield(in.VulnID) {
			return
		}
		for _, a := range in.Aliases {
			if a != "" && a != in.VulnID && !yield(a) {
				return
			}
		}
	}
}

// index finds the known finding an incoming one is, by place and any id.
type index map[key]ref

// ref is a finding of the index: old, one the asset had; or one the
// import opened, by its position in the part's new findings until the
// part is stored (a position, not a pointer: the list grows, and its
// array moves), n once it is.
type ref struct {
	old *Finding
	at  int // 1 + the position in the part's new findings; 0 for none
	n   *storedFinding
}

func freshRef(i int) ref { return ref{at: i + 1} }

// fresh returns the position of a finding the part opened.
func (r ref) fresh() (int, bool) { return r.at - 1, r.at > 0 }

// storedFinding is what the index keeps of a finding the import opened
// once it is stored: enough to match it again.
type storedFinding struct {
	id       string
	ids      []string
	severity importers.Severity
	risk     Risk
	slaDays  int
}

// finding returns the stored finding as the import saw it when it opened
// it: open, reported by no other tool.
func (n *storedFinding) finding() *Finding {
	f := &Finding{ID: n.id, Status: Open, IDs: make(map[string]struct{}, len(n.ids))}
	for _, x := range n.ids {
		f.IDs[x] = struct{}{}
	}
	return f
}

func newIndex(fs []Finding, room int) index {
	ix := make(index, len(fs)+room)
	for i := range fs {
		for x := range fs[i].IDs {
			ix[key{fs[i].Package, fs[i].Location, x}] = ref{old: &fs[i]}
		}
	}
	return ix
}

// point makes every id of in, at its place, name r: the finding in was
// matched to or opened as. A later statement naming any of them is that
// finding, as the same statements in one part would be.
func (ix index) point(in importers.Finding, r ref) {
	for x := range eachID(in) {
		ix[keyOf(in, x)] = r
	}
}

// stored replaces f, at position i of the part's new findings, which the
// import has now stored, by what the index keeps of it. Every key that
// names it is one of its ids at its place: the ids of the statements
// merged into it.
func (ix index) stored(i int, f *Finding) {
	n := &storedFinding{id: f.ID, ids: make([]string, 0, len(f.IDs)), severity: f.Severity, risk: f.Risk, slaDays: f.SLADays}
	for x := range f.IDs {
		n.ids = append(n.ids, x)
		k := key{f.Package, f.Location, x}
		if ix[k] == freshRef(i) {
			ix[k] = ref{n: n}
		}
	}
}

func (ix index) match(in importers.Finding) ref {
	for x := range eachID(in) {
		if r, ok := ix[keyOf(in, x)]; ok {
			return r
		}
	}
	return ref{}
}

// Filter selects findings for the register.
type Filter struct {
	Asset     string
	Status    Status
	Severity  importers.Severity
	Risk      Risk
	Breached  bool
	DueBefore time.Time
	Now       time.Time // for Breached; set by the service
	Limit     int       // a page: opsguard.DefaultPage when 0, at most opsguard.MaxPage
	Offset    int
}

// List returns a page of the register, most urgent first, and the total.
func (s *Service) List(ctx context.Context, f Filter) ([]Finding, int, error) {
	var err error
	if f.Limit, err = opsguard.PageLimit(f.Limit); err != nil {
		return nil, 0, err
	}
	f.Now = s.now().UTC()
	var out []Finding
	var total int
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		out, total, err = tx.ListFindings(ctx, f)
		return err
	})
	return out, total, err
}

// Count returns how many findings a filter selects.
func (s *Service) Count(ctx context.Context, f Filter) (int, error) {
	f.Now = s.now().UTC()
	var n int
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		n, err = tx.CountFindings(ctx, f)
		return err
	})
	return n, err
}

// Get returns one finding.
func (s *Service) Get(ctx context.Context, findingID string) (Finding, error) {
	var f Finding
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		f, err = tx.FindingByID(ctx, findingID)
		return err
	})
	return f, err
}
