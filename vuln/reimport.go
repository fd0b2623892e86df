package vuln

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// errNotAgain rolls back the look-up of importAgain when the report is not
// a repeat.
var errNotAgain = errors.New("not a repeated report")

// importAgain records a report that is byte for byte the newest scan of its
// tool on its asset, as CI pipelines send nightly: nothing changes but the
// findings' last_seen and the reopening of those since closed as fixed,
// which is what the full import would conclude. It reports ok false, having
// written nothing, for any other report.
//
// The previous scan's findings are those whose tool rows point at it (or
// at the scan it repeats): its import, of the same bytes, matched or
// created exactly them, and only a later scan of the same tool on the
// asset (then it would not be the newest) moves or removes those rows.
// The rows stay where they are; the new scan names the scan they point at
// and that scan's seen_at moves, so a repeat writes two rows, not one per
// finding. The report is not parsed again, so
// what the importer of a newer opsguard would read differently in it is
// read when the report next changes.
func (s *Service) importAgain(ctx context.Context, actor string, req ImportRequest, blob ledger.Blob) (Summary, bool, error) {
	var sum Summary
	err := s.store.Update(ctx, func(tx Tx) error {
		prev, asset, err := s.previous(ctx, tx, req, blob)
		if err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		if err := s.log.Put(ctx, tx, blob); err != nil {
			return err
		}
		base := prev.ID
		if prev.Repeats != "" {
			base = prev.Repeats
		}
		scan := prev
		scan.ID, scan.Evidence, scan.ImportedAt, scan.ImportedBy, scan.Repeats = id.New("scn"), blob.Ref(), now, actor, base
		if err := tx.InsertScan(ctx, scan); err != nil {
			return err
		}
		closed, err := tx.ClosedFindingsOfScan(ctx, base)
		if err != nil {
			return err
		}
		n, err := tx.ScanSeen(ctx, base, now)
		if err != nil {
			return err
		}
		sum = Summary{Scan: scan.ID, Asset: asset.Name, Format: scan.Format, Tool: scan.Tool, Findings: scan.Findings, Statements: scan.Statements}
		var events []ledger.Event
		for i := range closed {
			ev, err := s.reopen(ctx, tx, actor, &closed[i], scan.ID)
			if err != nil {
				return err
			}
			if ev != nil {
				sum.Reopened++
				events = append(events, *ev)
			}
		}
		sum.Unchanged = n - sum.Reopened
		events = append(events, scanImported(actor, asset.Name, req.File, scan, sum))
		es, err := s.log.Append(ctx, tx, events...)
		if err != nil {
			return err
		}
		sum.LedgerSeq = es[len(es)-1].Seq
		return nil
	})
	switch {
	case errors.Is(err, errNotAgain):
		return Summary{}, false, nil
	case err != nil:
		return Summary{}, true, fmt.Errorf("import %s: %w", req.File, err)
	}
	return sum, true, nil
}

// previous returns the scan a repeated report repeats and its asset, or
// errNotAgain: when no scan has the same evidence, when the request names
// another format or asset than that scan's, or when a later scan of the
// same tool on the asset came since.
func (s *Service) previous(ctx context.Context, tx Tx, req ImportRequest, blob ledger.Blob) (Scan, Asset, error) {
	prev, err := tx.ScanByEvidence(ctx, blob.Ref())
	if err != nil {
		return prev, Asset{}, notAgain(err)
	}
	// An assessment may put its rows on several assets: it is imported
	// whole again (it is small), not moved on one of them.
	if prev.Statements < 0 || prev.Format == "assessment" || !s.sameFormat(req, prev.Format) || !validKind(req.AssetKind) {
		return prev, Asset{}, errNotAgain
	}
	name := clean(strings.TrimSpace(req.Asset))
	if name == "" {
		name = prev.Target
	}
	// Held before the asset's newest scan is read, as by a full import.
	if err := tx.LockAsset(ctx, name); err != nil {
		return prev, Asset{}, fmt.Errorf("lock asset %s: %w", name, err)
	}
	asset, err := tx.AssetByName(ctx, name)
	if err != nil {
		return prev, asset, notAgain(err)
	}
	last, err := tx.LatestScan(ctx, asset.ID, prev.Tool)
	if err != nil {
		return prev, asset, notAgain(err)
	}
	if asset.ID != prev.AssetID || last.ID != prev.ID {
		return prev, asset, errNotAgain
	}
	return prev, asset, nil
}

// notAgain turns "not found" into errNotAgain and keeps other errors.
func notAgain(err error) error {
	if opsguard.ErrorCode(err) == opsguard.ENotFound {
		return errNotAgain
	}
	return err
}

// sameFormat reports whether req would be read by the importer format.
func (s *Service) sameFormat(req ImportRequest, format string) bool {
	if req.Format != "" && req.Format != "auto" {
		return req.Format == format
	}
	head, err := req.head()
	if err != nil {
		return false
	}
	imp, err := s.formats.Detect(req.File, head)
	return err == nil && imp.Name() == format
}

func validKind(kind string) bool {
	return kind == "" || slices.Contains(AssetKinds, kind)
}
