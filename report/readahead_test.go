package report

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
)

// TestReadAhead reads a source of many chunks through small reads, and
// hands on the source's error.
func TestReadAhead(t *testing.T) {
	src := make([]byte, 5*aheadChunk+1234)
	rand.Read(src)
	a := newReadAhead(iotest.HalfReader(bytes.NewReader(src)))
	got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(a, int64(len(src)))))
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("read %d of %d bytes: %v", len(got), len(src), err)
	}
	if n, err := a.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("after the end: %d, %v", n, err)
	}
	a.Close()
	boom := errors.New("boom")
	b := newReadAhead(io.MultiReader(bytes.NewReader(src[:100]), iotest.ErrReader(boom)))
	if _, err := io.ReadAll(b); !errors.Is(err, boom) {
		t.Errorf("source error: %v", err)
	}
	b.Close()
	c := newReadAhead(bytes.NewReader(src)) // closed unread
	c.Close()
}

// TestEntryLine reads the lines Export writes by hand and any other
// valid line by the decoder, to the same entry.
func TestEntryLine(t *testing.T) {
	want := Entry{Seq: 42, Time: "2026-03-01T09:00:00.000000Z", Actor: "alice <a@b>", Kind: "k", Subject: `s"q`, PayloadSHA256: "ab", Payload: []byte(`{"x":"<y>"}`)}
	std, _ := json.Marshal(want)
	for _, line := range [][]byte{
		std,
		[]byte(`{"seq":42,"time":"2026-03-01T09:00:00.000000Z","actor":"alice \u003ca@b\u003e","kind":"k","subject":"s\"q","payload_sha256":"ab","payload":"eyJ4IjoiPHk+In0="}`),
		[]byte(`{"payload":"eyJ4IjoiPHk+In0=","seq":42,"kind":"k","time":"2026-03-01T09:00:00.000000Z","actor":"alice <a@b>","subject":"s\"q","payload_sha256":"ab"}`),
	} {
		var got Entry
		if err := parseEntryLine(line, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v %v", line, got, err)
		}
	}
	plain := Entry{Seq: 7, Time: "t", Actor: "a", Kind: "k", Subject: "s", PayloadSHA256: "h", Payload: []byte("{}")}
	line, _ := json.Marshal(plain)
	var got Entry
	if !fastEntryLine(line, &got) || !reflect.DeepEqual(got, plain) {
		t.Errorf("the line Export writes is not read by hand: %s %+v", line, got)
	}
	for _, bad := range []string{`{"seq":1}`, `{"seq":x,"time":""}`, `not json`} {
		if parseEntryLine([]byte(bad), &got) == nil && got.Seq != 1 {
			t.Errorf("%s parsed", bad)
		}
	}
}
