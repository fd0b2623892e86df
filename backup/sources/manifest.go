package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/backup"
)

// MaxManifest bounds a push manifest.
const MaxManifest = 64 << 10

// ParseManifest reads a push manifest, {dataset, copy, snapshot_id, time,
// type, size_bytes, checksum}, strictly: an unknown field, a field of the
// wrong type or a time that is not RFC 3339 is an invalid-input error
// naming the field. The service checks the values (Manifest.Validate).
func ParseManifest(data []byte) (backup.Manifest, error) {
	var raw struct {
		DataSet    string `json:"dataset"`
		Copy       string `json:"copy"`
		SnapshotID string `json:"snapshot_id"`
		Time       string `json:"time"`
		Type       string `json:"type"`
		SizeBytes  int64  `json:"size_bytes"`
		Checksum   string `json:"checksum"`
	}
	if len(data) > MaxManifest {
		return backup.Manifest{}, bad("", "manifest: larger than %d bytes", MaxManifest)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return backup.Manifest{}, manifestError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return backup.Manifest{}, bad("", "manifest: unexpected data after the JSON object")
	}
	m := backup.Manifest{DataSet: raw.DataSet, Copy: raw.Copy, SnapshotID: raw.SnapshotID, Type: raw.Type, SizeBytes: raw.SizeBytes, Checksum: raw.Checksum}
	if raw.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, raw.Time)
		if err != nil {
			return m, bad("time", "time %q: want RFC 3339, e.g. 2026-01-02T03:04:05Z", raw.Time)
		}
		m.Time = t.UTC()
	}
	return m, nil
}

func bad(field, format string, args ...any) error {
	e := &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf(format, args...)}
	if field != "" {
		e.Details = map[string]any{"field": field}
	}
	return e
}

func manifestError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		return bad(te.Field, "manifest: field %q must be %s, not %s", te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		return bad("", "manifest: invalid JSON at byte %d: %v", se.Offset, se)
	case errors.Is(err, io.EOF):
		return bad("", "manifest: empty, want a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return bad(f, "manifest: unknown field %q (want dataset, copy, snapshot_id, time, type, size_bytes, checksum)", f)
	}
	return bad("", "manifest: %v", err)
}
