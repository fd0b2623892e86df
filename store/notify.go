package store

import (
	"context"

	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/notify"
)

// InsertNotificationAttempt records one delivery attempt.
func (tx *Tx) InsertNotificationAttempt(ctx context.Context, a notify.Attempt) (string, error) {
	aid := id.New("ntf")
	_, err := tx.exec(ctx, "INSERT INTO notification_attempts (id, message_id, kind, channel, attempt, time, ok, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		aid, a.MessageID, a.Kind, a.Channel, a.Number, ts(a.Time), a.OK, a.Error)
	return aid, err
}

// NotificationAttempts returns the attempts of one message in order.
func (tx *Tx) NotificationAttempts(ctx context.Context, messageID string) ([]notify.Attempt, error) {
	rows, err := tx.query(ctx, "SELECT message_id, kind, channel, attempt, time, ok, error FROM notification_attempts WHERE message_id = ? ORDER BY channel, attempt", messageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []notify.Attempt
	for rows.Next() {
		var a notify.Attempt
		var at string
		if err := rows.Scan(&a.MessageID, &a.Kind, &a.Channel, &a.Number, &at, &a.OK, &a.Error); err != nil {
			return nil, err
		}
		if a.Time, err = parseTS(at); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
