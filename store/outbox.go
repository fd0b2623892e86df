package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/notify"
)

const outboxColumns = `id, message_id, channel, kind, subject, summary, time, data, recipients,
	status, attempts, created_at, next_attempt_at, done_at, last_error`

// InsertOutbox writes deliveries to the outbox, in the caller's transaction
// so that they exist exactly when the event they tell of does.
func (tx *Tx) InsertOutbox(ctx context.Context, ds []notify.Delivery) error {
	for _, d := range ds {
		data, err := json.Marshal(d.Message.Data)
		if err != nil {
			return fmt.Errorf("outbox: data of message %s: %w", d.Message.ID, err)
		}
		to, err := json.Marshal(d.Message.To)
		if err != nil {
			return fmt.Errorf("outbox: recipients of message %s: %w", d.Message.ID, err)
		}
		_, err = tx.exec(ctx, "INSERT INTO outbox ("+outboxColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			d.ID, d.Message.ID, d.Channel, d.Message.Kind, d.Message.Subject, d.Message.Summary, ts(d.Message.Time), string(data), string(to),
			string(d.Status), d.Attempts, ts(d.CreatedAt), ts(d.NextAttemptAt), nullTS(d.DoneAt), d.LastError)
		if err != nil {
			return conflict(err, "message %s is already in the outbox for channel %s", d.Message.ID, d.Channel)
		}
	}
	return nil
}

// OutboxDue reports whether a delivery is due and unclaimed at now: a read
// that lets an idle dispatcher poll without taking the write lock.
func (tx *Tx) OutboxDue(ctx context.Context, now time.Time) (bool, error) {
	var n int
	err := tx.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?
		AND (claimed_until IS NULL OR claimed_until <= ?) LIMIT 1) due`, ts(now), ts(now)).Scan(&n)
	return n > 0, err
}

// ClaimOutbox leases up to limit due deliveries until now+lease. On
// PostgreSQL, FOR UPDATE SKIP LOCKED lets replicas claim side by side
// without waiting for or taking each other's rows; SQLite has one writer
// at a time, which makes every claim exclusive by itself.
func (tx *Tx) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]notify.Delivery, error) {
	lock := ""
	if tx.db.dialect == Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	q := `UPDATE outbox SET claimed_until = ? WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?
		AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_attempt_at, id LIMIT ?` + lock + `) RETURNING ` + outboxColumns
	return queryAll(ctx, tx, scanDelivery, q, ts(now.Add(lease)), ts(now), ts(now), limit)
}

// FinishOutboxAttempt stores the state of d after an attempt and ends its
// lease. Only a pending delivery changes: a sent or dead one stays so.
func (tx *Tx) FinishOutboxAttempt(ctx context.Context, d notify.Delivery) error {
	res, err := tx.exec(ctx, `UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, done_at = ?, last_error = ?, claimed_until = NULL
		WHERE id = ? AND status = 'pending'`, string(d.Status), d.Attempts, ts(d.NextAttemptAt), nullTS(d.DoneAt), d.LastError, d.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("outbox delivery %s is no longer pending: %w", d.ID, ErrNotFound)
	}
	return nil
}

// ListOutbox returns deliveries, newest first.
func (tx *Tx) ListOutbox(ctx context.Context, f notify.DeliveryFilter) ([]notify.Delivery, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 500
	}
	q, args := "SELECT "+outboxColumns+" FROM outbox", []any{}
	if f.Status != "" {
		q += " WHERE status = ?"
		args = append(args, string(f.Status))
	}
	q += " ORDER BY created_at DESC, id LIMIT ?"
	return queryAll(ctx, tx, scanDelivery, q, append(args, f.Limit)...)
}

func scanDelivery(r row) (notify.Delivery, error) {
	var d notify.Delivery
	var at, created, next, data, to, status string
	var done sql.NullString
	if err := r.Scan(&d.ID, &d.Message.ID, &d.Channel, &d.Message.Kind, &d.Message.Subject, &d.Message.Summary, &at, &data, &to,
		&status, &d.Attempts, &created, &next, &done, &d.LastError); err != nil {
		return d, err
	}
	d.Status = notify.Status(status)
	var err error
	if d.Message.Time, err = parseTS(at); err != nil {
		return d, err
	}
	if d.CreatedAt, err = parseTS(created); err != nil {
		return d, err
	}
	if d.NextAttemptAt, err = parseTS(next); err != nil {
		return d, err
	}
	if d.DoneAt, err = parseNullTS(done); err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(data), &d.Message.Data); err != nil {
		return d, fmt.Errorf("outbox %s: data: %w", d.ID, err)
	}
	if err := json.Unmarshal([]byte(to), &d.Message.To); err != nil {
		return d, fmt.Errorf("outbox %s: recipients: %w", d.ID, err)
	}
	return d, nil
}
