package policy

import (
	"context"
	"strings"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/control"
)

// The states of a requirement in the compliance view.
const (
	StatePass          = "pass"
	StateFail          = "fail"
	StateException     = "exception" // a control fails, a valid attestation vouches for it
	StateAttested      = "attested"
	StateExpired       = "expired"
	StateNotApplicable = "not_applicable"
	StateGap           = "gap" // neither an automated control nor a valid attestation
)

// States lists the states in the order of the view's counts.
var States = []string{StatePass, StateFail, StateException, StateAttested, StateExpired, StateNotApplicable, StateGap}

// RequirementState is one requirement with what proves it.
type RequirementState struct {
	control.Requirement
	State        string           `json:"state"`
	Why          string           `json:"why"`
	Controls     []control.Latest `json:"controls"`
	Attestations []Attestation    `json:"attestations"`
	// AttestRoles are the roles that may attest it (governance.attest_roles).
	AttestRoles []string `json:"attest_roles,omitempty"`
}

// Compliance is every requirement of the catalog with its state.
type Compliance struct {
	Counts       map[string]int     `json:"counts"`
	Requirements []RequirementState `json:"requirements"`
}

// Compliance returns the compliance view: every requirement with its
// controls, its attestations and one state.
func (s *Service) Compliance(ctx context.Context) (Compliance, error) {
	items, err := s.opts.Catalog(ctx)
	if err != nil {
		return Compliance{}, err
	}
	all, err := s.Attestations(ctx, "")
	if err != nil {
		return Compliance{}, err
	}
	byReq := map[string][]Attestation{}
	for _, a := range all {
		byReq[a.Requirement] = append(byReq[a.Requirement], a)
	}
	out := Compliance{Counts: map[string]int{}, Requirements: make([]RequirementState, 0, len(items))}
	for _, st := range States {
		out.Counts[st] = 0
	}
	for _, it := range items {
		r := s.state(it, byReq[it.ID])
		r.AttestRoles = s.AttestRoles(it.ID)
		out.Counts[r.State]++
		out.Requirements = append(out.Requirements, r)
	}
	return out, nil
}

// Requirement returns one requirement of the compliance view.
func (s *Service) Requirement(ctx context.Context, reqID string) (RequirementState, error) {
	c, err := s.Compliance(ctx)
	if err != nil {
		return RequirementState{}, err
	}
	for _, r := range c.Requirements {
		if strings.EqualFold(r.ID, reqID) {
			return r, nil
		}
	}
	return RequirementState{}, opsguard.Errorf(opsguard.ENotFound, "no requirement %q", reqID)
}

func (s *Service) state(it control.Item, as []Attestation) RequirementState {
	if as == nil {
		as = []Attestation{}
	}
	r := RequirementState{Requirement: it.Requirement, Controls: it.Controls, Attestations: as}
	if r.Controls == nil {
		r.Controls = []control.Latest{}
	}
	now := s.now()
	valid, expired, pending := 0, 0, 0
	for _, a := range as {
		switch {
		case a.Valid(now):
			valid++
		case a.State == Accepted:
			expired++
		case a.State == Pending:
			pending++
		}
	}
	automated, results, failing, passing := 0, 0, 0, 0
	for _, c := range it.Controls {
		if strings.HasSuffix(c.ID, AttestedSuffix) {
			continue
		}
		automated++
		if c.Result == nil {
			continue
		}
		results++
		switch c.Result.Status {
		case control.Fail, control.Error:
			failing++
		case control.Pass:
			passing++
		}
	}
	switch {
	case failing > 0 && valid > 0:
		r.State, r.Why = StateException, "a control fails; a valid attestation vouches for the requirement"
	case failing > 0:
		r.State, r.Why = StateFail, "a control fails"
	case passing > 0:
		r.State, r.Why = StatePass, "its controls pass"
	case valid > 0:
		r.State, r.Why = StateAttested, "a valid, reviewed attestation"
	case expired > 0:
		r.State, r.Why = StateExpired, "its attestation expired"
	case automated > 0 && results == 0:
		r.State, r.Why = StateNotApplicable, "its controls have not run yet"
	case automated > 0:
		r.State, r.Why = StateNotApplicable, "its controls do not apply"
	case pending > 0:
		r.State, r.Why = StateGap, "its attestation awaits a review; nothing else covers it"
	default:
		r.State, r.Why = StateGap, "neither an automated control nor a valid attestation"
	}
	return r
}
