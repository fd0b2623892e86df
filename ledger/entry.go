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
	return e.appendLeafData(make([]byte, 0, 128+len(e.Actor)+len(e.Kind)+len(e.Subject)))
}

func (e *Entry) appendLeafData(b []byte) []byte {
	b = append(b, "opsguard-ledger/v1\n"...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, '\n')
	b = AppendTime(b, e.Time)
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
	return hashLeaf(e.LeafData())
}

// hashLeaf is RFC 6962's leaf hash, SHA-256(0x00 || data), without the
// hasher's allocation of a joined buffer.
func hashLeaf(data []byte) []byte {
	h := sha256.New()
	h.Write([]byte{rfc6962.RFC6962LeafHashPrefix})
	h.Write(data)
	return h.Sum(nil)
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

// AppendTime appends t in TimeFormat. It is the hot path of verification,
// about ten times faster than time.Time.AppendFormat.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	d := func(b []byte, v, width int) []byte {
		var buf [9]byte
		for i := width - 1; i >= 0; i-- {
			buf[i] = byte('0' + v%10)
			v /= 10
		}
		return append(b, buf[:width]...)
	}
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, TimeFormat)
	}
	b = d(b, year, 4)
	b = append(b, '-')
	b = d(b, int(month), 2)
	b = append(b, '-')
	b = d(b, day, 2)
	b = append(b, 'T')
	b = d(b, hour, 2)
	b = append(b, ':')
	b = d(b, min, 2)
	b = append(b, ':')
	b = d(b, sec, 2)
	b = append(b, '.')
	b = d(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// ParseTime reads a time in TimeFormat, falling back to time.Parse for
// anything that is not exactly that shape.
func ParseTime(s string) (time.Time, error) {
	if len(s) == len(TimeFormat) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == '.' && s[26] == 'Z' {
		n := func(i, j int) (int, bool) {
			v := 0
			for k := i; k < j; k++ {
				c := s[k]
				if c < '0' || c > '9' {
					return 0, false
				}
				v = v*10 + int(c-'0')
			}
			return v, true
		}
		y, ok1 := n(0, 4)
		mo, ok2 := n(5, 7)
		d, ok3 := n(8, 10)
		h, ok4 := n(11, 13)
		mi, ok5 := n(14, 16)
		se, ok6 := n(17, 19)
		us, ok7 := n(20, 26)
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && se < 60 {
			t := time.Date(y, time.Month(mo), d, h, mi, se, us*1000, time.UTC)
			if t.Day() == d { // rejects 31 February and the like, as time.Parse does
				return t, nil
			}
		}
	}
	return time.Parse(TimeFormat, s)
}
