package importers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Error is a report that cannot be imported, located as precisely as the
// format allows.
type Error struct {
	File string
	Line int    // 1-based; 0 when unknown
	Col  int    // 1-based; 0 when unknown
	Path string // JSON path such as Results[2].Vulnerabilities[0].Severity, or a CSV column
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	if e.Path != "" {
		fmt.Fprintf(&b, ": %s", e.Path)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// Errorf returns an *Error at a JSON path (or CSV column) of file.
func Errorf(file, path, format string, args ...any) *Error {
	return &Error{File: file, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// LineCol converts a byte offset of data into a 1-based line and column.
func LineCol(data []byte, offset int64) (int, int) {
	if offset < 0 {
		return 0, 0
	}
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// DecodeJSON unmarshals data into v, turning the decoder's errors into an
// *Error with the line, column and JSON path of the problem. Unknown
// fields are allowed: reports carry far more than opsguard reads.
func DecodeJSON(file string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return jsonError(file, data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := LineCol(data, dec.InputOffset())
		return &Error{File: file, Line: line, Col: col, Msg: "unexpected data after the JSON document"}
	}
	return nil
}

func jsonError(file string, data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &Error{File: file, Msg: "the report is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := LineCol(data, int64(len(data)))
		return &Error{File: file, Line: line, Col: col, Msg: "the JSON is truncated"}
	case errors.As(err, &se):
		line, col := LineCol(data, se.Offset)
		return &Error{File: file, Line: line, Col: col, Msg: "invalid JSON: " + se.Error()}
	case errors.As(err, &te):
		line, col := LineCol(data, te.Offset)
		return &Error{File: file, Line: line, Col: col, Path: te.Field, Msg: fmt.Sprintf("expected %s, found %s", te.Type, te.Value)}
	}
	return &Error{File: file, Msg: err.Error()}
}

// Sniff reports whether the first bytes of data (after white space) start
// a JSON object and, within the first 64 KiB, hold every one of keys as
// an object key. It is how the JSON importers detect their format cheaply.
func Sniff(data []byte, keys ...string) bool {
	d := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(d) == 0 || d[0] != '{' {
		return false
	}
	if len(d) > 64<<10 {
		d = d[:64<<10]
	}
	for _, k := range keys {
		if !bytes.Contains(d, []byte(`"`+k+`"`)) {
			return false
		}
	}
	return true
}
