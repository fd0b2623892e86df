package vuln

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// recording is one report being recorded on its asset, in one
// transaction, a part of its findings at a time.
type recording struct {
	s        *Service
	tx       Tx
	actor    string
	name     string // the asset's
	asset    Asset
	tool     string
	scan     Scan
	now      time.Time
	sum      *Summary
	existing []Finding // the asset's findings before the import
	ix       index
	app      *ledger.Appender
	fresh    []Finding // opened by this part; the index holds their positions
	events   []ledger.Event
	had      []string // known findings reported, with a row for this tool
	added    []string // and without one
	seen     map[string]bool
}

// record records a report read part by part by next, with its evidence
// blob, on its asset in tx, and sums up what changed in sum.
func (s *Service) record(ctx context.Context, tx Tx, actor, kind string, req ImportRequest, blob ledger.Blob, next parts, sum *Summary) error {
	rep, part, err := next()
	if err != nil {
		return err
	}
	rc, err := s.begin(ctx, tx, actor, kind, req, blob, rep, len(part), sum)
	if err != nil {
		return err
	}
	for ; part != nil; rep, part, err = next() {
		if err := rc.part(ctx, part); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	// rep is the whole report now.
	decisions, err := rc.finish(ctx, rep)
	if err != nil {
		return err
	}
	return rc.decide(ctx, req.File, decisions)
}

// begin starts recording rep, whose first part has size findings: its
// asset, its evidence, its scan, and the index of the asset's findings.
func (s *Service) begin(ctx context.Context, tx Tx, actor, kind string, req ImportRequest, blob ledger.Blob, rep *Report, size int, sum *Summary) (*recording, error) {
	name, err := assetName(req, rep)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	asset, err := s.asset(ctx, tx, actor, name, kind, now)
	if err != nil {
		return nil, err
	}
	if err := s.log.Put(ctx, tx, blob); err != nil {
		return nil, err
	}
	// The scan's time is the last_seen of every finding it reports. Its
	// counts and the tool's version are known at the end.
	tool := clean(rep.Tool)
	scan := Scan{ID: id.New("scn"), AssetID: asset.ID, Format: rep.Format, Tool: tool, ToolVersion: clean(rep.ToolVersion),
		Target: clean(rep.Target), Complete: rep.Complete, Evidence: blob.Ref(), ImportedAt: now, ImportedBy: actor}
	*sum = Summary{Scan: scan.ID, Asset: name, Format: rep.Format, Tool: tool}
	if err := tx.InsertScan(ctx, scan); err != nil {
		return nil, err
	}
	existing, err := tx.AssetFindings(ctx, asset.ID)
	if err != nil {
		return nil, err
	}
	rc := &recording{s: s, tx: tx, actor: actor, name: name, asset: asset, tool: tool, scan: scan, now: now, sum: sum,
		existing: existing, ix: newIndex(existing, size), seen: map[string]bool{}}
	// The findings are recorded a part at a time, each part's new findings
	// stored and its events appended before the next is read, so that
	// neither the report's findings nor the new ones are all held at once:
	// the index keeps of a stored finding only what matches it again.
	if rc.app, err = s.log.Begin(ctx, tx); err != nil {
		return nil, err
	}
	return rc, nil
}

// part records a part of the report's findings: each is matched to the
// one it is, or opened; then the part's new findings are stored and its
// events appended.
func (rc *recording) part(ctx context.Context, part []Reported) error {
	intel, err := rc.tx.Intel(ctx, cves(part))
	if err != nil {
		return err
	}
	for _, in := range part {
		if err := rc.finding(ctx, in, intel); err != nil {
			return err
		}
	}
	if err := rc.tx.InsertFindings(ctx, rc.fresh, rc.tool, rc.scan.ID); err != nil {
		return err
	}
	// The opened events come once the part has said all it says of
	// its new findings.
	if _, err := rc.app.Add(openedEvents(rc.actor, rc.name, rc.scan.ID, rc.fresh)...); err != nil {
		return err
	}
	if _, err := rc.app.Add(rc.events...); err != nil {
		return err
	}
	if err := rc.app.Seal(); err != nil {
		return err
	}
	rc.sum.New += len(rc.fresh)
	for i := range rc.fresh {
		rc.ix.stored(i, &rc.fresh[i])
	}
	// Let this part go: its findings, new findings and events.
	clear(part)
	clear(rc.fresh)
	clear(rc.events)
	rc.fresh, rc.events = rc.fresh[:0], rc.events[:0]
	return nil
}

// finding records one finding of the report: merged into the one it is,
// or opened.
func (rc *recording) finding(ctx context.Context, in Reported, intel map[string]Intel) error {
	r := rc.ix.match(in)
	switch i, opened := r.fresh(); {
	case opened:
		// Opened by this part: the report states it twice.
		rc.s.restatedFresh(&rc.fresh[i], in, intel)
	case r.n != nil:
		// Opened by this import from an earlier part.
		ev, err := rc.s.restated(ctx, rc.tx, rc.actor, r.n, in, rc.now)
		if err != nil {
			return err
		}
		if ev != nil {
			rc.events = append(rc.events, *ev)
		}
	case r.old != nil:
		if err := rc.known(ctx, r.old, in); err != nil {
			return err
		}
	default:
		rc.fresh = append(rc.fresh, rc.s.newFinding(rc.asset, in, intelOf(ids(in), intel), rc.now))
		r = freshRef(len(rc.fresh) - 1)
	}
	rc.ix.point(in, r)
	return nil
}

// known records that the report states f, a finding the asset had: its
// new ids, that this tool reports it, and its reopening if it was fixed.
func (rc *recording) known(ctx context.Context, f *Finding, in Reported) error {
	if ids := newIDs(f, in); len(ids) > 0 {
		if err := rc.tx.AddFindingIDs(ctx, f.ID, ids); err != nil {
			return err
		}
	}
	if rc.seen[f.ID] {
		return nil
	}
	rc.seen[f.ID] = true
	rc.reported(f)
	ev, err := rc.s.reopen(ctx, rc.tx, rc.actor, f, rc.scan.ID)
	if err != nil {
		return err
	}
	if ev != nil {
		rc.sum.Reopened++
		rc.events = append(rc.events, *ev)
	} else {
		rc.sum.Unchanged++
	}
	return nil
}

// reported notes that this scan reports f, a finding the asset had.
func (rc *recording) reported(f *Finding) {
	if slices.Contains(f.Tools, rc.tool) {
		rc.had = append(rc.had, f.ID)
	} else {
		rc.added = append(rc.added, f.ID)
	}
}

// finish records what the whole report rep says once its findings are
// in: the scan's counts, the findings seen again, and those fixed when the
// report is complete. It returns the decisions of its statements.
func (rc *recording) finish(ctx context.Context, rep *Report) ([]decision, error) {
	sum, scan := rc.sum, &rc.scan
	sum.Findings, sum.Statements = sum.New+sum.Unchanged+sum.Reopened, len(rep.Statements)
	scan.ToolVersion, scan.Findings, scan.Statements = clean(rep.ToolVersion), sum.Findings, sum.Statements
	if err := rc.tx.UpdateScanCounts(ctx, *scan); err != nil {
		return nil, err
	}
	// The report's statements (Dependabot's dismissed alerts) are about
	// findings it does not list as open: those still there are reported
	// all the same, and not closed as fixed.
	decisions := setAside(rc.existing, rc.seen, rep.Statements, rc.name)
	for _, d := range decisions {
		rc.reported(d.f)
	}
	if err := rc.tx.SeenAgain(ctx, rc.had, rc.added, rc.tool, scan.ID); err != nil {
		return nil, err
	}
	if rep.Complete {
		fixed, err := rc.s.closeAbsent(ctx, rc.tx, rc.actor, rc.existing, rc.seen, rc.tool, scan.ID, rc.now)
		if err != nil {
			return nil, err
		}
		sum.Fixed = len(fixed)
		rc.events = append(rc.events, fixed...)
	}
	if _, err := rc.app.Add(rc.events...); err != nil {
		return nil, err
	}
	return decisions, rc.app.Close()
}

// decide records what the report's statements decide, through the
// workflow as by hand, and the scan's own entry last.
func (rc *recording) decide(ctx context.Context, file string, decisions []decision) error {
	if len(decisions) > 0 {
		wtx, err := workflowTx(rc.tx)
		if err != nil {
			return err
		}
		for _, d := range decisions {
			done, err := rc.s.applyStatement(ctx, wtx, Actor{Name: rc.actor}, d.f.ID, d.st)
			if err != nil {
				return fmt.Errorf("statement on %s: %w", d.st.VulnID, err)
			}
			if done {
				rc.sum.Decided++
			}
		}
	}
	es, err := rc.s.log.Append(ctx, rc.tx, scanImported(rc.actor, rc.name, file, rc.scan, *rc.sum))
	if err != nil {
		return err
	}
	rc.sum.LedgerSeq = es[len(es)-1].Seq
	return nil
}

// decision is a report's statement about one of the asset's findings.
type decision struct {
	f  *Finding
	st Statement
}

// setAside returns the findings of existing, open and not reported by the
// scan (seen), that a statement of the report other than fixed speaks of
// (a fixed one is closed as fixed by the scan itself), and marks them seen.
func setAside(existing []Finding, seen map[string]bool, statements []Statement, asset string) []decision {
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
func (s *Service) restatedFresh(f *Finding, in Reported, intel map[string]Intel) {
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
func (s *Service) restated(ctx context.Context, tx Tx, actor string, n *storedFinding, in Reported, now time.Time) (*ledger.Event, error) {
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
	p := map[string]any{"asset": asset, "asset_id": scan.AssetID, "file": file, "format": scan.Format, "tool": scan.Tool,
		"tool_version": scan.ToolVersion, "target": scan.Target, "complete": scan.Complete, "evidence": []string{scan.Evidence},
		"findings": sum.Findings, "new": sum.New, "unchanged": sum.Unchanged, "fixed": sum.Fixed, "reopened": sum.Reopened,
		"statements": sum.Statements, "decided": sum.Decided}
	if scan.Repeats != "" {
		p["repeats"] = scan.Repeats
	}
	return ledger.Event{Actor: actor, Kind: "scan.imported", Subject: "scan/" + scan.ID, Payload: p}
}

// opened is the ledger payload of a new finding: a struct, because an
// import may write a hundred thousand of them and maps marshal slowly.
type opened struct {
	Scan     string    `json:"scan"`
	Asset    string    `json:"asset"`
	Vuln     string    `json:"vuln"`
	Package  string    `json:"package,omitempty"`
	Location string    `json:"location,omitempty"`
	Severity Severity  `json:"severity"`
	Risk     Risk      `json:"risk"`
	DueAt    time.Time `json:"due_at"`
	SLA      string    `json:"sla"`
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

func (s *Service) newFinding(a Asset, in Reported, intel []Intel, now time.Time) Finding {
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
