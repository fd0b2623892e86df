package importers

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func cutAll(t testing.TB, in []byte, max int, oneByte bool) ([]byte, *cutReader) {
	var r io.Reader = bytes.NewReader(in)
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	cr := newCutReader(r, max)
	out, err := io.ReadAll(cr)
	if err != nil {
		t.Fatal(err)
	}
	return out, cr
}

func TestCutReader(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"short strings pass", `{"a":"bcd","e":[1,"f"]}`, `{"a":"bcd","e":[1,"f"]}`},
		{"a long value is cut", `{"a":"0123456789"}`, `{"a":"0123"}`},
		{"a long key is cut", `{"0123456789":1}`, `{"0123":1}`},
		{"an escape is kept whole", `["01\u00e9456789"]`, `["01\u00e9"]`},
		{"an escaped quote does not end the string", `["0123\"456", "x"]`, `["0123", "x"]`},
		{"an escaped backslash ends its escape", `["0\\", "0123456"]`, `["0\\", "0123"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, one := range []bool{false, true} {
				if got, _ := cutAll(t, []byte(tc.in), 4, one); string(got) != tc.want {
					t.Errorf("one byte at a time %v: %s, want %s", one, got, tc.want)
				}
			}
		})
	}
}

// An error after a cut string is located in the report as written.
func TestCutOffsetsMapBack(t *testing.T) {
	in := []byte(`{"a":"` + strings.Repeat("x", 100) + `", "b": tru}`)
	out, cr := cutAll(t, in, 10, false)
	at := int64(bytes.Index(out, []byte("tru}")))
	if got, want := cr.original(at), int64(bytes.Index(in, []byte("tru}"))); got != want {
		t.Errorf("offset %d maps to %d, want %d", at, got, want)
	}
	if got := cr.original(3); got != 3 {
		t.Errorf("offset 3 before the cut maps to %d", got)
	}
}

// FuzzCutJSON: cutting keeps valid JSON valid, leaves no string longer
// than its bound plus an escape, changes nothing under a bound larger
// than the input, and maps every offset after a cut forward.
func FuzzCutJSON(f *testing.F) {
	for _, s := range []string{`{"a":"0123456789"}`, `["\u00e9\u00e9\u00e9\u00e9", "\\\\\\\"x"]`, `{"k\"ey": [true, null, 1.5e3, "s"]}`, `"\ud83d\ude00\ud83d\ude00"`} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, m uint8) {
		max := int(m%16) + 1
		out, cr := cutAll(t, in, max, len(in)%2 == 0)
		if json.Valid(in) && !json.Valid(out) {
			t.Fatalf("valid %q cut to invalid %q", in, out)
		}
		if json.Valid(out) {
			dec := json.NewDecoder(bytes.NewReader(out))
			for {
				tok, err := dec.Token()
				if err != nil {
					break
				}
				if s, ok := tok.(string); ok && len(s) > 3*(max+6) { // a character cut in two becomes U+FFFD
					t.Fatalf("string of %d bytes left by a bound of %d", len(s), max)
				}
			}
		}
		if same, _ := cutAll(t, in, len(in)+1, false); !bytes.Equal(same, in) {
			t.Fatalf("cut under a bound larger than the input: %q → %q", in, same)
		}
		for off := int64(0); off <= int64(len(out)); off++ {
			if o := cr.original(off); o < off || o > int64(len(in)) {
				t.Fatalf("offset %d maps to %d of %d", off, o, len(in))
			}
		}
	})
}
