package vuln

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Request is a risk acceptance or an SLA extension waiting for, or given,
// a security officer's decision.
type Request struct {
	ID            string     `json:"id"`
	FindingID     string     `json:"finding_id"`
	Kind          string     `json:"kind"` // acceptance | extension
	Justification string     `json:"justification"`
	Until         time.Time  `json:"until"` // acceptance expiry, or the new due date
	RequestedBy   string     `json:"requested_by"`
	RequestedAt   time.Time  `json:"requested_at"`
	Status        string     `json:"status"` // pending | approved | rejected
	DecidedBy     string     `json:"decided_by,omitempty"`
	DecidedAt     *time.Time `json:"decided_at,omitempty"`
	DecisionNote  string     `json:"decision_note,omitempty"`
	// DueBefore is the due date an approved extension replaced (VM-4: the
	// approval must come before it).
	DueBefore *time.Time `json:"due_before,omitempty"`
	// Finding is what the request is about, as its decision needs it (in
	// listings).
	Finding *Subject `json:"finding,omitempty"`
}

// Subject is the finding of a request, as a security officer deciding it
// needs to see it.
type Subject struct {
	VulnID   string    `json:"vuln_id"`
	Asset    string    `json:"asset"`
	Title    string    `json:"title"`
	Package  string    `json:"package,omitempty"`
	Version  string    `json:"version,omitempty"`
	Location string    `json:"location,omitempty"`
	Severity Severity  `json:"severity"`
	Risk     Risk      `json:"risk"`
	RiskNote string    `json:"risk_note"`
	DueAt    time.Time `json:"due_at"`
	Status   Status    `json:"status"`
}

// The kinds of request.
const (
	Acceptance = "acceptance"
	Extension  = "extension"
)

// WorkflowTx is what the workflow needs beyond Tx.
type WorkflowTx interface {
	Tx
	UpdateFindingWorkflow(ctx context.Context, f Finding) error
	InsertRequest(ctx context.Context, r Request) error
	RequestByID(ctx context.Context, id string) (Request, error)
	UpdateRequest(ctx context.Context, r Request) error
	ListRequests(ctx context.Context, status string) ([]Request, error)
	FindingRequests(ctx context.Context, findingID string) ([]Request, error)
	PendingRequest(ctx context.Context, findingID string) (bool, error)
	ExpiredAcceptances(ctx context.Context, now time.Time) ([]Finding, error)
}

// Actor is who acts on a finding: the name the ledger records and what the
// rules need to know of them.
type Actor struct {
	Name            string
	SecurityOfficer bool // may approve acceptances and extensions
}

// minJustification is the shortest justification taken: a word or two is
// not a documented reason.
const minJustification = 15

func invalid(field, format string, args ...any) error {
	return &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf(format, args...), Details: map[string]any{"field": field}}
}

// workflow runs fn in a transaction of its own.
func (s *Service) workflow(ctx context.Context, fn func(tx WorkflowTx) error) error {
	return s.store.Update(ctx, func(tx Tx) error {
		wtx, err := workflowTx(tx)
		if err != nil {
			return err
		}
		return fn(wtx)
	})
}

// within runs fn in tx, the transaction of a larger operation (applying a
// VEX document, importing a report) that a step joins instead of
// committing on its own, or in a transaction of its own when tx is nil.
func (s *Service) within(ctx context.Context, tx WorkflowTx, fn func(tx WorkflowTx) error) error {
	if tx != nil {
		return fn(tx)
	}
	return s.workflow(ctx, fn)
}

// workflowTx is tx as the workflow needs it.
func workflowTx(tx Tx) (WorkflowTx, error) {
	wtx, ok := tx.(WorkflowTx)
	if !ok {
		return nil, fmt.Errorf("vuln: the store does not support the workflow")
	}
	return wtx, nil
}

// Start marks an open finding as being worked on.
func (s *Service) Start(ctx context.Context, by Actor, findingID string) (Finding, error) {
	return s.change(ctx, nil, by, findingID, "finding.started", nil, func(f *Finding) error {
		if f.Status != Open {
			return opsguard.Errorf(opsguard.EConflict, "finding %s is %s, not open", f.ID, f.Status)
		}
		f.Status = InProgress
		return nil
	})
}

// Resolve closes a finding as fixed, false_positive or not_affected_unused.
// The last two need a written justification; risk acceptance goes through
// RequestAcceptance and a security officer's approval.
func (s *Service) Resolve(ctx context.Context, by Actor, findingID string, r Resolution, justification string) (Finding, error) {
	return s.resolve(ctx, nil, by, findingID, r, justification)
}

// resolve is Resolve in tx, or in a transaction of its own when tx is nil.
func (s *Service) resolve(ctx context.Context, tx WorkflowTx, by Actor, findingID string, r Resolution, justification string) (Finding, error) {
	justification = strings.TrimSpace(justification)
	switch r {
	case Fixed:
	case FalsePositive, NotAffectedUnused:
		if len(justification) < minJustification {
			return Finding{}, invalid("justification", "%s needs a written justification of at least %d characters", r, minJustification)
		}
	case RiskAccepted:
		return Finding{}, invalid("resolution", "risk acceptance needs a request approved by a security officer: use accept")
	default:
		return Finding{}, invalid("resolution", "resolution %q: one of fixed, false_positive, not_affected_unused", r)
	}
	return s.change(ctx, tx, by, findingID, "finding.resolved", map[string]any{"resolution": r, "justification": justification}, func(f *Finding) error {
		if f.Status == Closed {
			return opsguard.Errorf(opsguard.EConflict, "finding %s is already closed (%s)", f.ID, f.Resolution)
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		f.Status, f.Resolution, f.Justification, f.ClosedAt = Closed, r, justification, &now
		return nil
	})
}

// change loads a finding, applies fn, stores it and ledgers kind, in tx or
// in a transaction of its own when tx is nil.
func (s *Service) change(ctx context.Context, tx WorkflowTx, by Actor, findingID, kind string, payload map[string]any, fn func(*Finding) error) (Finding, error) {
	var f Finding
	err := s.within(ctx, tx, func(tx WorkflowTx) error {
		var err error
		if f, err = tx.FindingByID(ctx, findingID); err != nil {
			return err
		}
		from := f.Status
		if err := fn(&f); err != nil {
			return err
		}
		if err := tx.UpdateFindingWorkflow(ctx, f); err != nil {
			return err
		}
		if payload == nil {
			payload = map[string]any{}
		}
		payload["from"], payload["to"] = from, f.Status
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: kind, Subject: "finding/" + f.ID, Payload: payload})
		return err
	})
	if err != nil {
		return Finding{}, fmt.Errorf("%s %s: %w", kind, findingID, err)
	}
	return f, nil
}

// RequestAcceptance asks that a finding's risk be accepted until a date,
// for a written reason. A security officer other than the requester decides.
func (s *Service) RequestAcceptance(ctx context.Context, by Actor, findingID, justification string, until time.Time) (Request, error) {
	return s.request(ctx, nil, by, findingID, Acceptance, justification, until)
}

// RequestExtension asks for a later due date, for a written reason.
func (s *Service) RequestExtension(ctx context.Context, by Actor, findingID, justification string, due time.Time) (Request, error) {
	return s.request(ctx, nil, by, findingID, Extension, justification, due)
}

// request files a request of kind in tx, or in a transaction of its own
// when tx is nil.
func (s *Service) request(ctx context.Context, tx WorkflowTx, by Actor, findingID, kind, justification string, until time.Time) (Request, error) {
	justification = strings.TrimSpace(justification)
	now := s.now().UTC().Truncate(time.Microsecond)
	if len(justification) < minJustification {
		return Request{}, invalid("justification", "a %s needs a written justification of at least %d characters", kind, minJustification)
	}
	if !until.After(now) {
		return Request{}, invalid("until", "the date must be in the future")
	}
	r := Request{ID: id.New("req"), FindingID: findingID, Kind: kind, Justification: justification, Until: until.UTC(),
		RequestedBy: by.Name, RequestedAt: now, Status: "pending"}
	err := s.within(ctx, tx, func(tx WorkflowTx) error {
		f, err := tx.FindingByID(ctx, findingID)
		if err != nil {
			return err
		}
		if f.Status == Closed {
			return opsguard.Errorf(opsguard.EConflict, "finding %s is closed (%s)", f.ID, f.Resolution)
		}
		if kind == Extension && !until.After(f.DueAt) {
			return invalid("until", "an extension must move the due date (%s) later", f.DueAt.Format(time.DateOnly))
		}
		if pending, err := tx.PendingRequest(ctx, findingID); err != nil {
			return err
		} else if pending {
			return opsguard.Errorf(opsguard.EConflict, "finding %s already has a pending request", findingID)
		}
		if err := tx.InsertRequest(ctx, r); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "finding." + kind + "_requested", Subject: "finding/" + findingID,
			Payload: map[string]any{"request": r.ID, "justification": justification, "until": r.Until}})
		return err
	})
	if err != nil {
		return Request{}, fmt.Errorf("request %s for %s: %w", kind, findingID, err)
	}
	return r, nil
}

// Decide approves or rejects a pending request. Only a security officer
// may, and never the requester (segregation of duties). A rejection needs
// a written reason (note), which the requester reads.
func (s *Service) Decide(ctx context.Context, by Actor, requestID string, approve bool, note string) (Request, error) {
	if !by.SecurityOfficer {
		return Request{}, opsguard.Errorf(opsguard.EForbidden, "only a security officer may approve or reject")
	}
	if !approve && len(strings.TrimSpace(note)) < minJustification {
		return Request{}, invalid("reason", "a rejection needs a written reason of at least %d characters", minJustification)
	}
	var r Request
	err := s.workflow(ctx, func(tx WorkflowTx) error {
		var err error
		if r, err = tx.RequestByID(ctx, requestID); err != nil {
			return err
		}
		if r.Status != "pending" {
			return opsguard.Errorf(opsguard.EConflict, "request %s is already %s", r.ID, r.Status)
		}
		if r.RequestedBy == by.Name {
			return opsguard.Errorf(opsguard.EForbidden, "%s requested this %s and may not decide it", by.Name, r.Kind)
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		r.Status, r.DecidedBy, r.DecidedAt, r.DecisionNote = "rejected", by.Name, &now, strings.TrimSpace(note)
		if approve {
			r.Status = "approved"
			if err := s.apply(ctx, tx, &r, now); err != nil {
				return err
			}
		}
		if err := tx.UpdateRequest(ctx, r); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "finding." + r.Kind + "_" + r.Status, Subject: "finding/" + r.FindingID,
			Payload: map[string]any{"request": r.ID, "requested_by": r.RequestedBy, "until": r.Until, "note": r.DecisionNote}})
		return err
	})
	if err != nil {
		return Request{}, fmt.Errorf("decide %s: %w", requestID, err)
	}
	return r, nil
}

// apply carries out an approved request on its finding. An extension
// records the due date it replaces, and clears the finding's escalation so
// that a breach of the new date is escalated as a new one (VM-4).
func (s *Service) apply(ctx context.Context, tx WorkflowTx, r *Request, now time.Time) error {
	f, err := tx.FindingByID(ctx, r.FindingID)
	if err != nil {
		return err
	}
	if f.Status == Closed {
		return opsguard.Errorf(opsguard.EConflict, "finding %s was closed meanwhile (%s)", f.ID, f.Resolution)
	}
	switch r.Kind {
	case Acceptance:
		until := r.Until
		f.Status, f.Resolution, f.Justification, f.ClosedAt, f.AcceptedUntil = Closed, RiskAccepted, r.Justification, &now, &until
	case Extension:
		until, before := r.Until, f.DueAt
		if etx, ok := tx.(EscalationTx); ok {
			if err := etx.ClearEscalation(ctx, f.ID); err != nil {
				return err
			}
		}
		r.DueBefore, f.DueAt, f.ExtendedUntil = &before, until, &until
		f.RiskNote = fmt.Sprintf("%s; extended to %s (request %s, approved by %s): %s", f.RiskNote, r.Until.Format(time.DateOnly), r.ID, r.DecidedBy, r.Justification)
	}
	return tx.UpdateFindingWorkflow(ctx, f)
}

// Requests lists requests by status ("" for all), oldest first: the
// approvals inbox.
func (s *Service) Requests(ctx context.Context, status string) ([]Request, error) {
	var out []Request
	err := s.store.View(ctx, func(tx Tx) error {
		wtx, err := workflowTx(tx)
		if err != nil {
			return err
		}
		out, err = wtx.ListRequests(ctx, status)
		return err
	})
	return out, err
}

// FindingRequests lists a finding's requests, oldest first.
func (s *Service) FindingRequests(ctx context.Context, findingID string) ([]Request, error) {
	var out []Request
	err := s.store.View(ctx, func(tx Tx) error {
		wtx, err := workflowTx(tx)
		if err != nil {
			return err
		}
		out, err = wtx.FindingRequests(ctx, findingID)
		return err
	})
	return out, err
}

// ReopenExpired reopens every accepted risk whose acceptance has expired;
// the scheduler calls it daily.
func (s *Service) ReopenExpired(ctx context.Context) (int, error) {
	n := 0
	err := s.workflow(ctx, func(tx WorkflowTx) error {
		now := s.now().UTC().Truncate(time.Microsecond)
		fs, err := tx.ExpiredAcceptances(ctx, now)
		if err != nil {
			return err
		}
		var events []ledger.Event
		for _, f := range fs {
			until := f.AcceptedUntil
			f.Status, f.Resolution, f.ClosedAt, f.AcceptedUntil = Open, "", nil, nil
			if err := tx.UpdateFindingWorkflow(ctx, f); err != nil {
				return err
			}
			events = append(events, ledger.Event{Actor: "system", Kind: "finding.acceptance_expired", Subject: "finding/" + f.ID,
				Payload: map[string]any{"accepted_until": until}})
		}
		n = len(fs)
		_, err = s.log.Append(ctx, tx, events...)
		return err
	})
	return n, err
}
