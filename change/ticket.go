package change

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Ticket is a non-code change (CM-5): an infrastructure, network or
// configuration change carried out outside git, with its owner, its
// approver, the impact and the rollback steps, approved before it is
// carried out.
type Ticket struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Category    string     `json:"category"` // infrastructure | network | configuration
	Owner       string     `json:"owner"`    // a user name
	Approver    string     `json:"approver"` // the user who must approve; "" for any approver
	Impact      string     `json:"impact"`
	Risk        string     `json:"risk"` // low | medium | high
	Rollback    string     `json:"rollback"`
	WindowStart *time.Time `json:"window_start,omitempty"`
	WindowEnd   *time.Time `json:"window_end,omitempty"`
	State       string     `json:"state"`
	CreatedBy   string     `json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	SubmittedAt *time.Time `json:"submitted_at,omitempty"`
	// DecidedBy approved or rejected the ticket.
	DecidedBy     string     `json:"decided_by,omitempty"`
	DecidedAt     *time.Time `json:"decided_at,omitempty"`
	DecisionNote  string     `json:"decision_note,omitempty"`
	ImplementedBy string     `json:"implemented_by,omitempty"`
	ImplementedAt *time.Time `json:"implemented_at,omitempty"`
	// ClosedBy verified the change or rolled it back.
	ClosedBy    string     `json:"closed_by,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	OutcomeNote string     `json:"outcome_note,omitempty"`
}

// The states of a ticket: draft → submitted → approved | rejected;
// approved → implemented → verified | rolled_back.
const (
	TicketDraft       = "draft"
	TicketSubmitted   = "submitted"
	TicketApproved    = "approved"
	TicketRejected    = "rejected"
	TicketImplemented = "implemented"
	TicketVerified    = "verified"
	TicketRolledBack  = "rolled_back"
)

// TicketStates lists the states a filter may name, in workflow order.
var TicketStates = []string{TicketDraft, TicketSubmitted, TicketApproved, TicketRejected, TicketImplemented, TicketVerified, TicketRolledBack}

// TicketCategories lists the kinds of non-code change.
var TicketCategories = []string{"infrastructure", "network", "configuration"}

// TicketRisks lists the risk levels a ticket may carry.
var TicketRisks = []string{"low", "medium", "high"}

// Decision is what the approver decided, approved or rejected, whatever
// state the ticket has come to since; "" before a decision.
func (t Ticket) Decision() string {
	switch {
	case t.DecidedAt == nil && t.DecidedBy == "":
		return ""
	case t.State == TicketRejected:
		return TicketRejected
	}
	return TicketApproved
}

// CarriedOut reports whether the change was carried out, whatever came of it.
func (t Ticket) CarriedOut() bool {
	return t.State == TicketImplemented || t.State == TicketVerified || t.State == TicketRolledBack
}

// TicketFilter selects tickets. A store returns every match when Limit is
// 0 or less; Tickets.List caps it for callers of the API.
type TicketFilter struct {
	State string `json:"state,omitempty"`
	Owner string `json:"owner,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// TicketTx is what the tickets need from a store transaction.
type TicketTx interface {
	ledger.Tx
	InsertTicket(ctx context.Context, t Ticket) error
	UpdateTicket(ctx context.Context, t Ticket) error
	TicketByID(ctx context.Context, id string) (Ticket, error)
	// ListTickets returns the matching tickets, newest first.
	ListTickets(ctx context.Context, f TicketFilter) ([]Ticket, error)
}

// TicketStore runs transactions.
type TicketStore interface {
	Update(ctx context.Context, fn func(TicketTx) error) error
	View(ctx context.Context, fn func(TicketTx) error) error
}

// Tickets is the register of change tickets.
type Tickets struct {
	store TicketStore
	log   *ledger.Log
	now   func() time.Time
}

// NewTickets returns the ticket register over store and log.
func NewTickets(store TicketStore, log *ledger.Log, now func() time.Time) *Tickets {
	if now == nil {
		now = time.Now
	}
	return &Tickets{store: store, log: log, now: now}
}

// NewTicket is what a requester writes; everything but the title may stay
// empty in a draft and is required at submission.
type NewTicket struct {
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Category    string     `json:"category"`
	Approver    string     `json:"approver"`
	Impact      string     `json:"impact"`
	Risk        string     `json:"risk"`
	Rollback    string     `json:"rollback"`
	WindowStart *time.Time `json:"window_start,omitempty"`
	WindowEnd   *time.Time `json:"window_end,omitempty"`
	// Owner defaults to the creator.
	Owner string `json:"owner,omitempty"`
}

// ticketMinNote is the shortest reason taken for a rejection or a
// rollback: a word or two does not document one.
const ticketMinNote = 15

// ticketMaxTitle keeps titles to one line of a list.
const ticketMaxTitle = 200

func ticketInvalid(field, format string, args ...any) error {
	return &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf(format, args...), Details: map[string]any{"field": field}}
}

// ticketUser is the user name a ticket records for an actor.
func ticketUser(a Actor) string {
	if a.Username != "" {
		return a.Username
	}
	return a.Name
}

// ticketIs reports whether the actor is one of the users named, also when
// the actor has no user name and the ticket recorded their ledger name.
func ticketIs(a Actor, who ...string) bool {
	me := ticketUser(a)
	return a.Is(who...) || slices.ContainsFunc(who, func(w string) bool { return w != "" && strings.EqualFold(w, me) })
}

func (t *Tickets) stamp() time.Time { return t.now().UTC().Truncate(time.Microsecond) }

// fill copies n onto tk, trimmed and normalised, and checks what a draft
// must already get right: a title, known category and risk, a window that
// ends after it starts, and an approver other than the owner and creator.
func (n NewTicket) fill(tk *Ticket) error {
	tk.Title, tk.Description = strings.TrimSpace(n.Title), strings.TrimSpace(n.Description)
	tk.Category, tk.Risk = strings.ToLower(strings.TrimSpace(n.Category)), strings.ToLower(strings.TrimSpace(n.Risk))
	tk.Approver, tk.Impact, tk.Rollback = strings.TrimSpace(n.Approver), strings.TrimSpace(n.Impact), strings.TrimSpace(n.Rollback)
	if o := strings.TrimSpace(n.Owner); o != "" {
		tk.Owner = o
	}
	tk.WindowStart, tk.WindowEnd = ticketTime(n.WindowStart), ticketTime(n.WindowEnd)
	switch {
	case tk.Title == "":
		return ticketInvalid("title", "a ticket needs a title")
	case len(tk.Title) > ticketMaxTitle:
		return ticketInvalid("title", "the title is longer than %d characters", ticketMaxTitle)
	case tk.Category != "" && !slices.Contains(TicketCategories, tk.Category):
		return ticketInvalid("category", "category %q: one of %s", tk.Category, strings.Join(TicketCategories, ", "))
	case tk.Risk != "" && !slices.Contains(TicketRisks, tk.Risk):
		return ticketInvalid("risk", "risk %q: one of %s", tk.Risk, strings.Join(TicketRisks, ", "))
	case tk.WindowStart != nil && tk.WindowEnd != nil && !tk.WindowEnd.After(*tk.WindowStart):
		return ticketInvalid("window_end", "the change window must end after it starts")
	case tk.Approver != "" && (strings.EqualFold(tk.Approver, tk.Owner) || strings.EqualFold(tk.Approver, tk.CreatedBy)):
		return ticketInvalid("approver", "the approver must be someone other than the ticket's owner and creator: segregation of duties")
	}
	return nil
}

func ticketTime(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

// complete checks that a ticket says everything CM-5 asks before it goes
// to an approver.
func (t Ticket) complete() error {
	for _, f := range []struct{ field, value, what string }{
		{"title", t.Title, "a title"},
		{"description", t.Description, "a description"},
		{"category", t.Category, "a category (" + strings.Join(TicketCategories, ", ") + ")"},
		{"risk", t.Risk, "a risk (" + strings.Join(TicketRisks, ", ") + ")"},
		{"impact", t.Impact, "the impact"},
		{"rollback", t.Rollback, "the rollback steps"},
	} {
		if f.value == "" {
			return ticketInvalid(f.field, "ticket %s cannot be submitted without %s", t.ID, f.what)
		}
	}
	switch {
	case t.WindowStart == nil:
		return ticketInvalid("window_start", "ticket %s cannot be submitted without the start of its change window", t.ID)
	case t.WindowEnd == nil:
		return ticketInvalid("window_end", "ticket %s cannot be submitted without the end of its change window", t.ID)
	case !t.WindowEnd.After(*t.WindowStart):
		return ticketInvalid("window_end", "the change window of ticket %s must end after it starts", t.ID)
	}
	return nil
}

func (t Ticket) payload() map[string]any {
	return map[string]any{"title": t.Title, "category": t.Category, "owner": t.Owner, "approver": t.Approver, "risk": t.Risk,
		"impact": t.Impact, "rollback": t.Rollback, "window_start": t.WindowStart, "window_end": t.WindowEnd}
}

// Create opens a draft ticket owned by n.Owner, or by its creator.
func (t *Tickets) Create(ctx context.Context, by Actor, n NewTicket) (Ticket, error) {
	return t.insert(ctx, by, n, TicketDraft, "ticket.created", "")
}

// RecordImplemented records a change that was carried out without an
// approval: the ticket starts as implemented, with no decision, so that
// the CM-5 control shows it as a violation rather than it going unrecorded.
func (t *Tickets) RecordImplemented(ctx context.Context, by Actor, n NewTicket, note string) (Ticket, error) {
	return t.insert(ctx, by, n, TicketImplemented, "ticket.recorded_unapproved", strings.TrimSpace(note))
}

func (t *Tickets) insert(ctx context.Context, by Actor, n NewTicket, state, kind, note string) (Ticket, error) {
	now := t.stamp()
	user := ticketUser(by)
	tk := Ticket{ID: id.New("tkt"), Owner: user, State: state, CreatedBy: user, CreatedAt: now, UpdatedAt: now}
	if err := n.fill(&tk); err != nil {
		return Ticket{}, err
	}
	payload := tk.payload()
	payload["state"] = state
	if state == TicketImplemented {
		tk.ImplementedBy, tk.ImplementedAt = user, &now
		payload["implemented_by"], payload["note"] = user, note
	}
	err := t.store.Update(ctx, func(tx TicketTx) error {
		if err := tx.InsertTicket(ctx, tk); err != nil {
			return err
		}
		_, err := t.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: kind, Subject: "ticket/" + tk.ID, Payload: payload})
		return err
	})
	if err != nil {
		return Ticket{}, fmt.Errorf("%s: %w", kind, err)
	}
	return tk, nil
}

// Edit rewrites a draft; only its owner or creator may.
func (t *Tickets) Edit(ctx context.Context, by Actor, ticketID string, n NewTicket) (Ticket, error) {
	return t.step(ctx, by, ticketID, "ticket.edited", func(tk *Ticket, _ time.Time) (map[string]any, error) {
		if tk.State != TicketDraft {
			return nil, opsguard.Errorf(opsguard.EConflict, "ticket %s is %s: only a draft can be edited", tk.ID, tk.State)
		}
		if !ticketIs(by, tk.Owner, tk.CreatedBy) {
			return nil, opsguard.Errorf(opsguard.EForbidden, "%s neither owns nor created ticket %s and may not edit it", ticketUser(by), tk.ID)
		}
		if err := n.fill(tk); err != nil {
			return nil, err
		}
		return tk.payload(), nil
	})
}

// Submit sends a complete draft to its approver; only its owner or creator
// may.
func (t *Tickets) Submit(ctx context.Context, by Actor, ticketID string) (Ticket, error) {
	return t.step(ctx, by, ticketID, "ticket.submitted", func(tk *Ticket, now time.Time) (map[string]any, error) {
		if err := ticketState(tk, TicketDraft); err != nil {
			return nil, err
		}
		if !ticketIs(by, tk.Owner, tk.CreatedBy) {
			return nil, opsguard.Errorf(opsguard.EForbidden, "%s neither owns nor created ticket %s and may not submit it", ticketUser(by), tk.ID)
		}
		if err := tk.complete(); err != nil {
			return nil, err
		}
		tk.State, tk.SubmittedAt = TicketSubmitted, &now
		return tk.payload(), nil
	})
}

// Approve approves a submitted ticket. Only an approver (engineering head,
// security officer) may, never the ticket's owner or creator, and only the
// approver the ticket names when it names one.
func (t *Tickets) Approve(ctx context.Context, by Actor, ticketID, note string) (Ticket, error) {
	return t.decide(ctx, by, ticketID, TicketApproved, strings.TrimSpace(note))
}

// Reject rejects a submitted ticket, for a written reason; the same people
// may as for Approve.
func (t *Tickets) Reject(ctx context.Context, by Actor, ticketID, note string) (Ticket, error) {
	note = strings.TrimSpace(note)
	if len(note) < ticketMinNote {
		return Ticket{}, ticketInvalid("note", "a rejection needs a written reason of at least %d characters", ticketMinNote)
	}
	return t.decide(ctx, by, ticketID, TicketRejected, note)
}

func (t *Tickets) decide(ctx context.Context, by Actor, ticketID, to, note string) (Ticket, error) {
	verb := map[string]string{TicketApproved: "approve", TicketRejected: "reject"}[to]
	if !by.Approver {
		return Ticket{}, opsguard.Errorf(opsguard.EForbidden, "only an engineering head or a security officer may %s change tickets", verb)
	}
	return t.step(ctx, by, ticketID, "ticket."+to, func(tk *Ticket, now time.Time) (map[string]any, error) {
		if err := ticketState(tk, TicketSubmitted); err != nil {
			return nil, err
		}
		user := ticketUser(by)
		switch {
		case ticketIs(by, tk.Owner):
			return nil, opsguard.Errorf(opsguard.EForbidden, "%s owns ticket %s and may not %s it: segregation of duties", user, tk.ID, verb)
		case ticketIs(by, tk.CreatedBy):
			return nil, opsguard.Errorf(opsguard.EForbidden, "%s created ticket %s and may not %s it: segregation of duties", user, tk.ID, verb)
		case tk.Approver != "" && !ticketIs(by, tk.Approver):
			return nil, opsguard.Errorf(opsguard.EForbidden, "ticket %s names %s as its approver, not %s", tk.ID, tk.Approver, user)
		}
		tk.State, tk.DecidedBy, tk.DecidedAt, tk.DecisionNote = to, user, &now, note
		return map[string]any{"approver": user, "note": note, "owner": tk.Owner, "created_by": tk.CreatedBy}, nil
	})
}

// Implement records that an approved change was carried out. The approver
// may not carry it out: requester, approver and implementer are never one
// person.
func (t *Tickets) Implement(ctx context.Context, by Actor, ticketID, note string) (Ticket, error) {
	note = strings.TrimSpace(note)
	return t.step(ctx, by, ticketID, "ticket.implemented", func(tk *Ticket, now time.Time) (map[string]any, error) {
		if tk.State != TicketApproved {
			return nil, opsguard.Errorf(opsguard.EConflict, "ticket %s is %s, not approved: it needs an approval first", tk.ID, tk.State)
		}
		if ticketIs(by, tk.DecidedBy) {
			return nil, opsguard.Errorf(opsguard.EForbidden, "%s approved ticket %s and may not implement it: segregation of duties", ticketUser(by), tk.ID)
		}
		tk.State, tk.ImplementedBy, tk.ImplementedAt = TicketImplemented, ticketUser(by), &now
		return map[string]any{"implemented_by": tk.ImplementedBy, "approved_by": tk.DecidedBy, "note": note}, nil
	})
}

// Verify records that an implemented change works as intended.
func (t *Tickets) Verify(ctx context.Context, by Actor, ticketID, note string) (Ticket, error) {
	return t.close(ctx, by, ticketID, TicketVerified, strings.TrimSpace(note))
}

// RollBack records that an implemented change was undone with its
// rollback steps, and why.
func (t *Tickets) RollBack(ctx context.Context, by Actor, ticketID, note string) (Ticket, error) {
	note = strings.TrimSpace(note)
	if len(note) < ticketMinNote {
		return Ticket{}, ticketInvalid("note", "a rollback needs a written reason of at least %d characters", ticketMinNote)
	}
	return t.close(ctx, by, ticketID, TicketRolledBack, note)
}

func (t *Tickets) close(ctx context.Context, by Actor, ticketID, to, note string) (Ticket, error) {
	return t.step(ctx, by, ticketID, "ticket."+to, func(tk *Ticket, now time.Time) (map[string]any, error) {
		if err := ticketState(tk, TicketImplemented); err != nil {
			return nil, err
		}
		tk.State, tk.ClosedBy, tk.ClosedAt, tk.OutcomeNote = to, ticketUser(by), &now, note
		return map[string]any{"closed_by": tk.ClosedBy, "note": note}, nil
	})
}

func ticketState(tk *Ticket, state string) error {
	if tk.State != state {
		return opsguard.Errorf(opsguard.EConflict, "ticket %s is %s, not %s", tk.ID, tk.State, state)
	}
	return nil
}

// step loads a ticket, applies fn, stores it and ledgers kind with the
// payload fn returns, all in one transaction.
func (t *Tickets) step(ctx context.Context, by Actor, ticketID, kind string, fn func(tk *Ticket, now time.Time) (map[string]any, error)) (Ticket, error) {
	var tk Ticket
	err := t.store.Update(ctx, func(tx TicketTx) error {
		var err error
		if tk, err = tx.TicketByID(ctx, ticketID); err != nil {
			return err
		}
		from, now := tk.State, t.stamp()
		payload, err := fn(&tk, now)
		if err != nil {
			return err
		}
		tk.UpdatedAt = now
		if err := tx.UpdateTicket(ctx, tk); err != nil {
			return err
		}
		payload["from"], payload["to"] = from, tk.State
		_, err = t.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: kind, Subject: "ticket/" + tk.ID, Payload: payload})
		return err
	})
	if err != nil {
		return Ticket{}, fmt.Errorf("%s %s: %w", kind, ticketID, err)
	}
	return tk, nil
}

// Get returns one ticket.
func (t *Tickets) Get(ctx context.Context, ticketID string) (Ticket, error) {
	var tk Ticket
	err := t.store.View(ctx, func(tx TicketTx) error {
		var err error
		tk, err = tx.TicketByID(ctx, ticketID)
		return err
	})
	return tk, err
}

// Every returns every ticket in state, newest first, however many: for the
// controls, which must not judge from the first page (CP-2 looks for a
// ticket that plans a disk's growth among all those still open).
func (t *Tickets) Every(ctx context.Context, state string) ([]Ticket, error) {
	if !slices.Contains(TicketStates, state) {
		return nil, ticketInvalid("state", "state %q: one of %s", state, strings.Join(TicketStates, ", "))
	}
	return t.list(ctx, TicketFilter{State: state})
}

// List returns tickets, newest first: opsguard.DefaultPage unless f.Limit
// says otherwise, refused above opsguard.MaxPage.
func (t *Tickets) List(ctx context.Context, f TicketFilter) ([]Ticket, error) {
	if f.State != "" && !slices.Contains(TicketStates, f.State) {
		return nil, ticketInvalid("state", "state %q: one of %s", f.State, strings.Join(TicketStates, ", "))
	}
	var err error
	if f.Limit, err = opsguard.PageLimit(f.Limit); err != nil {
		return nil, err
	}
	return t.list(ctx, f)
}

// list reads the tickets f selects, every one when f.Limit is 0.
func (t *Tickets) list(ctx context.Context, f TicketFilter) ([]Ticket, error) {
	var out []Ticket
	err := t.store.View(ctx, func(tx TicketTx) error {
		var err error
		out, err = tx.ListTickets(ctx, f)
		return err
	})
	return out, err
}

// Controls returns the control of CM-5.
func (t *Tickets) Controls() []control.Control {
	return []control.Control{{ID: "CM-5.tickets-approved", Requirement: "CM-5",
		Title:    "Every implemented change ticket was approved by someone other than its owner before it was carried out, and carried out within its approved window",
		Evaluate: t.approvedControl}}
}

func (t *Tickets) approvedControl(ctx context.Context) (control.Outcome, error) {
	var all []Ticket
	err := t.store.View(ctx, func(tx TicketTx) error {
		var err error
		all, err = tx.ListTickets(ctx, TicketFilter{})
		return err
	})
	if err != nil {
		return control.Outcome{}, err
	}
	if len(all) == 0 {
		return control.Outcome{Status: control.NotApplicable, Summary: "No change ticket has been opened yet."}, nil
	}
	done := 0
	var bad []control.Ref
	var ids []string
	for _, tk := range all {
		if !tk.CarriedOut() {
			continue
		}
		done++
		if why := tk.Finding(); why != "" {
			ids = append(ids, tk.ID)
			if len(bad) < 20 {
				bad = append(bad, control.Ref{Kind: "ticket", ID: tk.ID, Note: why})
			}
		}
	}
	if len(ids) > 0 {
		return control.Outcome{Status: control.Fail, Refs: bad, Summary: fmt.Sprintf("%d of %d carried-out change tickets were not approved beforehand by someone other than their owner, or not carried out within their approved window: %s.",
			len(ids), done, control.Examples(ids, 3, ", "))}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("All %d carried-out change tickets (of %d tickets) were approved beforehand by someone other than their owner and carried out within their approved window.", done, len(all))}, nil
}

// Finding says why a ticket breaks CM-5, or "" when it does not: one not
// yet carried out does not. The window the approver approved is the one
// the ticket holds: it cannot be edited after submission.
func (t Ticket) Finding() string {
	const at = "2006-01-02 15:04 UTC"
	switch {
	case !t.CarriedOut():
		return ""
	case t.DecidedAt == nil || t.DecidedBy == "":
		return "carried out without an approval"
	case strings.EqualFold(t.DecidedBy, t.Owner) || strings.EqualFold(t.DecidedBy, t.CreatedBy):
		return "approved by its own requester " + t.DecidedBy
	case strings.EqualFold(t.DecidedBy, t.ImplementedBy):
		return "approved and carried out by the same person " + t.DecidedBy
	case t.ImplementedAt == nil:
		return "no record of when it was carried out"
	case t.DecidedAt.After(*t.ImplementedAt):
		return "approved after it was carried out"
	case t.WindowStart != nil && t.ImplementedAt.Before(*t.WindowStart):
		return fmt.Sprintf("carried out at %s, before its approved window opened at %s", t.ImplementedAt.UTC().Format(at), t.WindowStart.UTC().Format(at))
	case t.WindowEnd != nil && t.ImplementedAt.After(*t.WindowEnd):
		return fmt.Sprintf("carried out at %s, after its approved window closed at %s", t.ImplementedAt.UTC().Format(at), t.WindowEnd.UTC().Format(at))
	}
	return ""
}

// TicketActions are the steps Step takes by name.
var TicketActions = []string{"submit", "approve", "reject", "implement", "verify", "rollback"}

// Step takes one step of a ticket's life by its name (the API's and the
// command line's verbs); note is ignored by submit.
func (t *Tickets) Step(ctx context.Context, by Actor, ticketID, action, note string) (Ticket, error) {
	switch action {
	case "submit":
		return t.Submit(ctx, by, ticketID)
	case "approve":
		return t.Approve(ctx, by, ticketID, note)
	case "reject":
		return t.Reject(ctx, by, ticketID, note)
	case "implement":
		return t.Implement(ctx, by, ticketID, note)
	case "verify":
		return t.Verify(ctx, by, ticketID, note)
	case "rollback":
		return t.RollBack(ctx, by, ticketID, note)
	}
	return Ticket{}, opsguard.Errorf(opsguard.ENotFound, "no ticket action %q: one of %s", action, strings.Join(TicketActions, ", "))
}
