// Package control is the engine that checks the policy, clause by clause.
//
// Each module registers Controls, each tied to one requirement ID of the
// policy (CM-3, BK-1, …). A run evaluates every control against the store
// and records the results, with history, in one transaction that is also
// ledgered. The catalog lists every requirement of the policy; one with no
// control is shown as not yet automated, so the gap stays visible.
package control

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Area is a chapter of the policy.
type Area struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Requirement is one clause of the policy.
type Requirement struct {
	ID   string `json:"id"`
	Area string `json:"area"`
	Text string `json:"text"`
}

// Status is the outcome of a control, or of a requirement in the catalog.
type Status string

// The statuses.
const (
	Pass          Status = "pass"
	Fail          Status = "fail"
	NotApplicable Status = "not_applicable"
	// Error means the control could not be evaluated; it counts as failing.
	Error Status = "error"
	// NotAutomated is a requirement no control checks yet (catalog only).
	NotAutomated Status = "not_automated"
)

// Ref points at what proves a result: a ledger entry ("ledger", "42"), a
// checkpoint ("checkpoint", "1200") or a record ("user", "usr_…").
type Ref struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Note string `json:"note,omitempty"`
}

// Outcome is what a control's evaluation returns.
type Outcome struct {
	Status  Status
	Summary string // one human sentence
	Refs    []Ref
}

// Control checks one requirement.
type Control struct {
	ID          string // stable, e.g. "LG-3.ledger-verifies"
	Requirement string // e.g. "LG-3"
	Title       string
	Evaluate    func(ctx context.Context) (Outcome, error)
}

// Result is a stored outcome of one control in one run.
type Result struct {
	RunID       string    `json:"run_id"`
	ControlID   string    `json:"control_id"`
	Requirement string    `json:"requirement"`
	Status      Status    `json:"status"`
	Summary     string    `json:"summary"`
	Refs        []Ref     `json:"refs"`
	EvaluatedAt time.Time `json:"evaluated_at"`
}

// Run is one evaluation of every control.
type Run struct {
	ID         string    `json:"id"`
	Trigger    string    `json:"trigger"` // "schedule", "manual", "start"
	Actor      string    `json:"actor"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Results    []Result  `json:"results"`
	LedgerSeq  int64     `json:"ledger_seq"`
}

// Counts tallies results by status.
func (r Run) Counts() map[Status]int {
	c := map[Status]int{}
	for _, res := range r.Results {
		c[res.Status]++
	}
	return c
}

// RequirementByID returns the requirement with the given ID.
func RequirementByID(id string) (Requirement, bool) {
	for _, r := range Requirements {
		if r.ID == id {
			return r, true
		}
	}
	return Requirement{}, false
}

func (c Control) validate() error {
	if c.ID == "" || c.Evaluate == nil {
		return fmt.Errorf("control %q: needs an ID and an Evaluate function", c.ID)
	}
	if _, ok := RequirementByID(c.Requirement); !ok {
		return fmt.Errorf("control %s: unknown requirement %q", c.ID, c.Requirement)
	}
	return nil
}

// Examples names the first n of items joined by sep, and says how many more
// there are: "a, b, c and 3 more". A summary that lists three of six must
// not read as if it listed them all.
func Examples(items []string, n int, sep string) string {
	if len(items) <= n {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], sep), len(items)-n)
}
