package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/vuln"
)

// The queries of the vulnerability register. *Tx implements vuln.Tx.

var _ vuln.Tx = (*Tx)(nil)

// AssetByName returns an asset.
func (tx *Tx) AssetByName(ctx context.Context, name string) (vuln.Asset, error) {
	var a vuln.Asset
	var created string
	err := tx.queryRow(ctx, "SELECT id, name, kind, created_at FROM assets WHERE name = ?", name).Scan(&a.ID, &a.Name, &a.Kind, &created)
	if err != nil {
		return a, notFound(err, "asset "+name)
	}
	a.CreatedAt, err = parseTS(created)
	return a, err
}

// InsertAsset stores an asset unless one of its name exists, and reports
// whether it did: two replicas creating one asset both succeed, the second
// finding the first's.
func (tx *Tx) InsertAsset(ctx context.Context, a vuln.Asset) (bool, error) {
	res, err := tx.exec(ctx, "INSERT INTO assets (id, name, kind, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
		a.ID, a.Name, a.Kind, ts(a.CreatedAt))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// LockAsset serialises the imports of an asset, by name (it may not exist
// yet), until the transaction ends, so that each reads the asset's
// findings as the one before left them: PostgreSQL replicas take a
// transaction advisory lock (in a key space of its own, the two-key form);
// SQLite's BEGIN IMMEDIATE already holds the write lock.
func (tx *Tx) LockAsset(ctx context.Context, name string) error {
	if tx.db.dialect != Postgres {
		return nil
	}
	_, err := tx.exec(ctx, "SELECT pg_advisory_xact_lock(7274003, hashtext(?))", name)
	return err
}

// InsertScan stores a scan.
func (tx *Tx) InsertScan(ctx context.Context, s vuln.Scan) error {
	var repeats any
	if s.Repeats != "" {
		repeats = s.Repeats
	}
	_, err := tx.exec(ctx, "INSERT INTO scans ("+scanColumns+", repeats) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		s.ID, s.AssetID, s.Format, s.Tool, s.ToolVersion, s.Target, s.Complete, s.Evidence, s.Findings, s.Statements, ts(s.ImportedAt), s.ImportedBy, repeats)
	return err
}

// UpdateScanCounts stores what is known of a scan at the end of its
// import.
func (tx *Tx) UpdateScanCounts(ctx context.Context, s vuln.Scan) error {
	return tx.updateOne(ctx, "scan "+s.ID, "UPDATE scans SET tool_version = ?, findings = ?, statements = ? WHERE id = ?",
		s.ToolVersion, s.Findings, s.Statements, s.ID)
}

const scanColumns = "id, asset_id, format, tool, tool_version, target, complete, evidence, findings, statements, imported_at, imported_by"

func (tx *Tx) scanWhere(ctx context.Context, what, rest string, args ...any) (vuln.Scan, error) {
	var s vuln.Scan
	var at string
	err := tx.queryRow(ctx, "SELECT "+scanColumns+", COALESCE(repeats, '') FROM scans "+rest, args...).Scan(&s.ID, &s.AssetID, &s.Format, &s.Tool, &s.ToolVersion,
		&s.Target, &s.Complete, &s.Evidence, &s.Findings, &s.Statements, &at, &s.ImportedBy, &s.Repeats)
	if err != nil {
		return s, notFound(err, what)
	}
	s.ImportedAt, err = parseTS(at)
	return s, err
}

// ScanByEvidence returns the newest scan of the report with the given
// evidence reference.
func (tx *Tx) ScanByEvidence(ctx context.Context, evidence string) (vuln.Scan, error) {
	return tx.scanWhere(ctx, "scan of "+evidence, "WHERE evidence = ? ORDER BY imported_at DESC, id DESC LIMIT 1", evidence)
}

// LatestScan returns the newest scan of an asset by a tool.
func (tx *Tx) LatestScan(ctx context.Context, assetID, tool string) (vuln.Scan, error) {
	return tx.scanWhere(ctx, "scan of "+assetID+" by "+tool, "WHERE asset_id = ? AND tool = ? ORDER BY imported_at DESC, id DESC LIMIT 1", assetID, tool)
}

// ClosedFindingsOfScan returns the closed findings whose tool rows point at
// the scan.
func (tx *Tx) ClosedFindingsOfScan(ctx context.Context, scanID string) ([]vuln.Finding, error) {
	return tx.findingsWhere(ctx, "WHERE f.status = 'closed' AND f.id IN (SELECT finding_id FROM finding_tools WHERE scan_id = ?)", scanID)
}

// ScanSeen records that the findings whose tool rows point at scan id were
// reported again at at (by a scan that repeats it) and returns how many
// there are: two statements, however many findings.
func (tx *Tx) ScanSeen(ctx context.Context, id string, at time.Time) (int, error) {
	if err := tx.updateOne(ctx, "scan "+id, "UPDATE scans SET seen_at = ? WHERE id = ?", ts(at), id); err != nil {
		return 0, err
	}
	var n int
	err := tx.queryRow(ctx, "SELECT COUNT(*) FROM finding_tools WHERE scan_id = ?", id).Scan(&n)
	return n, err
}

// scanSeen is when scan s last reported its findings: when it was
// imported, or when a scan repeating it was.
const scanSeen = "COALESCE(s.seen_at, s.imported_at)"

// lastSeen is when a finding was last reported: the time the newest scan
// its tool rows point at was last seen, or the stored last_seen, which
// keeps the time of the scans whose rows are gone. Re-importing a report
// so touches its scan, not the findings nor their rows: a hundred
// thousand unchanged findings are not rewritten (and resealed) for one
// timestamp.
const lastSeen = `COALESCE((SELECT MAX(` + scanSeen + `) FROM finding_tools t JOIN scans s ON s.id = t.scan_id
	WHERE t.finding_id = f.id AND ` + scanSeen + ` > f.last_seen), f.last_seen)`

const findingColumns = `f.id, f.asset_id, a.name, f.vuln_id, f.aliases, f.package, f.version, f.fixed_version, f.location, f.target,
	COALESCE(t.title, f.title), COALESCE(t.description, f.description), f.severity, f.severity_note, f.cvss_score, f.cvss_vector, f.risk, f.risk_note, f.status, f.resolution,
	f.first_seen, ` + lastSeen + `, f.sla_days, f.due_at, f.closed_at, f.fixed_by_scan, f.regression, f.justification, f.accepted_until, f.extended_until,
	COALESCE(t.title_cut, FALSE), COALESCE(t.description_cut, FALSE)`

// findingsFrom joins a finding's asset and texts.
const findingsFrom = "findings f JOIN assets a ON a.id = f.asset_id LEFT JOIN vuln_texts t ON t.hash = f.text_hash"

func scanFinding(sc row) (vuln.Finding, error) {
	var f vuln.Finding
	var aliases, first, last, due string
	var closed, accepted, extended sql.NullString
	err := sc.Scan(&f.ID, &f.AssetID, &f.Asset, &f.VulnID, &aliases, &f.Package, &f.Version, &f.FixedVersion, &f.Location, &f.Target,
		&f.Title, &f.Description, &f.Severity, &f.SeverityNote, &f.CVSSScore, &f.CVSSVector, &f.Risk, &f.RiskNote, &f.Status, &f.Resolution,
		&first, &last, &f.SLADays, &due, &closed, &f.FixedByScan, &f.Regression, &f.Justification, &accepted, &extended,
		&f.TitleCut, &f.DescriptionCut)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal([]byte(aliases), &f.Aliases); err != nil {
		return f, fmt.Errorf("finding %s aliases: %w", f.ID, err)
	}
	if f.FirstSeen, err = parseTS(first); err != nil {
		return f, err
	}
	if f.LastSeen, err = parseTS(last); err != nil {
		return f, err
	}
	if f.DueAt, err = parseTS(due); err != nil {
		return f, err
	}
	if f.ClosedAt, err = parseNullTS(closed); err != nil {
		return f, err
	}
	if f.AcceptedUntil, err = parseNullTS(accepted); err != nil {
		return f, err
	}
	f.ExtendedUntil, err = parseNullTS(extended)
	return f, err
}

// findingsWhere returns the findings matching a condition on f (and a),
// in the order rest gives.
func (tx *Tx) findingsWhere(ctx context.Context, rest string, args ...any) ([]vuln.Finding, error) {
	return queryAll(ctx, tx, scanFinding, "SELECT "+findingColumns+" FROM "+findingsFrom+" "+rest, args...)
}

// AssetFindings returns every finding of an asset with what an import
// matches and changes: identity, place, state, ids and tools (not the
// long texts, which an import never needs).
func (tx *Tx) AssetFindings(ctx context.Context, assetID string) ([]vuln.Finding, error) {
	rows, err := tx.query(ctx, `SELECT id, asset_id, vuln_id, package, location, status, resolution, closed_at, fixed_by_scan, regression
		FROM findings WHERE asset_id = ?`, assetID)
	if err != nil {
		return nil, err
	}
	var out []vuln.Finding
	pos := map[string]int{}
	for rows.Next() {
		var f vuln.Finding
		var closed sql.NullString
		if err := rows.Scan(&f.ID, &f.AssetID, &f.VulnID, &f.Package, &f.Location, &f.Status, &f.Resolution, &closed, &f.FixedByScan, &f.Regression); err != nil {
			rows.Close()
			return nil, err
		}
		if f.ClosedAt, err = parseNullTS(closed); err != nil {
			rows.Close()
			return nil, err
		}
		f.IDs = map[string]struct{}{f.VulnID: {}}
		pos[f.ID] = len(out)
		out = append(out, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := tx.eachPair(ctx, "SELECT i.finding_id, i.vuln_id FROM finding_ids i JOIN findings f ON f.id = i.finding_id WHERE f.asset_id = ?",
		func(fid, v string) { out[pos[fid]].IDs[v] = struct{}{} }, assetID); err != nil {
		return nil, err
	}
	err = tx.eachPair(ctx, "SELECT t.finding_id, t.tool FROM finding_tools t JOIN findings f ON f.id = t.finding_id WHERE f.asset_id = ?",
		func(fid, tool string) { out[pos[fid]].Tools = append(out[pos[fid]].Tools, tool) }, assetID)
	return out, err
}

// eachPair calls fn with the two text columns of every row of q.
func (tx *Tx) eachPair(ctx context.Context, q string, fn func(a, b string), args ...any) error {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return err
		}
		fn(a, b)
	}
	return rows.Err()
}

// InsertFindings stores new findings with their ids and the tool that saw
// them. A finding's own vuln_id is not repeated in finding_ids, which holds
// its other identifiers only; its title and description are stored once
// for every finding that has them, in vuln_texts.
func (tx *Tx) InsertFindings(ctx context.Context, fs []vuln.Finding, tool, scanID string) error {
	hashes, err := tx.insertTexts(ctx, fs)
	if err != nil {
		return err
	}
	const cols = 27
	err = tx.insertRows(ctx, `INSERT INTO findings (id, asset_id, vuln_id, aliases, package, version, fixed_version, location, target,
		text_hash, title, description, severity, severity_note, cvss_score, cvss_vector, risk, risk_note, status, resolution,
		first_seen, last_seen, sla_days, due_at, closed_at, fixed_by_scan, regression) VALUES `, cols, len(fs), func(i int, args []any) []any {
		f := &fs[i]
		aliases := "[]"
		if len(f.Aliases) > 0 {
			b, _ := json.Marshal(f.Aliases)
			aliases = string(b)
		}
		return append(args, f.ID, f.AssetID, f.VulnID, aliases, f.Package, f.Version, f.FixedVersion, f.Location, f.Target,
			hashes[i], "", "", string(f.Severity), f.SeverityNote, f.CVSSScore, f.CVSSVector, string(f.Risk), f.RiskNote, string(f.Status), string(f.Resolution),
			ts(f.FirstSeen), ts(f.LastSeen), f.SLADays, ts(f.DueAt), nullTS(f.ClosedAt), f.FixedByScan, f.Regression)
	})
	if err != nil {
		return fmt.Errorf("insert findings: %w", err)
	}
	var ids [][2]string
	for i := range fs {
		for v := range fs[i].IDs {
			if v != fs[i].VulnID {
				ids = append(ids, [2]string{fs[i].ID, v})
			}
		}
	}
	if err := tx.insertRows(ctx, "INSERT INTO finding_ids (finding_id, vuln_id) VALUES ", 2, len(ids), func(i int, args []any) []any {
		return append(args, ids[i][0], ids[i][1])
	}); err != nil {
		return fmt.Errorf("insert finding ids: %w", err)
	}
	if err := tx.insertRows(ctx, "INSERT INTO finding_tools (finding_id, tool, scan_id) VALUES ", 3, len(fs), func(i int, args []any) []any {
		return append(args, fs[i].ID, tool, scanID)
	}); err != nil {
		return fmt.Errorf("insert finding tools: %w", err)
	}
	return nil
}

// textKey is a finding's texts, as stored once in vuln_texts.
type textKey struct {
	title, description       string
	titleCut, descriptionCut bool
}

// insertTexts stores the texts of fs not stored yet and returns the hash
// of each finding's.
func (tx *Tx) insertTexts(ctx context.Context, fs []vuln.Finding) ([]string, error) {
	if tx.texts == nil {
		tx.texts = map[textKey]string{}
	}
	hashes := make([]string, len(fs))
	var fresh []textKey
	for i := range fs {
		k := textKey{fs[i].Title, fs[i].Description, fs[i].TitleCut, fs[i].DescriptionCut}
		h, ok := tx.texts[k]
		if !ok {
			h = textHash(k)
			tx.texts[k] = h
			fresh = append(fresh, k)
		}
		hashes[i] = h
	}
	err := tx.insertRows(ctx, "INSERT INTO vuln_texts (hash, title, description, title_cut, description_cut) VALUES ", 5, len(fresh), func(i int, args []any) []any {
		k := fresh[i]
		return append(args, tx.texts[k], k.title, k.description, k.titleCut, k.descriptionCut)
	}, " ON CONFLICT (hash) DO NOTHING")
	if err != nil {
		return nil, fmt.Errorf("insert vulnerability texts: %w", err)
	}
	return hashes, nil
}

// textHash names a title and description: the SHA-256 of both, each
// preceded by its length so that no two pairs run together, and of the
// flags of a cut text.
func textHash(k textKey) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s%d:%s", len(k.title), k.title, len(k.description), k.description)
	if k.titleCut || k.descriptionCut {
		fmt.Fprintf(h, "cut:%t,%t", k.titleCut, k.descriptionCut)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// maxParams bounds the parameters of one statement. SQLite (as built by
// modernc.org/sqlite) would take 32766, but statements of 4,000 or 16,000
// parameters made an import of 100,000 findings slower, not faster.
const maxParams = 900

// insertRows inserts n rows of cols values, which row appends to args,
// with multi-row INSERTs of up to maxParams parameters, one prepared
// statement per chunk size.
func (tx *Tx) insertRows(ctx context.Context, head string, cols, n int, row func(i int, args []any) []any, tail ...string) error {
	per := max(1, maxParams/cols)
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, s := range stmts {
			s.Close()
		}
	}()
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	args := make([]any, 0, min(per, n)*cols)
	for done := 0; done < n; {
		k := min(per, n-done)
		stmt, ok := stmts[k]
		if !ok {
			var err error
			if stmt, err = tx.prepare(ctx, head+strings.TrimSuffix(strings.Repeat(one+", ", k), ", ")+strings.Join(tail, "")); err != nil {
				return err
			}
			stmts[k] = stmt
		}
		args = args[:0]
		for i := done; i < done+k; i++ {
			args = row(i, args)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
		done += k
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// AddFindingIDs records more identifiers of a finding's vulnerability.
func (tx *Tx) AddFindingIDs(ctx context.Context, findingID string, ids []string) error {
	for _, v := range ids {
		if _, err := tx.exec(ctx, "INSERT INTO finding_ids (finding_id, vuln_id) VALUES (?, ?) ON CONFLICT DO NOTHING", findingID, v); err != nil {
			return err
		}
	}
	return nil
}

// SeenAgain points the rows for tool of the findings had at scanID, which
// makes the scan's time their last_seen, and gives the findings added a row.
// Rows are updated in one statement per chunk, so a re-import of a large
// report stays a few hundred statements.
func (tx *Tx) SeenAgain(ctx context.Context, had, added []string, tool, scanID string) error {
	const per = 500
	args := make([]any, 0, per+2)
	for start := 0; start < len(had); start += per {
		chunk := had[start:min(start+per, len(had))]
		args = append(args[:0], scanID, tool)
		for _, id := range chunk {
			args = append(args, id)
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
		if _, err := tx.exec(ctx, "UPDATE finding_tools SET scan_id = ? WHERE tool = ? AND finding_id IN ("+marks+")", args...); err != nil {
			return err
		}
	}
	return tx.insertRows(ctx, "INSERT INTO finding_tools (finding_id, tool, scan_id) VALUES ", 3, len(added), func(i int, args []any) []any {
		return append(args, added[i], tool, scanID)
	})
}

// RemoveFindingTool forgets that tool reports a finding, keeping the time
// its scan last did as the finding's last_seen.
func (tx *Tx) RemoveFindingTool(ctx context.Context, findingID, tool string) error {
	if _, err := tx.exec(ctx, `UPDATE findings SET last_seen = COALESCE((SELECT `+scanSeen+` FROM finding_tools t JOIN scans s ON s.id = t.scan_id
		WHERE t.finding_id = findings.id AND t.tool = ? AND `+scanSeen+` > findings.last_seen), last_seen) WHERE id = ?`, tool, findingID); err != nil {
		return err
	}
	_, err := tx.exec(ctx, "DELETE FROM finding_tools WHERE finding_id = ? AND tool = ?", findingID, tool)
	return err
}

// UpdateFindingState stores a finding's status and what goes with it.
func (tx *Tx) UpdateFindingState(ctx context.Context, f vuln.Finding) error {
	return tx.updateOne(ctx, "finding "+f.ID, "UPDATE findings SET status = ?, resolution = ?, closed_at = ?, fixed_by_scan = ?, regression = ? WHERE id = ?",
		string(f.Status), string(f.Resolution), nullTS(f.ClosedAt), f.FixedByScan, f.Regression, f.ID)
}

// FindingByID returns one finding with its tools.
func (tx *Tx) FindingByID(ctx context.Context, id string) (vuln.Finding, error) {
	f, err := scanFinding(tx.queryRow(ctx, "SELECT "+findingColumns+" FROM "+findingsFrom+" WHERE f.id = ?", id))
	if err != nil {
		return f, notFound(err, "finding "+id)
	}
	err = tx.eachPair(ctx, "SELECT finding_id, tool FROM finding_tools WHERE finding_id = ?", func(_, tool string) { f.Tools = append(f.Tools, tool) }, id)
	return f, err
}

// findingCond is the WHERE clause of a register filter; every condition
// is on findings, so a count needs no join.
func findingCond(fl vuln.Filter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if fl.Asset != "" {
		add("f.asset_id = (SELECT id FROM assets WHERE name = ?)", fl.Asset)
	}
	if fl.Status != "" {
		add("f.status = ?", string(fl.Status))
	}
	if fl.Severity != "" {
		add("f.severity = ?", string(fl.Severity))
	}
	if fl.Risk != "" {
		add("f.risk = ?", string(fl.Risk))
	}
	if fl.Breached {
		add("f.status <> 'closed' AND f.due_at < ?", ts(fl.Now))
	}
	if !fl.DueBefore.IsZero() {
		add("f.due_at < ?", ts(fl.DueBefore))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// CountFindings counts the findings a filter selects.
func (tx *Tx) CountFindings(ctx context.Context, fl vuln.Filter) (int, error) {
	cond, args := findingCond(fl)
	var n int
	err := tx.queryRow(ctx, "SELECT COUNT(*) FROM findings f"+cond, args...).Scan(&n)
	return n, err
}

// ListFindings returns a page of findings, soonest due first, and the total.
func (tx *Tx) ListFindings(ctx context.Context, fl vuln.Filter) ([]vuln.Finding, int, error) {
	total, err := tx.CountFindings(ctx, fl)
	if err != nil {
		return nil, 0, err
	}
	limit := fl.Limit // the service refuses one above the maximum
	if limit <= 0 {
		limit = opsguard.DefaultPage
	}
	cond, args := findingCond(fl)
	out, err := tx.findingsWhere(ctx, cond+" ORDER BY f.due_at, f.id LIMIT ? OFFSET ?", append(args, limit, fl.Offset)...)
	return out, total, err
}

var _ vuln.WorkflowTx = (*Tx)(nil)

// UpdateFindingWorkflow stores what the workflow changes on a finding.
func (tx *Tx) UpdateFindingWorkflow(ctx context.Context, f vuln.Finding) error {
	return tx.updateOne(ctx, "finding "+f.ID, `UPDATE findings SET status = ?, resolution = ?, closed_at = ?, justification = ?,
		accepted_until = ?, extended_until = ?, due_at = ?, risk_note = ? WHERE id = ?`,
		string(f.Status), string(f.Resolution), nullTS(f.ClosedAt), f.Justification, nullTS(f.AcceptedUntil), nullTS(f.ExtendedUntil), ts(f.DueAt), f.RiskNote, f.ID)
}

const requestColumns = "id, finding_id, kind, justification, until, requested_by, requested_at, status, decided_by, decided_at, decision_note, due_before"

func scanRequest(sc row) (vuln.Request, error) {
	var r vuln.Request
	var until, at string
	var decided, before sql.NullString
	if err := sc.Scan(&r.ID, &r.FindingID, &r.Kind, &r.Justification, &until, &r.RequestedBy, &at, &r.Status, &r.DecidedBy, &decided, &r.DecisionNote, &before); err != nil {
		return r, err
	}
	var err error
	if r.Until, err = parseTS(until); err != nil {
		return r, err
	}
	if r.RequestedAt, err = parseTS(at); err != nil {
		return r, err
	}
	if r.DecidedAt, err = parseNullTS(decided); err != nil {
		return r, err
	}
	r.DueBefore, err = parseNullTS(before)
	return r, err
}

// InsertRequest stores a request.
func (tx *Tx) InsertRequest(ctx context.Context, r vuln.Request) error {
	_, err := tx.exec(ctx, "INSERT INTO vuln_requests ("+requestColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.FindingID, r.Kind, r.Justification, ts(r.Until), r.RequestedBy, ts(r.RequestedAt), r.Status, r.DecidedBy, nullTS(r.DecidedAt), r.DecisionNote, nullTS(r.DueBefore))
	return err
}

// RequestByID returns a request.
func (tx *Tx) RequestByID(ctx context.Context, id string) (vuln.Request, error) {
	r, err := scanRequest(tx.queryRow(ctx, "SELECT "+requestColumns+" FROM vuln_requests WHERE id = ?", id))
	return r, notFound(err, "request "+id)
}

// UpdateRequest stores a decision.
func (tx *Tx) UpdateRequest(ctx context.Context, r vuln.Request) error {
	return tx.updateOne(ctx, "request "+r.ID, "UPDATE vuln_requests SET status = ?, decided_by = ?, decided_at = ?, decision_note = ?, due_before = ? WHERE id = ?",
		r.Status, r.DecidedBy, nullTS(r.DecidedAt), r.DecisionNote, nullTS(r.DueBefore), r.ID)
}

// requestWithFinding selects a request with what its decision needs of its
// finding.
var requestWithFinding = "SELECT r." + strings.ReplaceAll(requestColumns, ", ", ", r.") + `,
	a.name, f.vuln_id, COALESCE(t.title, f.title), f.package, f.version, f.location, f.severity, f.risk, f.risk_note, f.due_at, f.status
	FROM vuln_requests r JOIN findings f ON f.id = r.finding_id JOIN assets a ON a.id = f.asset_id LEFT JOIN vuln_texts t ON t.hash = f.text_hash`

func scanRequestWithFinding(sc row) (vuln.Request, error) {
	var s vuln.Subject
	var due string
	r, err := scanRequest(scanMore{sc, []any{&s.Asset, &s.VulnID, &s.Title, &s.Package, &s.Version, &s.Location, &s.Severity, &s.Risk, &s.RiskNote, &due, &s.Status}})
	if err != nil {
		return r, err
	}
	s.DueAt, err = parseTS(due)
	r.Finding = &s
	return r, err
}

// scanMore scans a row into the destinations of a scan function and then
// into more.
type scanMore struct {
	row
	more []any
}

func (s scanMore) Scan(dest ...any) error { return s.row.Scan(append(dest, s.more...)...) }

// ListRequests returns requests by status ("" for all), oldest first, each
// with its finding.
func (tx *Tx) ListRequests(ctx context.Context, status string) ([]vuln.Request, error) {
	q := requestWithFinding
	var args []any
	if status != "" {
		q += " WHERE r.status = ?"
		args = append(args, status)
	}
	return queryAll(ctx, tx, scanRequestWithFinding, q+" ORDER BY r.requested_at, r.id", args...)
}

// FindingRequests returns a finding's requests, oldest first.
func (tx *Tx) FindingRequests(ctx context.Context, findingID string) ([]vuln.Request, error) {
	return queryAll(ctx, tx, scanRequestWithFinding, requestWithFinding+" WHERE r.finding_id = ? ORDER BY r.requested_at, r.id", findingID)
}

// PendingRequest reports whether a finding has a request awaiting decision.
func (tx *Tx) PendingRequest(ctx context.Context, findingID string) (bool, error) {
	var n int
	err := tx.queryRow(ctx, "SELECT COUNT(*) FROM vuln_requests WHERE finding_id = ? AND status = 'pending'", findingID).Scan(&n)
	return n > 0, err
}

// ExpiredAcceptances returns accepted risks whose acceptance has run out.
func (tx *Tx) ExpiredAcceptances(ctx context.Context, now time.Time) ([]vuln.Finding, error) {
	return tx.findingsWhere(ctx, "WHERE f.resolution = 'risk_accepted' AND f.status = 'closed' AND f.accepted_until < ?", ts(now))
}

var _ vuln.FeedTx = (*Tx)(nil)

// Intel returns what the feeds say of the given CVEs.
func (tx *Tx) Intel(ctx context.Context, cves []string) (map[string]vuln.Intel, error) {
	out := map[string]vuln.Intel{}
	const per = 500
	for start := 0; start < len(cves); start += per {
		chunk := cves[start:min(start+per, len(cves))]
		args := make([]any, len(chunk))
		for i, c := range chunk {
			args[i] = c
		}
		rows, err := tx.query(ctx, "SELECT cve, kev_added, epss, percentile FROM vuln_intel WHERE cve IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+")", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var in vuln.Intel
			if err := rows.Scan(&in.CVE, &in.KEVAdded, &in.EPSS, &in.Percentile); err != nil {
				rows.Close()
				return nil, err
			}
			out[in.CVE] = in
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpsertIntel stores a feed: KEV entries set kev_added (and a KEV catalog
// replaces the previous one), EPSS entries set the scores.
func (tx *Tx) UpsertIntel(ctx context.Context, kind string, entries []vuln.Intel, at time.Time) error {
	if kind == "kev" {
		if _, err := tx.exec(ctx, "UPDATE vuln_intel SET kev_added = ''"); err != nil {
			return err
		}
	}
	q := `INSERT INTO vuln_intel (cve, kev_added, epss, percentile, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (cve) DO UPDATE SET epss = excluded.epss, percentile = excluded.percentile, updated_at = excluded.updated_at`
	if kind == "kev" {
		q = `INSERT INTO vuln_intel (cve, kev_added, epss, percentile, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (cve) DO UPDATE SET kev_added = excluded.kev_added, updated_at = excluded.updated_at`
	}
	stmt, err := tx.prepare(ctx, q)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, e := range entries {
		if _, err := stmt.ExecContext(ctx, e.CVE, e.KEVAdded, e.EPSS, e.Percentile, ts(at)); err != nil {
			return fmt.Errorf("intel %s: %w", e.CVE, err)
		}
	}
	return nil
}

// OpenFindingsWithIDs returns every finding not closed, with its ids.
func (tx *Tx) OpenFindingsWithIDs(ctx context.Context) ([]vuln.Finding, error) {
	out, err := tx.findingsWhere(ctx, "WHERE f.status <> 'closed'")
	if err != nil {
		return nil, err
	}
	pos := map[string]int{}
	for i := range out {
		out[i].IDs = map[string]struct{}{out[i].VulnID: {}}
		pos[out[i].ID] = i
	}
	err = tx.eachPair(ctx, "SELECT i.finding_id, i.vuln_id FROM finding_ids i JOIN findings f ON f.id = i.finding_id WHERE f.status <> 'closed'",
		func(fid, v string) {
			if p, ok := pos[fid]; ok {
				out[p].IDs[v] = struct{}{}
			}
		})
	return out, err
}

// UpdateFindingRisk stores a finding's severity, risk and due date rated
// anew.
func (tx *Tx) UpdateFindingRisk(ctx context.Context, f vuln.Finding) error {
	return tx.updateOne(ctx, "finding "+f.ID, `UPDATE findings SET severity = ?, severity_note = ?, cvss_score = ?, cvss_vector = ?,
		risk = ?, sla_days = ?, due_at = ?, risk_note = ? WHERE id = ?`,
		string(f.Severity), f.SeverityNote, f.CVSSScore, f.CVSSVector, string(f.Risk), f.SLADays, ts(f.DueAt), f.RiskNote, f.ID)
}

var _ vuln.StatsTx = (*Tx)(nil)

// VulnStats reads what the VM controls check.
func (tx *Tx) VulnStats(ctx context.Context, now, scannedSince time.Time) (vuln.Stats, error) {
	var st vuln.Stats
	if err := tx.queryRow(ctx, "SELECT (SELECT COUNT(*) FROM assets), (SELECT COUNT(*) FROM findings)").Scan(&st.Assets, &st.Findings); err != nil {
		return st, err
	}
	lists := []struct {
		dst *[]string
		q   string
		arg []any
	}{
		{&st.NoSeverity, "SELECT id FROM findings WHERE severity NOT IN ('critical', 'high', 'medium', 'low', 'info')", nil},
		{&st.BreachedUnextended, "SELECT id FROM findings WHERE status <> 'closed' AND due_at < ?", []any{ts(now)}},
		{&st.ClosedNoResolution, "SELECT id FROM findings WHERE status = 'closed' AND resolution NOT IN ('fixed', 'false_positive', 'not_affected_unused', 'risk_accepted')", nil},
		{&st.ClosedNoJustified, "SELECT id FROM findings WHERE status = 'closed' AND resolution IN ('false_positive', 'not_affected_unused') AND justification = ''", nil},
		{&st.AcceptedNoApproval, `SELECT f.id FROM findings f WHERE f.status = 'closed' AND f.resolution = 'risk_accepted'
			AND NOT EXISTS (SELECT 1 FROM vuln_requests r WHERE r.finding_id = f.id AND r.kind = 'acceptance' AND r.status = 'approved')`, nil},
		{&st.NoRisk, "SELECT id FROM findings WHERE risk NOT IN ('high', 'medium', 'low') OR risk_note = ''", nil},
		{&st.HighFixedUnverified, "SELECT id FROM findings WHERE risk = 'high' AND status = 'closed' AND resolution = 'fixed' AND fixed_by_scan = ''", nil},
		{&st.StaleAssets, "SELECT a.name FROM assets a WHERE NOT EXISTS (SELECT 1 FROM scans s WHERE s.asset_id = a.id AND s.format <> 'assessment' AND s.imported_at >= ?)", []any{ts(scannedSince)}},
	}
	for _, l := range lists {
		rows, err := tx.query(ctx, l.q+" ORDER BY 1 LIMIT 1000", l.arg...)
		if err != nil {
			return st, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return st, err
			}
			*l.dst = append(*l.dst, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, err
		}
	}
	var last sql.NullString
	if err := tx.queryRow(ctx, "SELECT MAX(imported_at) FROM scans WHERE format = 'assessment'").Scan(&last); err != nil {
		return st, err
	}
	var err error
	if st.LastAssessment, err = parseNullTS(last); err != nil {
		return st, err
	}
	if st.Unescalated, err = tx.unescalated(ctx, now); err != nil {
		return st, err
	}
	st.LateExtensions, err = tx.lateExtensions(ctx)
	return st, err
}

// escalationGrace is how soon after breaching a breach must be escalated.
const escalationGrace = 24 * time.Hour

// unescalated returns the findings whose breach lasted a day (open past due
// by a day, or closed more than a day late) without an escalation within
// that day (VM-4).
func (tx *Tx) unescalated(ctx context.Context, now time.Time) ([]string, error) {
	type breach struct {
		id            string
		due           string
		closed, first sql.NullString
	}
	bs, err := queryAll(ctx, tx, func(sc row) (breach, error) {
		var b breach
		return b, sc.Scan(&b.id, &b.due, &b.closed, &b.first)
	}, `SELECT f.id, f.due_at, f.closed_at, e.first_at FROM findings f LEFT JOIN vuln_escalations e ON e.finding_id = f.id
		WHERE f.due_at < ? AND (f.status <> 'closed' OR f.closed_at > f.due_at) ORDER BY f.id`, ts(now.Add(-escalationGrace)))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, b := range bs {
		due, err := parseTS(b.due)
		if err != nil {
			return nil, err
		}
		deadline := due.Add(escalationGrace)
		if closed, err := parseNullTS(b.closed); err != nil {
			return nil, err
		} else if closed != nil && !closed.After(deadline) {
			continue // the breach ended within the day
		}
		if first, err := parseNullTS(b.first); err != nil {
			return nil, err
		} else if first == nil || first.After(deadline) {
			out = append(out, b.id)
		}
	}
	return out, nil
}

// lateExtensions returns the findings with an approved extension that was
// decided by its requester (or by nobody), or after the due date it
// replaced (VM-4). An extension approved before that date was recorded
// counts from the finding's first due date (first seen plus its SLA).
func (tx *Tx) lateExtensions(ctx context.Context) ([]string, error) {
	type ext struct {
		finding, by, decider, first string
		days                        int
		decided, before             sql.NullString
	}
	es, err := queryAll(ctx, tx, func(sc row) (ext, error) {
		var e ext
		return e, sc.Scan(&e.finding, &e.by, &e.decider, &e.decided, &e.before, &e.first, &e.days)
	}, `SELECT r.finding_id, r.requested_by, r.decided_by, r.decided_at, r.due_before, f.first_seen, f.sla_days
		FROM vuln_requests r JOIN findings f ON f.id = r.finding_id WHERE r.kind = 'extension' AND r.status = 'approved' ORDER BY r.finding_id, r.id`)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		decided, err := parseNullTS(e.decided)
		if err != nil {
			return nil, err
		}
		before, err := parseNullTS(e.before)
		if err != nil {
			return nil, err
		}
		if before == nil {
			first, err := parseTS(e.first)
			if err != nil {
				return nil, err
			}
			due := first.AddDate(0, 0, e.days)
			before = &due
		}
		if e.decider == "" || e.decider == e.by || decided == nil || decided.After(*before) {
			if len(out) == 0 || out[len(out)-1] != e.finding {
				out = append(out, e.finding)
			}
		}
	}
	return out, nil
}

var _ vuln.EscalationTx = (*Tx)(nil)

// BreachedFindings returns every open finding past its due date, most late first.
func (tx *Tx) BreachedFindings(ctx context.Context, now time.Time) ([]vuln.Finding, error) {
	return tx.findingsWhere(ctx, "WHERE f.status <> 'closed' AND f.due_at < ? ORDER BY f.due_at, f.id", ts(now))
}

// LastEscalations returns when each finding was last escalated.
func (tx *Tx) LastEscalations(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	var perr error
	err := tx.eachPair(ctx, "SELECT finding_id, last_at FROM vuln_escalations", func(id, at string) {
		t, err := parseTS(at)
		if err != nil {
			perr = err
		}
		out[id] = t
	})
	if err == nil {
		err = perr
	}
	return out, err
}

// ClearEscalation forgets when a finding was escalated.
func (tx *Tx) ClearEscalation(ctx context.Context, findingID string) error {
	_, err := tx.exec(ctx, "DELETE FROM vuln_escalations WHERE finding_id = ?", findingID)
	return err
}

// RecordEscalation notes that a finding was escalated at at.
func (tx *Tx) RecordEscalation(ctx context.Context, findingID string, at time.Time) error {
	_, err := tx.exec(ctx, `INSERT INTO vuln_escalations (finding_id, first_at, last_at, count) VALUES (?, ?, ?, 1)
		ON CONFLICT (finding_id) DO UPDATE SET last_at = excluded.last_at, count = vuln_escalations.count + 1`, findingID, ts(at), ts(at))
	return err
}
