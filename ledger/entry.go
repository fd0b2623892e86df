package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode"

	"github.com/transparency-dev/merkle/rfc6962"
)

// TimeFormat is the form of an entry's time inside its leaf.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Event is a state change a service asks the ledger to record.
type Event struct {
	Actor   string // who did it: a user name, "system", "cli:<os user>"
	Kind    string // what happened, dotted lower case: "user.created"
	Subject string // what it happened to: "user/usr_…"
	Payload any    // the facts, as JSON; json.RawMessage is kept byte for byte
}

// Entry is a recorded event.
type Entry struct {
	Seq         int64           `json:"seq"`
	Time        time.Time       `json:"time"`
	Actor       string          `json:"actor"`
	Kind        string          `json:"kind"`
	Subject     string          `json:"subject"`
	Payload     json.RawMessage `json:"payload"`
	PayloadHash []byte          `json:"payload_hash"`
	LeafHash    []byte          `json:"leaf_hash"`
}

// LeafData is the text that is hashed into the entry's Merkle leaf.
func (e *Entry) LeafData() []byte {
	b := make([]byte, 0, 128+len(e.Actor)+len(e.Kind)+len(e.Subject))
	b = append(b, "opsguard-ledger/v1\n"...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, '\n')
	b = e.Time.UTC().AppendFormat(b, TimeFormat)
	b = append(b, '\n')
	b = append(b, e.Actor...)
	b = append(b, '\n')
	b = append(b, e.Kind...)
	b = append(b, '\n')
	b = append(b, e.Subject...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, e.PayloadHash)
	b = append(b, '\n')
	return b
}

// ComputeLeafHash returns the RFC 6962 leaf hash of the entry as it stands.
func (e *Entry) ComputeLeafHash() []byte {
	return rfc6962.DefaultHasher.HashLeaf(e.LeafData())
}

// PayloadHashOf is the SHA-256 of a payload.
func PayloadHashOf(p []byte) []byte {
	h := sha256.Sum256(p)
	return h[:]
}

// newEntry validates ev and turns it into the entry with sequence seq.
func newEntry(seq int64, at time.Time, ev Event) (Entry, error) {
	for _, f := range []struct{ name, v string }{{"actor", ev.Actor}, {"kind", ev.Kind}, {"subject", ev.Subject}} {
		if f.v == "" {
			return Entry{}, fmt.Errorf("ledger event: %s is empty", f.name)
		}
		if i := bytes.IndexFunc([]byte(f.v), unicode.IsControl); i >= 0 {
			return Entry{}, fmt.Errorf("ledger event: %s %q holds a control character at byte %d", f.name, f.v, i)
		}
	}
	payload, err := marshalPayload(ev.Payload)
	if err != nil {
		return Entry{}, fmt.Errorf("ledger event %s: payload: %w", ev.Kind, err)
	}
	e := Entry{Seq: seq, Time: at, Actor: ev.Actor, Kind: ev.Kind, Subject: ev.Subject, Payload: payload}
	e.PayloadHash = PayloadHashOf(payload)
	e.LeafHash = e.ComputeLeafHash()
	return e, nil
}

func marshalPayload(p any) ([]byte, error) {
	switch v := p.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		if !json.Valid(v) {
			return nil, fmt.Errorf("not valid JSON")
		}
		// Marshal compacts and escapes, as it will when the entry is
		// exported, so the stored bytes are the exported bytes.
		return json.Marshal(v)
	default:
		return json.Marshal(v)
	}
}
