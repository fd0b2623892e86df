package vuln

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
)

// applyVEX records a VEX document's decisions on the asset's findings:
// fixed closes as fixed; not_affected closes as false_positive (the code is
// not present) or not_affected_unused (any other justification), with the
// impact statement as the justification; affected with a risk-accepted
// action becomes a pending acceptance request, because a document cannot
// stand in for a security officer's approval; the rest changes nothing.
// Each decision goes through the same workflow as by hand.
func (s *Service) applyVEX(ctx context.Context, actor, asset, file string, data []byte, rep *Report) (Summary, error) {
	sum := Summary{Asset: asset, Format: rep.Format, Tool: rep.Tool, Statements: len(rep.Statements)}
	fs, err := s.assetFindings(ctx, asset)
	if err != nil {
		return sum, err
	}
	if len(fs) == 0 {
		return sum, opsguard.Errorf(opsguard.ENotFound, "asset %q has no findings for the VEX statements to decide", asset)
	}
	by := Actor{Name: actor}
	// One transaction: every decision of the document, its evidence and
	// its record, or none of them.
	err = s.workflow(ctx, func(tx WorkflowTx) error {
		for _, st := range rep.Statements {
			for _, f := range fs {
				if f.Status == Closed || !speaksOf(st, f, asset) {
					continue
				}
				done, err := s.applyStatement(ctx, tx, by, f.ID, st)
				if err != nil {
					return fmt.Errorf("statement on %s: %w", st.VulnID, err)
				}
				if done {
					sum.Decided++
				}
			}
		}
		blob, err := s.log.PutBlob(ctx, tx, "application/json", data)
		if err != nil {
			return err
		}
		es, err := s.log.Append(ctx, tx, ledger.Event{Actor: actor, Kind: "vex.applied", Subject: "asset/" + asset,
			Payload: map[string]any{"file": file, "format": rep.Format, "statements": len(rep.Statements), "decided": sum.Decided, "evidence": []string{blob.Ref()}}})
		if err != nil {
			return err
		}
		sum.LedgerSeq = es[0].Seq
		return nil
	})
	return sum, err
}

// applyStatement decides about a finding as the statement says, in tx, and
// reports whether it closed it or sent it for approval.
func (s *Service) applyStatement(ctx context.Context, tx WorkflowTx, by Actor, findingID string, st Statement) (bool, error) {
	why := strings.TrimSpace(st.Impact)
	if why == "" {
		why = "VEX: " + st.Justification
	}
	var err error
	switch st.Status {
	case "fixed":
		_, err = s.resolve(ctx, tx, by, findingID, Fixed, why)
	case "not_affected":
		r := NotAffectedUnused
		if st.Justification == "vulnerable_code_not_present" || st.Justification == "component_not_present" || st.Justification == "false_positive" {
			r = FalsePositive
		}
		if len(why) < minJustification {
			why = fmt.Sprintf("VEX statement: not affected (%s)", st.Justification)
		}
		_, err = s.resolve(ctx, tx, by, findingID, r, why)
	case "affected":
		// OpenVEX carries it in the action statement, CycloneDX in the detail.
		action := strings.TrimSpace(st.Action)
		if !strings.HasPrefix(strings.ToLower(action), "risk accepted") {
			action = strings.TrimSpace(st.Impact)
		}
		if !strings.HasPrefix(strings.ToLower(action), "risk accepted") {
			return false, nil
		}
		until := s.now().AddDate(0, 3, 0)
		if i := strings.Index(action, "until "); i >= 0 && len(action) >= i+16 {
			if t, perr := time.Parse(time.DateOnly, action[i+6:i+16]); perr == nil && t.After(s.now()) {
				until = t
			}
		}
		_, err = s.request(ctx, tx, by, findingID, Acceptance, action, until)
		if opsguard.ErrorCode(err) == opsguard.EConflict {
			return false, nil // already pending
		}
	default:
		return false, nil
	}
	return err == nil, err
}

// speaksOf reports whether a statement is about finding f of asset, by any
// id of f: its own, its aliases as listed, or the ids the import's index
// knows of it.
func speaksOf(st Statement, f Finding, asset string) bool {
	ids := append([]string{st.VulnID}, st.Aliases...)
	hit := false
	for _, x := range ids {
		if _, known := f.IDs[x]; known || x == f.VulnID || slices.Contains(f.Aliases, x) {
			hit = true
		}
	}
	if !hit {
		return false
	}
	return st.Product == "" || st.Product == asset || st.Product == f.Package || st.Product == f.Location
}
