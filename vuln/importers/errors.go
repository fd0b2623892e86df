package importers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/opsguard/opsguard/vuln"
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

// Is makes an *Error vuln.ErrInvalidReport: the register answers it as
// the caller's fault, with its message.
func (e *Error) Is(target error) bool { return target == vuln.ErrInvalidReport }

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
		fmt.Fprintf(&b, ": %s", shortPath(e.Path))
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// maxPath bounds the JSON path an error message quotes: a report nested
// a hundred thousand levels deep must not make a message of megabytes.
const maxPath = 200

// shortPath is path, or its start and end around "…" when it is longer
// than maxPath bytes.
func shortPath(path string) string {
	if len(path) <= maxPath {
		return path
	}
	const half = (maxPath - len("…")) / 2
	return strings.ToValidUTF8(path[:half], "") + "…" + strings.ToValidUTF8(path[len(path)-half:], "")
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

// LineColAt is LineCol for a report read from src.
func LineColAt(src vuln.Source, offset int64) (int, int) {
	if b, ok := src.(vuln.Bytes); ok {
		return LineCol(b, offset)
	}
	line, col := 1, 1
	for chunk := range chunks(src, max(0, min(offset, src.Size()))) {
		for _, c := range chunk {
			if c == '\n' {
				line, col = line+1, 0
			}
			col++
		}
	}
	return line, col
}

// blank reports whether src holds white space only.
func blank(src vuln.Source) bool {
	for chunk := range chunks(src, src.Size()) {
		if len(bytes.TrimSpace(chunk)) > 0 {
			return false
		}
	}
	return true
}

// chunks yields the bytes of src before end, a buffer at a time.
func chunks(src vuln.Source, end int64) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		buf := make([]byte, 64<<10)
		for at := int64(0); at < end; {
			n, err := src.ReadAt(buf[:min(int64(len(buf)), end-at)], at)
			if n > 0 && !yield(buf[:n]) {
				return
			}
			at += int64(n)
			if err != nil && n == 0 {
				return
			}
		}
	}
}

// DecodeJSON unmarshals data into v, turning the decoder's errors into an
// *Error with the line, column and JSON path of the problem. Unknown
// fields are allowed: reports carry far more than opsguard reads. A
// string longer than MaxString is cut (see jsonReader).
func DecodeJSON(file string, data []byte, v any) error {
	return decodeJSON(file, vuln.Bytes(data), v)
}

// decodeJSON is DecodeJSON for a report in memory or in a file.
func decodeJSON(file string, src vuln.Source, v any) error {
	in, original := jsonReader(src)
	dec := json.NewDecoder(in)
	if err := dec.Decode(v); err != nil {
		return jsonError(file, src, original, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := LineColAt(src, original(dec.InputOffset()))
		return &Error{File: file, Line: line, Col: col, Msg: "unexpected data after the JSON document"}
	}
	return nil
}

// jsonReader returns a reader of src for a JSON decoder, and the function
// that maps the decoder's offsets back to src's. A report that may hold a
// string longer than MaxString is read through a cutReader, so that no
// decoder holds more of one string than that; the offsets of one that
// cannot are src's own.
func jsonReader(src vuln.Source) (io.Reader, func(int64) int64) {
	var in io.Reader
	if b, ok := src.(vuln.Bytes); ok {
		if len(b) <= MaxString {
			return bytes.NewBuffer(b), func(off int64) int64 { return off } // which a jsontext.Decoder reads in place
		}
		in = bytes.NewReader(b)
	} else {
		in = bufio.NewReaderSize(io.NewSectionReader(src, 0, src.Size()), 1<<20)
	}
	cr := newCutReader(in, MaxString)
	return cr, cr.original
}

// largeJSON are the options of the JSON v2 decoder
// (github.com/go-json-experiment/json, what Go's encoding/json/v2 will be)
// that streams the formats whose reports reach hundreds of megabytes (a
// Trivy scan of a cluster). They keep encoding/json's leniency: names match
// in any case, a repeated name keeps the last value, and invalid UTF-8
// becomes U+FFFD.
var largeJSON = jsonv2.JoinOptions(jsonv2.MatchCaseInsensitiveNames(true),
	jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// largeJSONError turns an error of the JSON v2 decoder on src into an
// *Error with the line, column and JSON path of the problem; original, if
// not nil, maps the decoder's offsets to src's (see jsonReader).
func largeJSONError(file string, src vuln.Source, err error, original func(int64) int64) error {
	if original == nil {
		original = func(off int64) int64 { return off }
	}
	var se *jsontext.SyntacticError
	var me *jsonv2.SemanticError
	switch {
	case blank(src):
		return &Error{File: file, Msg: "the report is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := LineColAt(src, src.Size())
		return &Error{File: file, Line: line, Col: col, Msg: "the JSON is truncated"}
	case errors.As(err, &se):
		line, col := LineColAt(src, original(se.ByteOffset))
		msg := "invalid JSON"
		if se.Err != nil {
			msg += ": " + se.Err.Error()
		}
		if se.JSONPointer == "" && se.ByteOffset > 0 && strings.Contains(msg, "after top-level value") {
			msg = "unexpected data after the JSON document"
		}
		return &Error{File: file, Line: line, Col: col, Path: pointerPath(se.JSONPointer), Msg: msg}
	case errors.As(err, &me):
		line, col := LineColAt(src, original(me.ByteOffset))
		msg := "invalid value"
		if me.GoType != nil && me.JSONKind != 0 {
			msg = fmt.Sprintf("expected %s, found %s", me.GoType, kindName(me.JSONKind))
		} else if me.Err != nil {
			msg = me.Err.Error()
		}
		return &Error{File: file, Line: line, Col: col, Path: pointerPath(me.JSONPointer), Msg: msg}
	}
	return &Error{File: file, Msg: err.Error()}
}

// pointerPath writes a JSON pointer (/Results/0/Severity) as the importers
// write paths (Results[0].Severity).
func pointerPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(quoteLong(tok))
	}
	return b.String()
}

// quoteLong cuts a hostile report's absurdly long key for a message.
func quoteLong(s string) string {
	if len(s) <= 64 {
		return s
	}
	return quoteShort(s)
}

// kindName names a JSON kind as encoding/json's errors do.
func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "bool"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

func jsonError(file string, src vuln.Source, original func(int64) int64, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &Error{File: file, Msg: "the report is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := LineColAt(src, src.Size())
		return &Error{File: file, Line: line, Col: col, Msg: "the JSON is truncated"}
	case errors.As(err, &se):
		line, col := LineColAt(src, original(se.Offset))
		return &Error{File: file, Line: line, Col: col, Msg: "invalid JSON: " + se.Error()}
	case errors.As(err, &te):
		line, col := LineColAt(src, original(te.Offset))
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
