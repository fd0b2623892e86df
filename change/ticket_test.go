package change_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// The people of the ticket tests: an engineer who requests changes, an
// infrastructure operator who carries them out, and two approvers.
var (
	tkErik = change.Actor{Name: "erik", Username: "erik", Email: "erik@example.com"}
	tkOla  = change.Actor{Name: "ola", Username: "ola"}
	tkInes = change.Actor{Name: "ines", Username: "ines", Approver: true, SecurityOfficer: true}
	tkHugo = change.Actor{Name: "cli:hugo", Username: "hugo", Approver: true}
)

type ticketEnv struct {
	db  *store.DB
	svc *change.Tickets
	now time.Time
}

func newTicketEnv(t *testing.T, db *store.DB) *ticketEnv {
	t.Helper()
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	e := &ticketEnv{db: db, now: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	e.svc = change.NewTickets(store.Bind[change.TicketTx](db), ledger.New(key, ledger.Options{}), func() time.Time { return e.now })
	return e
}

// complete returns a ticket that may be submitted as it is, whose window
// opens now and lasts three days.
func (e *ticketEnv) complete() change.NewTicket {
	start, end := e.now, e.now.Add(72*time.Hour)
	return change.NewTicket{Title: "Raise the PostgreSQL max_connections to 300", Description: "The API replicas run out of connections at peak.",
		Category: "configuration", Impact: "A restart of the primary: about 30 s of read-only API.", Risk: "medium",
		Rollback: "Restore postgresql.conf from /etc/postgresql/backup and restart.", WindowStart: &start, WindowEnd: &end}
}

// submitted creates and submits a complete ticket of erik's.
func (e *ticketEnv) submitted(t *testing.T, n change.NewTicket) change.Ticket {
	t.Helper()
	tk, err := e.svc.Create(t.Context(), tkErik, n)
	if err != nil {
		t.Fatal(err)
	}
	if tk, err = e.svc.Submit(t.Context(), tkErik, tk.ID); err != nil {
		t.Fatal(err)
	}
	return tk
}

// history returns the ledger entries of a ticket, oldest first.
func (e *ticketEnv) history(t *testing.T, id string) []ledger.Entry {
	t.Helper()
	var es []ledger.Entry
	err := e.db.View(t.Context(), func(tx *store.Tx) error {
		var err error
		es, err = tx.ListEntries(t.Context(), ledger.EntryFilter{Subject: "ticket/" + id})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

func ticketKinds(es []ledger.Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Kind)
	}
	return strings.Join(out, ",")
}

// wantCode fails t unless err is of kind code and its message holds each
// of the fragments.
func wantTicketErr(t *testing.T, what string, err error, code opsguard.Code, fragments ...string) {
	t.Helper()
	if opsguard.ErrorCode(err) != code {
		t.Errorf("%s: got %v (%s), want %s", what, err, opsguard.ErrorCode(err), code)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: %q does not say %q", what, err, f)
		}
	}
}

func TestTicketHappyPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		n := e.complete()
		n.Approver = "ines"
		tk, err := e.svc.Create(ctx, tkErik, n)
		if err != nil {
			t.Fatal(err)
		}
		if tk.State != change.TicketDraft || tk.Owner != "erik" || tk.CreatedBy != "erik" || !strings.HasPrefix(tk.ID, "tkt_") {
			t.Fatalf("created = %+v", tk)
		}
		steps := []struct {
			name string
			do   func() (change.Ticket, error)
			want string
		}{
			{"submit", func() (change.Ticket, error) { return e.svc.Submit(ctx, tkErik, tk.ID) }, change.TicketSubmitted},
			{"approve", func() (change.Ticket, error) { return e.svc.Approve(ctx, tkInes, tk.ID, "inside the Tuesday window") }, change.TicketApproved},
			{"implement", func() (change.Ticket, error) { return e.svc.Implement(ctx, tkOla, tk.ID, "done at 11:02") }, change.TicketImplemented},
			{"verify", func() (change.Ticket, error) { return e.svc.Verify(ctx, tkErik, tk.ID, "peak load served") }, change.TicketVerified},
		}
		for _, s := range steps {
			e.now = e.now.Add(time.Hour)
			got, err := s.do()
			if err != nil || got.State != s.want || !got.UpdatedAt.Equal(e.now) {
				t.Fatalf("%s: %+v, %v", s.name, got, err)
			}
		}
		got, err := e.svc.Get(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.DecidedBy != "ines" || got.DecisionNote != "inside the Tuesday window" || got.ImplementedBy != "ola" || got.ClosedBy != "erik" ||
			got.SubmittedAt == nil || got.DecidedAt == nil || got.ImplementedAt == nil || got.ClosedAt == nil ||
			!got.WindowStart.Equal(*n.WindowStart) || !got.WindowEnd.Equal(*n.WindowEnd) || !got.CreatedAt.Equal(tk.CreatedAt) {
			t.Errorf("stored = %+v", got)
		}
		es := e.history(t, tk.ID)
		if k := ticketKinds(es); k != "ticket.created,ticket.submitted,ticket.approved,ticket.implemented,ticket.verified" {
			t.Fatalf("history = %s", k)
		}
		var approval map[string]any
		if err := json.Unmarshal(es[2].Payload, &approval); err != nil {
			t.Fatal(err)
		}
		if es[2].Actor != "ines" || approval["approver"] != "ines" || approval["note"] != "inside the Tuesday window" || approval["to"] != "approved" {
			t.Errorf("approval entry = %s by %s", es[2].Payload, es[2].Actor)
		}
	})
}

func TestTicketSubmitNeedsEveryField(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		late := e.now.Add(-time.Hour)
		tests := []struct {
			name  string
			edit  func(*change.NewTicket)
			field string
		}{
			{"no rollback steps", func(n *change.NewTicket) { n.Rollback = "  " }, "rollback"},
			{"no description", func(n *change.NewTicket) { n.Description = "" }, "description"},
			{"no impact", func(n *change.NewTicket) { n.Impact = "" }, "impact"},
			{"no category", func(n *change.NewTicket) { n.Category = "" }, "category"},
			{"no risk", func(n *change.NewTicket) { n.Risk = "" }, "risk"},
			{"no window start", func(n *change.NewTicket) { n.WindowStart = nil }, "window_start"},
			{"no window end", func(n *change.NewTicket) { n.WindowEnd = nil }, "window_end"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				n := e.complete()
				tc.edit(&n)
				tk, err := e.svc.Create(t.Context(), tkErik, n)
				if err != nil {
					t.Fatal(err)
				}
				_, err = e.svc.Submit(t.Context(), tkErik, tk.ID)
				var oe *opsguard.Error
				if !errors.As(err, &oe) || oe.Code != opsguard.EInvalid || oe.Details["field"] != tc.field {
					t.Fatalf("submit: %v, want invalid %s", err, tc.field)
				}
				if got, _ := e.svc.Get(t.Context(), tk.ID); got.State != change.TicketDraft {
					t.Errorf("a refused submission left it %s", got.State)
				}
			})
		}
		// What a draft must already get right.
		for _, tc := range []struct {
			name  string
			edit  func(*change.NewTicket)
			field string
		}{
			{"no title", func(n *change.NewTicket) { n.Title = "" }, "title"},
			{"unknown category", func(n *change.NewTicket) { n.Category = "database" }, "category"},
			{"unknown risk", func(n *change.NewTicket) { n.Risk = "extreme" }, "risk"},
			{"window ends first", func(n *change.NewTicket) { n.WindowEnd = &late }, "window_end"},
			{"owner approves", func(n *change.NewTicket) { n.Approver = "Erik" }, "approver"},
		} {
			n := e.complete()
			tc.edit(&n)
			_, err := e.svc.Create(t.Context(), tkErik, n)
			var oe *opsguard.Error
			if !errors.As(err, &oe) || oe.Code != opsguard.EInvalid || oe.Details["field"] != tc.field {
				t.Errorf("create with %s: %v", tc.name, err)
			}
		}
	})
}

func TestTicketEditAndSubmitRights(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		n := e.complete()
		n.Rollback = ""
		tk, err := e.svc.Create(ctx, tkErik, n)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Edit(ctx, tkOla, tk.ID, e.complete())
		wantTicketErr(t, "a stranger edits", err, opsguard.EForbidden)
		if _, err := e.svc.Edit(ctx, tkErik, tk.ID, e.complete()); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Submit(ctx, tkOla, tk.ID)
		wantTicketErr(t, "a stranger submits", err, opsguard.EForbidden)
		if _, err := e.svc.Submit(ctx, tkErik, tk.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Submit(ctx, tkErik, tk.ID)
		wantTicketErr(t, "submitted twice", err, opsguard.EConflict, "is submitted, not draft")
		_, err = e.svc.Edit(ctx, tkErik, tk.ID, e.complete())
		wantTicketErr(t, "edit after submission", err, opsguard.EConflict)
		if k := ticketKinds(e.history(t, tk.ID)); k != "ticket.created,ticket.edited,ticket.submitted" {
			t.Errorf("history = %s", k)
		}
		_, err = e.svc.Get(ctx, "tkt_missing")
		wantTicketErr(t, "missing ticket", err, opsguard.ENotFound)
	})
}

func TestTicketApprovalRights(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		// Ines owns a ticket erik wrote for her; hugo is named as approver on another.
		owned := e.complete()
		owned.Owner = "ines"
		forInes := e.submitted(t, owned)
		named := e.complete()
		named.Approver = "hugo"
		forHugo := e.submitted(t, named)
		draft, _ := e.svc.Create(ctx, tkErik, e.complete())
		// An actor known only by a ledger name (no user name) is still
		// recognised as the creator.
		root := change.Actor{Name: "cli:root", Approver: true}
		byRoot, _ := e.svc.Create(ctx, root, e.complete())
		if _, err := e.svc.Submit(ctx, root, byRoot.ID); err != nil {
			t.Fatal(err)
		}
		erikAsApprover := tkErik
		erikAsApprover.Approver = true

		tests := []struct {
			name      string
			by        change.Actor
			id        string
			code      opsguard.Code
			fragments []string
		}{
			{"an engineer", tkOla, forInes.ID, opsguard.EForbidden, []string{"engineering head or a security officer"}},
			{"the owner", tkInes, forInes.ID, opsguard.EForbidden, []string{"ines owns ticket " + forInes.ID + " and may not approve it: segregation of duties"}},
			{"the creator", erikAsApprover, forInes.ID, opsguard.EForbidden, []string{"erik created ticket", "segregation of duties"}},
			{"not the named approver", tkInes, forHugo.ID, opsguard.EForbidden, []string{"names hugo as its approver"}},
			{"the creator by ledger name", root, byRoot.ID, opsguard.EForbidden, []string{"cli:root owns ticket"}},
			{"a draft", tkHugo, draft.ID, opsguard.EConflict, []string{"is draft, not submitted"}},
			{"another approver", tkHugo, forInes.ID, "", nil},
			{"the named approver", tkHugo, forHugo.ID, "", nil},
			{"twice", tkHugo, forHugo.ID, opsguard.EConflict, []string{"is approved, not submitted"}},
		}
		for _, tc := range tests {
			got, err := e.svc.Approve(ctx, tc.by, tc.id, "")
			if tc.code == "" {
				if err != nil || got.State != change.TicketApproved || got.DecidedBy != tc.by.Username {
					t.Errorf("%s: %+v, %v", tc.name, got, err)
				}
				continue
			}
			wantTicketErr(t, tc.name, err, tc.code, tc.fragments...)
		}
		if k := ticketKinds(e.history(t, forInes.ID)); k != "ticket.created,ticket.submitted,ticket.approved" {
			t.Errorf("refused approvals left entries: %s", k)
		}
	})
}

func TestTicketRejectNeedsNote(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		tk := e.submitted(t, e.complete())
		for _, note := range []string{"", "no", "   too short   "} {
			_, err := e.svc.Reject(ctx, tkInes, tk.ID, note)
			var oe *opsguard.Error
			if !errors.As(err, &oe) || oe.Code != opsguard.EInvalid || oe.Details["field"] != "note" {
				t.Errorf("reject with %q: %v", note, err)
			}
		}
		_, err := e.svc.Reject(ctx, tkErik, tk.ID, "the owner cannot reject either")
		wantTicketErr(t, "engineer rejects", err, opsguard.EForbidden)
		got, err := e.svc.Reject(ctx, tkInes, tk.ID, "use a connection pooler (pgbouncer) instead")
		if err != nil || got.State != change.TicketRejected || got.DecidedBy != "ines" {
			t.Fatalf("reject: %+v, %v", got, err)
		}
		_, err = e.svc.Implement(ctx, tkOla, tk.ID, "")
		wantTicketErr(t, "implement a rejected ticket", err, opsguard.EConflict, "needs an approval first")
		if k := ticketKinds(e.history(t, tk.ID)); k != "ticket.created,ticket.submitted,ticket.rejected" {
			t.Errorf("history = %s", k)
		}
	})
}

func TestTicketImplementRights(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		tk := e.submitted(t, e.complete())
		_, err := e.svc.Implement(ctx, tkOla, tk.ID, "")
		wantTicketErr(t, "before approval", err, opsguard.EConflict, "is submitted, not approved", "needs an approval first")
		if _, err := e.svc.Approve(ctx, tkHugo, tk.ID, ""); err != nil {
			t.Fatal(err)
		}
		hugoByMail := change.Actor{Name: "hugo-bot", Username: "hugo"}
		_, err = e.svc.Implement(ctx, hugoByMail, tk.ID, "")
		wantTicketErr(t, "the approver implements", err, opsguard.EForbidden, "hugo approved ticket "+tk.ID+" and may not implement it")
		_, err = e.svc.Verify(ctx, tkErik, tk.ID, "")
		wantTicketErr(t, "verify before implementation", err, opsguard.EConflict, "is approved, not implemented")
		// The owner may carry out their own approved change.
		if got, err := e.svc.Implement(ctx, tkErik, tk.ID, ""); err != nil || got.ImplementedBy != "erik" {
			t.Fatalf("owner implements: %+v, %v", got, err)
		}
	})
}

func TestTicketRollBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		tk := e.submitted(t, e.complete())
		if _, err := e.svc.Approve(ctx, tkInes, tk.ID, "ok"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Implement(ctx, tkOla, tk.ID, ""); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.RollBack(ctx, tkOla, tk.ID, "")
		wantTicketErr(t, "rollback without a reason", err, opsguard.EInvalid)
		got, err := e.svc.RollBack(ctx, tkOla, tk.ID, "replication lag grew past 30 s after the restart")
		if err != nil || got.State != change.TicketRolledBack || got.ClosedBy != "ola" || got.OutcomeNote == "" || got.ClosedAt == nil {
			t.Fatalf("rollback: %+v, %v", got, err)
		}
		_, err = e.svc.Verify(ctx, tkErik, tk.ID, "")
		wantTicketErr(t, "verify after rollback", err, opsguard.EConflict, "is rolled_back, not implemented")
		if k := ticketKinds(e.history(t, tk.ID)); k != "ticket.created,ticket.submitted,ticket.approved,ticket.implemented,ticket.rolled_back" {
			t.Errorf("history = %s", k)
		}
	})
}

func TestTicketList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		a, _ := e.svc.Create(ctx, tkErik, e.complete())
		b := e.submitted(t, e.complete())
		c, _ := e.svc.Create(ctx, tkOla, e.complete())
		tests := []struct {
			name string
			f    change.TicketFilter
			want []string
		}{
			{"all, newest first", change.TicketFilter{}, []string{c.ID, b.ID, a.ID}},
			{"by state", change.TicketFilter{State: change.TicketDraft}, []string{c.ID, a.ID}},
			{"by owner", change.TicketFilter{Owner: "erik"}, []string{b.ID, a.ID}},
			{"both", change.TicketFilter{Owner: "erik", State: change.TicketSubmitted}, []string{b.ID}},
			{"limited", change.TicketFilter{Limit: 1}, []string{c.ID}},
		}
		for _, tc := range tests {
			got, err := e.svc.List(ctx, tc.f)
			var ids []string
			for _, tk := range got {
				ids = append(ids, tk.ID)
			}
			if err != nil || strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("%s: %v, %v", tc.name, ids, err)
			}
		}
		_, err := e.svc.List(ctx, change.TicketFilter{State: "done"})
		wantTicketErr(t, "unknown state", err, opsguard.EInvalid)
	})
}

func TestTicketControl(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		cs := e.svc.Controls()
		if len(cs) != 1 || cs[0].ID != "CM-5.tickets-approved" || cs[0].Requirement != "CM-5" {
			t.Fatalf("controls = %+v", cs)
		}
		eval := func() control.Outcome {
			t.Helper()
			o, err := cs[0].Evaluate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		if o := eval(); o.Status != control.NotApplicable {
			t.Errorf("no tickets: %+v", o)
		}
		tk := e.submitted(t, e.complete())
		if _, err := e.svc.Approve(ctx, tkInes, tk.ID, ""); err != nil {
			t.Fatal(err)
		}
		e.now = e.now.Add(time.Hour)
		if _, err := e.svc.Implement(ctx, tkOla, tk.ID, ""); err != nil {
			t.Fatal(err)
		}
		e.submitted(t, e.complete()) // waiting for approval: not a violation
		if o := eval(); o.Status != control.Pass || !strings.Contains(o.Summary, "All 1 carried-out change tickets (of 2 tickets)") {
			t.Errorf("approved before implementation: %+v", o)
		}
		rogue, err := e.svc.RecordImplemented(ctx, tkOla, change.NewTicket{Title: "Opened port 5432 on the edge firewall", Category: "network"},
			"hot fix during the outage of 2 November")
		if err != nil || rogue.State != change.TicketImplemented || rogue.ImplementedBy != "ola" || rogue.DecidedAt != nil {
			t.Fatalf("record unapproved: %+v, %v", rogue, err)
		}
		o := eval()
		if o.Status != control.Fail || len(o.Refs) != 1 || o.Refs[0].Kind != "ticket" || o.Refs[0].ID != rogue.ID || !strings.Contains(o.Summary, "1 of 2") {
			t.Errorf("unapproved change: %+v", o)
		}
		if k := ticketKinds(e.history(t, rogue.ID)); k != "ticket.recorded_unapproved" {
			t.Errorf("history = %s", k)
		}
	})
}

// TestTicketOutsideWindow checks that a ticket carried out outside the
// window its approver approved is a CM-5 finding on the ticket.
func TestTicketOutsideWindow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		opened := e.now
		tests := []struct {
			name    string
			at      time.Duration // after the ticket was opened
			finding string
		}{
			{"before the window", time.Hour, "before its approved window opened"},
			{"inside the window", 49 * time.Hour, ""},
			{"after the window", 51 * time.Hour, "after its approved window closed"},
		}
		bad := map[string]string{}
		for _, tc := range tests {
			e.now = opened
			n := e.complete()
			start, end := opened.Add(48*time.Hour), opened.Add(50*time.Hour)
			n.WindowStart, n.WindowEnd = &start, &end
			tk := e.submitted(t, n)
			if _, err := e.svc.Approve(ctx, tkInes, tk.ID, "Approved for the Thursday window"); err != nil {
				t.Fatal(err)
			}
			e.now = opened.Add(tc.at)
			if _, err := e.svc.Implement(ctx, tkOla, tk.ID, ""); err != nil {
				t.Fatal(err)
			}
			got, err := e.svc.Get(ctx, tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if f := got.Finding(); tc.finding == "" && f != "" || !strings.Contains(f, tc.finding) {
				t.Errorf("%s: finding %q, want %q", tc.name, f, tc.finding)
			}
			if tc.finding != "" {
				bad[tk.ID] = tc.finding
			}
		}
		o, err := e.svc.Controls()[0].Evaluate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != control.Fail || len(o.Refs) != 2 || !strings.Contains(o.Summary, "2 of 3") {
			t.Fatalf("CM-5: %+v", o)
		}
		for _, ref := range o.Refs {
			if want, ok := bad[ref.ID]; !ok || !strings.Contains(ref.Note, want) {
				t.Errorf("CM-5 names %s: %q", ref.ID, ref.Note)
			}
		}
	})
}

// TestTicketDecision checks that a ticket says what was decided, not the
// state it has come to since.
func TestTicketDecision(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		tk := e.submitted(t, e.complete())
		if tk.Decision() != "" {
			t.Errorf("undecided: %q", tk.Decision())
		}
		e.svc.Approve(ctx, tkInes, tk.ID, "Approved for the Thursday window")
		e.svc.Implement(ctx, tkOla, tk.ID, "")
		tk, err := e.svc.Verify(ctx, tkErik, tk.ID, "works")
		if err != nil || tk.State != change.TicketVerified || tk.Decision() != change.TicketApproved {
			t.Errorf("verified ticket: state %s decision %q, %v", tk.State, tk.Decision(), err)
		}
		no := e.submitted(t, e.complete())
		if no, err = e.svc.Reject(ctx, tkInes, no.ID, "not during the freeze, come back in January"); err != nil || no.Decision() != change.TicketRejected {
			t.Errorf("rejected ticket: decision %q, %v", no.Decision(), err)
		}
	})
}

// Every gives the controls every ticket of a state, beyond the pages the
// API lists (the CP-2 control asked List for 10,000 and was refused).
func TestEveryTicketOfAState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newTicketEnv(t, db)
		ctx := t.Context()
		n := opsguard.DefaultPage + 5
		for i := 0; i < n; i++ {
			if _, err := e.svc.Create(ctx, tkErik, e.complete()); err != nil {
				t.Fatal(err)
			}
		}
		e.submitted(t, e.complete())
		got, err := e.svc.Every(ctx, change.TicketDraft)
		if err != nil || len(got) != n {
			t.Fatalf("Every(draft): %d tickets, %v; want %d", len(got), err, n)
		}
		if _, err := e.svc.List(ctx, change.TicketFilter{State: change.TicketDraft, Limit: 10000}); err == nil {
			t.Errorf("List above the maximum page was not refused")
		}
		if _, err := e.svc.Every(ctx, "nope"); opsguard.ErrorCode(err) != opsguard.EInvalid {
			t.Errorf("unknown state: %v", err)
		}
	})
}
