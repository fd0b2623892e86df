package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/opsguard/opsguard/events"
)

// The queries of the event store. *Tx implements events.Tx.

var _ events.Tx = (*Tx)(nil)

// InsertEventBatch stores a batch's row.
func (tx *Tx) InsertEventBatch(ctx context.Context, b events.Stored) error {
	first, last := "", b.ReceivedAt.UnixMicro()
	if b.Events > 0 {
		first, last = ts(b.First), b.Last.UnixMicro()
	}
	_, err := tx.exec(ctx, `INSERT INTO event_batches (id, host_id, source, actor, received_at, received_us, events, malformed, first_at, last_us, sha256)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.ID, b.HostID, b.Source, b.Actor, ts(b.ReceivedAt), b.ReceivedAt.UnixMicro(), b.Events, b.Malformed, first, last, b.SHA256)
	return err
}

// eventChunks are the rows one INSERT statement writes (8 arguments
// each, well under either engine's limit); their statements are prepared
// when the store opens, as the ledger's are.
var eventChunks = []int{200, 50, 10, 1}

func insertEventsQuery(n int) string {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?)"
	return "INSERT INTO events (id, host, at_us, kind, user_name, address, program, message) VALUES " +
		strings.Repeat(row+", ", n-1) + row
}

// InsertEvents stores events, many to a statement.
func (tx *Tx) InsertEvents(ctx context.Context, es []events.Event) error {
	args := make([]any, 0, 8*eventChunks[0])
	for len(es) > 0 {
		n := 1
		for _, c := range eventChunks {
			if c <= len(es) {
				n = c
				break
			}
		}
		args = args[:0]
		for _, e := range es[:n] {
			args = append(args, e.ID, e.Host, e.At.UnixMicro(), e.Kind, e.User, e.Address, e.Program, e.Message)
		}
		st, err := tx.stmt(ctx, insertEventsQuery(n))
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		es = es[n:]
	}
	return nil
}

// SearchEvents returns the events of a filter, newest first.
func (tx *Tx) SearchEvents(ctx context.Context, f events.Filter) ([]events.Event, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"host", f.Host}, {"kind", f.Kind}, {"user_name", f.User}, {"address", f.Address}} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at_us >= ?"), append(args, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at_us < ?"), append(args, f.Until.UnixMicro())
	}
	q := "SELECT id, host, at_us, kind, user_name, address, program, message FROM events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at_us DESC, id DESC LIMIT ?"
	return queryAll(ctx, tx, func(r row) (events.Event, error) {
		var e events.Event
		var us int64
		err := r.Scan(&e.ID, &e.Host, &us, &e.Kind, &e.User, &e.Address, &e.Program, &e.Message)
		e.At = time.UnixMicro(us).UTC()
		e.BatchID, _, _ = strings.Cut(e.ID, ".") // an event's id is its batch's, a dot and its place
		return e, err
	}, q, append(args, f.Limit)...)
}

// CountEvents counts the events of a kind from an address at or after a time.
func (tx *Tx) CountEvents(ctx context.Context, kind, address string, since time.Time) (int, error) {
	var n int
	err := tx.queryRow(ctx, "SELECT COUNT(*) FROM events WHERE kind = ? AND address = ? AND at_us >= ?", kind, address, since.UnixMicro()).Scan(&n)
	return n, err
}

// EventAlert returns the state of an alert pattern's key.
func (tx *Tx) EventAlert(ctx context.Context, k string) (events.Alert, bool, error) {
	a := events.Alert{K: k}
	var first, last string
	err := tx.queryRow(ctx, "SELECT rule, key_text, first_at, last_at, count FROM event_alerts WHERE k = ?", k).Scan(&a.Rule, &a.Key, &first, &last, &a.Count)
	if err == sql.ErrNoRows {
		return a, false, nil
	}
	if err != nil {
		return a, false, err
	}
	if a.FirstAt, err = parseTS(first); err != nil {
		return a, false, err
	}
	a.LastAt, err = parseTS(last)
	return a, true, err
}

// PutEventAlert inserts or replaces an alert pattern's state.
func (tx *Tx) PutEventAlert(ctx context.Context, a events.Alert) error {
	_, err := tx.exec(ctx, `INSERT INTO event_alerts (k, rule, key_text, first_at, last_at, count) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (k) DO UPDATE SET rule = excluded.rule, key_text = excluded.key_text, first_at = excluded.first_at,
		last_at = excluded.last_at, count = excluded.count`, a.K, a.Rule, a.Key, ts(a.FirstAt), ts(a.LastAt), a.Count)
	return err
}

// ExpiredBatches returns batches not pruned whose newest event is before
// a time, oldest first.
func (tx *Tx) ExpiredBatches(ctx context.Context, before time.Time, limit int) ([]events.Stored, error) {
	return queryAll(ctx, tx, func(r row) (events.Stored, error) {
		var b events.Stored
		var last int64
		err := r.Scan(&b.ID, &b.HostID, &b.Events, &last)
		b.Last = time.UnixMicro(last).UTC()
		return b, err
	}, "SELECT id, host_id, events, last_us FROM event_batches WHERE pruned_at IS NULL AND last_us < ? ORDER BY last_us, id LIMIT ?", before.UnixMicro(), limit)
}

// PruneEventBatch deletes a batch's events and marks it pruned.
func (tx *Tx) PruneEventBatch(ctx context.Context, batchID string, at time.Time) (int64, error) {
	// A batch's events are the ids from "batch." to "batch/" ('/' follows '.').
	res, err := tx.exec(ctx, "DELETE FROM events WHERE id > ? AND id < ?", batchID+".", batchID+"/")
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	_, err = tx.exec(ctx, "UPDATE event_batches SET pruned_at = ?, kept_us = ? - last_us WHERE id = ?", ts(at), at.UnixMicro(), batchID)
	return n, err
}

// EventRetention reads what LG-2 checks.
func (tx *Tx) EventRetention(ctx context.Context) (events.Retention, error) {
	var r events.Retention
	var oldest, kept sql.NullInt64
	var ledgerFirst sql.NullString
	err := tx.queryRow(ctx, "SELECT (SELECT MIN(at_us) FROM events), (SELECT MIN(kept_us) FROM event_batches WHERE pruned_at IS NOT NULL), "+
		"(SELECT COUNT(*) FROM event_batches), (SELECT COUNT(*) FROM event_batches WHERE pruned_at IS NOT NULL), "+
		"(SELECT time FROM ledger_entries ORDER BY seq LIMIT 1)").Scan(&oldest, &kept, &r.Batches, &r.Pruned, &ledgerFirst)
	if err != nil {
		return r, err
	}
	if oldest.Valid {
		t := time.UnixMicro(oldest.Int64).UTC()
		r.OldestEvent = &t
	}
	if kept.Valid {
		d := time.Duration(kept.Int64) * time.Microsecond
		r.ShortestKept = &d
	}
	if ledgerFirst.Valid {
		t, err := parseTS(ledgerFirst.String)
		if err != nil {
			return r, err
		}
		r.OldestLedger = &t
	}
	return r, nil
}

// LastBatches maps each host to the receipt of its newest batch.
func (tx *Tx) LastBatches(ctx context.Context) (map[string]time.Time, error) {
	type last struct {
		host string
		us   int64
	}
	ls, err := queryAll(ctx, tx, func(r row) (l last, err error) { return l, r.Scan(&l.host, &l.us) },
		"SELECT host_id, MAX(received_us) FROM event_batches GROUP BY host_id")
	out := make(map[string]time.Time, len(ls))
	for _, l := range ls {
		out[l.host] = time.UnixMicro(l.us).UTC()
	}
	return out, err
}
