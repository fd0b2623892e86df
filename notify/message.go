package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidConfig is wrapped by every configuration error, so callers can
// tell a mistake in the settings from a delivery failure.
var ErrInvalidConfig = errors.New("invalid notification config")

// ErrPermanent is wrapped by delivery errors that a retry cannot fix (a 4xx
// answer, a refused login, a server without STARTTLS); the Dispatcher stops
// retrying on them rather than hammering a receiver or locking an account.
var ErrPermanent = errors.New("permanent failure")

// Message is one notification.
type Message struct {
	ID      string         `json:"id"`      // unique per message; generated when empty
	Kind    string         `json:"kind"`    // event kind, e.g. "vuln.sla_breached"
	Subject string         `json:"subject"` // what it is about, e.g. "finding/123"
	Summary string         `json:"summary"` // one human sentence
	Time    time.Time      `json:"time"`
	Data    map[string]any `json:"data,omitempty"`
	// To adds recipients to the channel's own: the owner of what the
	// message is about (a digest of one owner's breaches). E-mail sends to
	// them as well; a webhook passes them on for its receiver to route.
	To []string `json:"to,omitempty"`
}

// Channel delivers a message once; retrying is the Dispatcher's job.
type Channel interface {
	Name() string
	Send(ctx context.Context, m Message) error
}

// Attempt is the record of one delivery attempt.
type Attempt struct {
	MessageID string    `json:"message_id"`
	Kind      string    `json:"kind"`
	Channel   string    `json:"channel"`
	Number    int       `json:"attempt"` // 1-based
	Time      time.Time `json:"time"`
	OK        bool      `json:"ok"`
	Error     string    `json:"error,omitempty"` // empty when OK; never contains secrets
}

// NewID returns 16 random bytes, hex encoded: unique enough to serve as a
// delivery id that receivers use to drop duplicates.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails since Go 1.24: it crashes the program instead
	return hex.EncodeToString(b)
}

// payload is the JSON shape of a message on the wire.
type payload struct {
	ID      string         `json:"id"`
	Kind    string         `json:"kind"`
	Subject string         `json:"subject"`
	Time    string         `json:"time"`
	Summary string         `json:"summary"`
	Data    map[string]any `json:"data"`
	To      []string       `json:"to,omitempty"`
}

func toPayload(m Message) payload {
	data := m.Data
	if data == nil {
		// Receivers can then index data without a null check.
		data = map[string]any{}
	}
	return payload{
		ID:      m.ID,
		Kind:    m.Kind,
		Subject: m.Subject,
		Time:    m.Time.UTC().Format(time.RFC3339),
		Summary: m.Summary,
		Data:    data,
		To:      m.To,
	}
}

// encode returns the JSON body of m; the bytes are signed as they are, so
// they must not be re-encoded after signing.
func encode(m Message) ([]byte, error) {
	b, err := json.Marshal(toPayload(m))
	if err != nil {
		return nil, fmt.Errorf("encode message %s: %w", m.ID, err)
	}
	return b, nil
}

// complete fills the ID and Time a caller left empty, so every channel of one
// Notify call reports the same message.
func complete(m Message, now func() time.Time, newID func() string) Message {
	if m.ID == "" {
		m.ID = newID()
	}
	if m.Time.IsZero() {
		m.Time = now()
	}
	return m
}

// redact removes secrets from an error text: a server may echo what it was
// sent, and attempts end up in a ledger that many people can read.
func redact(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// redactedError keeps the chain of err (so errors.Is still works) while
// printing a text without secrets.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

func redactErr(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: redact(err.Error(), secrets...), err: err}
}
