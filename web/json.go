package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/opsguard/opsguard"
)

// maxBody bounds JSON request bodies; uploads of reports use their own limit.
const maxBody = 1 << 20

// ErrorBody is the one error shape of the API.
type ErrorBody struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details,omitempty"`
	} `json:"error"`
}

// answer is the tail of a JSON handler: the error of the service's call,
// or v written with status.
func answer(w http.ResponseWriter, status int, v any, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// Compact on purpose: indenting would rewrite ledger payloads, whose
	// exact bytes are hashed into the tree.
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string, details map[string]any) {
	var b ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	b.Error.Details = map[string]any{"request_id": requestIDOf(r)}
	for k, v := range details {
		b.Error.Details[k] = v
	}
	writeJSON(w, status, b)
}

// decode reads a JSON body into v strictly: unknown fields, wrong types,
// trailing data and truncation are errors that say where.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return opsguard.Errorf(opsguard.EInvalid, "request body: unexpected data after the JSON value")
	}
	return nil
}

func bodyError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return opsguard.Errorf(opsguard.EInvalid, "request body: empty, want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return opsguard.Errorf(opsguard.EInvalid, "request body: truncated JSON")
	case errors.As(err, &se):
		return &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("request body: invalid JSON at byte %d: %v", se.Offset, se), Details: map[string]any{"offset": se.Offset}}
	case errors.As(err, &te):
		return &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("request body: field %q must be %s, not %s", te.Field, te.Type, te.Value), Details: map[string]any{"field": te.Field, "offset": te.Offset}}
	}
	return &opsguard.Error{Code: opsguard.EInvalid, Message: "request body: " + err.Error()}
}

// requiredIntParam is intParam for a parameter that must be given (and
// not 0).
func requiredIntParam(r *http.Request, name string) (int64, error) {
	n, err := intParam(r, name, 0)
	if err == nil && n == 0 {
		err = &opsguard.Error{Code: opsguard.EInvalid, Message: "query parameter " + name + " is required", Details: map[string]any{"field": name}}
	}
	return n, err
}

// intParam reads an optional integer query parameter.
func intParam(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("query parameter %s: want a non-negative integer, got %q", name, s), Details: map[string]any{"field": name}}
	}
	return n, nil
}

// readAll reads up to limit bytes of r into one buffer of the size the
// sender announced, when it did: io.ReadAll's doubling would hold up to
// twice a large report in memory while it grows.
func readAll(r io.Reader, size, limit int64) ([]byte, error) {
	var b bytes.Buffer
	if size > 0 && size <= limit {
		b.Grow(int(size) + bytes.MinRead)
	}
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// dateParam reads an optional YYYY-MM-DD query parameter.
func dateParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return t, &opsguard.Error{Code: opsguard.EInvalid, Message: name + ": want YYYY-MM-DD", Details: map[string]any{"field": name}}
	}
	return t, nil
}

// pageParams reads the limit and offset of a listing.
func pageParams(r *http.Request) (limit, offset int, err error) {
	if limit, err = limitParam(r); err != nil {
		return 0, 0, err
	}
	o, err := intParam(r, "offset", 0)
	return limit, int(o), err
}

// limitParam reads a listing's page size: opsguard.DefaultPage when absent,
// refused (400, naming the maximum) above opsguard.MaxPage.
func limitParam(r *http.Request) (int, error) {
	l, err := intParam(r, "limit", 0)
	if err != nil {
		return 0, err
	}
	return opsguard.PageLimit(int(l))
}

// pager is a listing page's links: its query without the offset, and the
// queries of the previous and next pages ("" where there is none).
type pager struct{ Query, Prev, Next string }

func pageLinks(r *http.Request, offset, limit, shown, total int) pager {
	q := r.URL.Query()
	q.Del("offset")
	p := pager{Query: q.Encode()}
	if offset > 0 {
		p.Prev = fmt.Sprintf("%s&offset=%d", p.Query, max(0, offset-limit))
	}
	if offset+shown < total {
		p.Next = fmt.Sprintf("%s&offset=%d", p.Query, offset+limit)
	}
	return p
}
