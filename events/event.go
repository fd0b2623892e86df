package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/opsguard/opsguard"
)

// The kinds of event.
const (
	SSHAccepted   = "ssh.accepted"   // an SSH sign-in succeeded
	SSHFailed     = "ssh.failed"     // an SSH sign-in failed (bad password or key, unknown user)
	Login         = "login"          // a console sign-in
	Sudo          = "privilege.sudo" // a command run through sudo
	Su            = "privilege.su"   // a session opened through su
	AccountUser   = "account.user"   // a user added, changed or deleted
	AccountGroup  = "account.group"  // a group added, changed or deleted
	UnitFailed    = "unit.failed"    // a systemd unit failed
	Syslog        = "syslog"         // a line from a network device, not otherwise classified
	SourceAgent   = "agent"
	SourceSyslog  = "syslog"
	maxTextBytes  = 2048
	maxFieldBytes = 256
)

// Kinds are the kinds an event may have.
var Kinds = []string{SSHAccepted, SSHFailed, Login, Sudo, Su, AccountUser, AccountGroup, UnitFailed, Syslog}

// Event is one security-relevant event of a host or device.
type Event struct {
	ID      string    `json:"id,omitempty"`
	BatchID string    `json:"batch_id,omitempty"`
	Host    string    `json:"host"`
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	// User is the account the event is about (who signed in, who ran
	// sudo, which account was changed).
	User string `json:"user,omitempty"`
	// Address is the remote address of a sign-in or the device that sent
	// a syslog line.
	Address string `json:"address,omitempty"`
	// Program is the process that logged it (sshd, sudo, useradd, …) or
	// the failed unit.
	Program string `json:"program,omitempty"`
	Message string `json:"message"`
}

// Batch is what an agent posts to /api/v1/events, and what the syslog
// listener makes of a connection's lines: its events, and how many lines
// could not be read (they are counted, never dropped unsaid). A batch of
// no events is the agent's heartbeat: it proves the host ships (LG-1).
type Batch struct {
	Version int    `json:"version"`
	HostID  string `json:"host_id"`
	// Malformed counts the lines the collector could not read.
	Malformed int     `json:"malformed"`
	Events    []Event `json:"events"`
}

// Stored is a batch as received.
type Stored struct {
	ID         string    `json:"id"`
	HostID     string    `json:"host_id"`
	Source     string    `json:"source"` // agent | syslog
	Actor      string    `json:"actor"`
	ReceivedAt time.Time `json:"received_at"`
	Events     int       `json:"events"`
	Malformed  int       `json:"malformed"`
	First      time.Time `json:"first,omitempty"`
	Last       time.Time `json:"last,omitempty"`
	// SHA256 is Hash of the batch's events, recorded in its ledger entry.
	SHA256 string `json:"sha256"`
	// Pruned is set once retention deleted its events.
	Pruned bool `json:"pruned"`
}

// Bounds of a batch.
const (
	MaxBatchBytes  = 1 << 20
	MaxBatchEvents = 2000
	// MaxFuture bounds an event's time against the server's clock.
	MaxFuture = 5 * time.Minute
)

var hostPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$`)

// ParseBatch decodes and checks a batch received at now. Every error
// names the JSON path and why; nothing of a bad batch is kept.
func ParseBatch(data []byte, now time.Time) (Batch, error) {
	var b Batch
	if len(data) > MaxBatchBytes {
		return b, invalid("", "batch: larger than %d bytes", MaxBatchBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			return b, invalid(te.Field, "batch: field %s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return b, invalid("", "batch: %v", err)
	}
	if dec.More() {
		return b, invalid("", "batch: trailing data after the JSON object")
	}
	return b, b.Check(now)
}

// Check checks every field of a batch received at now; events are
// normalised (UTC, microseconds) in place.
func (b *Batch) Check(now time.Time) error {
	switch {
	case b.Version != 1:
		return invalid("version", "version %d: this server reads version 1", b.Version)
	case !hostPattern.MatchString(b.HostID):
		return invalid("host_id", "host_id %q: 1 to 100 letters, digits, '.', '_', ':' or '-'", b.HostID)
	case b.Malformed < 0 || b.Malformed > 1<<30:
		return invalid("malformed", "malformed %d: 0 to 2^30", b.Malformed)
	case len(b.Events) > MaxBatchEvents:
		return invalid("events", "events: %d, at most %d in a batch", len(b.Events), MaxBatchEvents)
	}
	for i := range b.Events {
		e := &b.Events[i]
		if e.Host == "" {
			e.Host = b.HostID
		}
		if err := e.check(now); err != nil {
			return invalid(fmt.Sprintf("events[%d].%s", i, err.field), "events[%d].%s", i, err.msg)
		}
	}
	return nil
}

type fieldError struct{ field, msg string }

func (e *Event) check(now time.Time) *fieldError {
	e.At = e.At.UTC().Truncate(time.Microsecond)
	switch {
	case e.ID != "" || e.BatchID != "":
		return &fieldError{"id", "id, batch_id: given by the server, not the sender"}
	case !hostPattern.MatchString(e.Host):
		return &fieldError{"host", fmt.Sprintf("host %q: 1 to 100 letters, digits, '.', '_', ':' or '-'", e.Host)}
	case e.At.IsZero() || e.At.Year() < 1970:
		return &fieldError{"at", "at: missing (RFC 3339 time)"}
	case e.At.After(now.Add(MaxFuture)):
		return &fieldError{"at", fmt.Sprintf("at %s: more than %s ahead of the server's clock", e.At.Format(time.RFC3339), MaxFuture)}
	case !knownKind(e.Kind):
		return &fieldError{"kind", fmt.Sprintf("kind %q: one of %v", e.Kind, Kinds)}
	case e.Address != "" && !validAddress(e.Address):
		return &fieldError{"address", fmt.Sprintf("address %q: an IP address or a host name", e.Address)}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"user", e.User, maxFieldBytes}, {"program", e.Program, maxFieldBytes}, {"message", e.Message, maxTextBytes}} {
		if len(f.v) > f.max || !utf8.ValidString(f.v) || bytes.ContainsRune([]byte(f.v), 0) {
			return &fieldError{f.name, fmt.Sprintf("%s: valid UTF-8 without NUL, at most %d bytes", f.name, f.max)}
		}
	}
	return nil
}

func knownKind(k string) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

func validAddress(a string) bool {
	if _, err := netip.ParseAddr(a); err == nil {
		return true
	}
	return len(a) <= 253 && hostPattern.MatchString(a)
}

// Hash is the SHA-256 of a batch's canonical content: for each event in
// order, its host, time (RFC 3339, microseconds), kind, user, address,
// program and message, each Go-quoted, tab-separated, one line an event.
// It is what the batch's ledger entry records, and what its stored
// events must hash to while they are kept.
func Hash(host string, malformed int, es []Event) string {
	h := sha256.New()
	b := make([]byte, 0, 512)
	b = strconv.AppendQuote(b, host)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(malformed), 10)
	b = append(b, '\n')
	h.Write(b)
	for _, e := range es {
		b = b[:0]
		for i, f := range []string{e.Host, e.At.UTC().Format("2006-01-02T15:04:05.000000Z"), e.Kind, e.User, e.Address, e.Program, e.Message} {
			if i > 0 {
				b = append(b, '\t')
			}
			b = strconv.AppendQuote(b, f)
		}
		b = append(b, '\n')
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func invalid(field, format string, args ...any) error {
	e := &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf(format, args...)}
	if field != "" {
		e.Details = map[string]any{"field": field}
	}
	return e
}
