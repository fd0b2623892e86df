package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/opsguard/opsguard/change"
)

// The queries of the change tickets (CM-5). *Tx implements change.TicketTx.

var _ change.TicketTx = (*Tx)(nil)

const ticketColumns = `id, title, description, category, owner, approver, impact, risk, rollback, window_start, window_end,
	state, created_by, created_at, updated_at, submitted_at, decided_by, decided_at, decision_note,
	implemented_by, implemented_at, closed_by, closed_at, outcome_note`

func scanTicket(sc row) (change.Ticket, error) {
	var t change.Ticket
	var created, updated string
	var start, end, submitted, decided, implemented, closed sql.NullString
	err := sc.Scan(&t.ID, &t.Title, &t.Description, &t.Category, &t.Owner, &t.Approver, &t.Impact, &t.Risk, &t.Rollback, &start, &end,
		&t.State, &t.CreatedBy, &created, &updated, &submitted, &t.DecidedBy, &decided, &t.DecisionNote,
		&t.ImplementedBy, &implemented, &t.ClosedBy, &closed, &t.OutcomeNote)
	if err != nil {
		return t, err
	}
	if t.CreatedAt, err = parseTS(created); err != nil {
		return t, err
	}
	if t.UpdatedAt, err = parseTS(updated); err != nil {
		return t, err
	}
	for _, p := range []struct {
		dst **time.Time
		src sql.NullString
	}{{&t.WindowStart, start}, {&t.WindowEnd, end}, {&t.SubmittedAt, submitted}, {&t.DecidedAt, decided}, {&t.ImplementedAt, implemented}, {&t.ClosedAt, closed}} {
		if *p.dst, err = parseNullTS(p.src); err != nil {
			return t, err
		}
	}
	return t, nil
}

// InsertTicket stores a new ticket.
func (tx *Tx) InsertTicket(ctx context.Context, t change.Ticket) error {
	_, err := tx.exec(ctx, "INSERT INTO change_tickets ("+ticketColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Title, t.Description, t.Category, t.Owner, t.Approver, t.Impact, t.Risk, t.Rollback, nullTS(t.WindowStart), nullTS(t.WindowEnd),
		t.State, t.CreatedBy, ts(t.CreatedAt), ts(t.UpdatedAt), nullTS(t.SubmittedAt), t.DecidedBy, nullTS(t.DecidedAt), t.DecisionNote,
		t.ImplementedBy, nullTS(t.ImplementedAt), t.ClosedBy, nullTS(t.ClosedAt), t.OutcomeNote)
	return err
}

// UpdateTicket stores every field of a ticket but its id and creation.
func (tx *Tx) UpdateTicket(ctx context.Context, t change.Ticket) error {
	return tx.updateOne(ctx, "ticket "+t.ID, `UPDATE change_tickets SET title = ?, description = ?, category = ?, owner = ?, approver = ?,
		impact = ?, risk = ?, rollback = ?, window_start = ?, window_end = ?, state = ?, updated_at = ?, submitted_at = ?,
		decided_by = ?, decided_at = ?, decision_note = ?, implemented_by = ?, implemented_at = ?, closed_by = ?, closed_at = ?, outcome_note = ?
		WHERE id = ?`,
		t.Title, t.Description, t.Category, t.Owner, t.Approver, t.Impact, t.Risk, t.Rollback, nullTS(t.WindowStart), nullTS(t.WindowEnd),
		t.State, ts(t.UpdatedAt), nullTS(t.SubmittedAt), t.DecidedBy, nullTS(t.DecidedAt), t.DecisionNote,
		t.ImplementedBy, nullTS(t.ImplementedAt), t.ClosedBy, nullTS(t.ClosedAt), t.OutcomeNote, t.ID)
}

// TicketByID returns a ticket.
func (tx *Tx) TicketByID(ctx context.Context, id string) (change.Ticket, error) {
	t, err := scanTicket(tx.queryRow(ctx, "SELECT "+ticketColumns+" FROM change_tickets WHERE id = ?", id))
	return t, notFound(err, "ticket "+id)
}

// ListTickets returns the tickets a filter selects, newest first; all of
// them when f.Limit is 0 or less.
func (tx *Tx) ListTickets(ctx context.Context, f change.TicketFilter) ([]change.Ticket, error) {
	var where []string
	var args []any
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, f.State)
	}
	if f.Owner != "" {
		where, args = append(where, "owner = ?"), append(args, f.Owner)
	}
	q := "SELECT " + ticketColumns + " FROM change_tickets"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	return queryAll(ctx, tx, scanTicket, q, args...)
}
