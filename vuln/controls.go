package vuln

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard/control"
)

// Stats is what the VM controls check, read in one snapshot.
type Stats struct {
	Assets   int
	Findings int
	// Each list holds the ids of the findings (or names of the assets)
	// that break a rule; only the count and a few ids are shown.
	NoSeverity          []string // VM-2
	BreachedUnextended  []string // VM-3: open past due
	Unescalated         []string // VM-4: a breach not escalated within a day
	LateExtensions      []string // VM-4: an extension approved after the breach, or not by another officer
	ClosedNoResolution  []string // VM-5
	ClosedNoJustified   []string // VM-5: false positive / unused without a reason
	AcceptedNoApproval  []string // VM-5: risk accepted without an approved request
	NoRisk              []string // VM-6
	HighFixedUnverified []string // VM-7: high-risk fixes not confirmed by a scan
	StaleAssets         []string // VM-1: not scanned within the interval
	LastAssessment      *time.Time
}

// StatsTx reads the statistics.
type StatsTx interface {
	VulnStats(ctx context.Context, now, scannedSince time.Time) (Stats, error)
}

func (s *Service) stats(ctx context.Context) (Stats, error) {
	var st Stats
	now := s.now().UTC()
	err := s.store.View(ctx, func(tx Tx) error {
		stx, ok := tx.(StatsTx)
		if !ok {
			return fmt.Errorf("vuln: the store has no statistics")
		}
		var err error
		st, err = stx.VulnStats(ctx, now, now.AddDate(0, 0, -s.cfg.ScanIntervalDays))
		return err
	})
	return st, err
}

// Controls returns the controls of VM-1 … VM-7. Each reads the register in
// its own snapshot.
func (s *Service) Controls() []control.Control {
	// what is said of one finding and, after "|", of several.
	rule := func(id, req, title string, pick func(Stats) []string, what string) control.Control {
		one, many, _ := strings.Cut(what, "|")
		return control.Control{ID: id, Requirement: req, Title: title, Evaluate: func(ctx context.Context) (control.Outcome, error) {
			st, err := s.stats(ctx)
			if err != nil {
				return control.Outcome{}, err
			}
			if st.Findings == 0 {
				return control.Outcome{Status: control.NotApplicable, Summary: "The register holds no findings yet."}, nil
			}
			bad := pick(st)
			if len(bad) == 0 {
				return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("All %d findings pass: none %s.", st.Findings, one)}, nil
			}
			verb := many
			if len(bad) == 1 {
				verb = one
			}
			return control.Outcome{Status: control.Fail, Refs: refs("finding", bad),
				Summary: fmt.Sprintf("%d of %d findings %s: %s.", len(bad), st.Findings, verb, control.Examples(bad, 3, ", "))}, nil
		}}
	}
	return []control.Control{
		{ID: "VM-1.assets-scanned", Requirement: "VM-1", Title: "Every asset was scanned recently and an external assessment is on record", Evaluate: s.scannedControl},
		rule("VM-2.severity-known", "VM-2", "Every finding has a severity", func(st Stats) []string { return st.NoSeverity }, "lacks a severity|lack a severity"),
		rule("VM-3.sla-kept", "VM-3", "No finding is open past its due date", func(st Stats) []string { return st.BreachedUnextended }, "is open past its due date|are open past their due date"),
		rule("VM-4.breaches-escalated", "VM-4", "Every breach is escalated within a day; every extension is approved by another security officer before the breach",
			func(st Stats) []string { return append(append([]string{}, st.Unescalated...), st.LateExtensions...) },
			"breached without an escalation within a day, or was extended by its requester or after its breach|breached without an escalation within a day, or were extended by their requester or after their breach"),
		rule("VM-5.resolutions", "VM-5", "Every closed finding has a resolution with its justification and approval",
			func(st Stats) []string {
				return append(append(append([]string{}, st.ClosedNoResolution...), st.ClosedNoJustified...), st.AcceptedNoApproval...)
			}, "is closed without a resolution, its justification or its approval|are closed without a resolution, their justification or their approval"),
		rule("VM-6.risk-assessed", "VM-6", "Every finding's risk is assessed", func(st Stats) []string { return st.NoRisk }, "lacks a risk category|lack a risk category"),
		rule("VM-7.fixes-verified", "VM-7", "Every high-risk fix is confirmed by a later scan", func(st Stats) []string { return st.HighFixedUnverified }, "is a high-risk fix no scan confirmed|are high-risk fixes no scan confirmed"),
	}
}

func (s *Service) scannedControl(ctx context.Context) (control.Outcome, error) {
	st, err := s.stats(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	if st.Assets == 0 {
		return control.Outcome{Status: control.Fail, Summary: "No asset has ever been scanned: the register is empty."}, nil
	}
	var problems []string
	if len(st.StaleAssets) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d assets were not scanned within %d days (%s)", len(st.StaleAssets), st.Assets,
			s.cfg.ScanIntervalDays, control.Examples(st.StaleAssets, 3, ", ")))
	}
	limit := s.now().UTC().AddDate(0, 0, -s.cfg.ExternalAssessmentIntervalDays)
	switch {
	case st.LastAssessment == nil:
		problems = append(problems, "no external assessment or penetration test is on record")
	case st.LastAssessment.Before(limit):
		problems = append(problems, fmt.Sprintf("the last external assessment was on %s, more than %d days ago", st.LastAssessment.Format(time.DateOnly), s.cfg.ExternalAssessmentIntervalDays))
	}
	if len(problems) > 0 {
		return control.Outcome{Status: control.Fail, Refs: refs("asset", st.StaleAssets), Summary: strings.Join(problems, "; ") + "."}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("All %d assets were scanned within %d days; the last external assessment was on %s.",
		st.Assets, s.cfg.ScanIntervalDays, st.LastAssessment.Format(time.DateOnly))}, nil
}

func refs(kind string, ids []string) []control.Ref {
	var out []control.Ref
	for _, id := range ids[:min(20, len(ids))] {
		out = append(out, control.Ref{Kind: kind, ID: id})
	}
	return out
}
