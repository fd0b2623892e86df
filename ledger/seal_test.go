package ledger_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/ledger"
)

func TestSealsRoundTrip(t *testing.T) {
	h := bytes.Repeat([]byte{0xab}, 32)
	in := []ledger.RowSeal{
		{Table: "findings", Key: ledger.RowKey{K1: "fnd_1"}, Hash: h},
		{Table: "finding_tools", Key: ledger.RowKey{K1: "fnd_1", K2: "Trivy\tv2\n\"x\\"}, Hash: h},
		{Table: "users", Key: ledger.RowKey{K1: `"x"`}},
	}
	var out []ledger.RowSeal
	if err := ledger.ParseSeals(ledger.FormatSeals(in), func(s ledger.RowSeal) error { out = append(out, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d seals back, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Table != in[i].Table || out[i].Key != in[i].Key || !bytes.Equal(out[i].Hash, in[i].Hash) {
			t.Errorf("seal %d: %+v, want %+v", i, out[i], in[i])
		}
	}
	for _, bad := range []struct{ in, want string }{
		{"users\tx\t\t-", "line 1: no newline"},
		{"users\tx\t-\n", "line 1: 3 fields"},
		{"users\tx\t\tzz\n", "line 1: hash"},
		{"users\t\t\t-\n", "line 1: the table or the key is empty"},
		{"users\tx\t\t-\nusers\t\"x\t\t-\n", "line 2: field 2"},
	} {
		err := ledger.ParseSeals([]byte(bad.in), func(ledger.RowSeal) error { return nil })
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.in, err, bad.want)
		}
	}
}

// FuzzParseSeals: a blob of seals read back from the database (outside
// input to verify) either parses into seals that format back to the same
// bytes, or is refused with the line named; it never panics.
func FuzzParseSeals(f *testing.F) {
	h := bytes.Repeat([]byte{1}, 32)
	f.Add(ledger.FormatSeals([]ledger.RowSeal{{Table: "users", Key: ledger.RowKey{K1: "usr_1"}, Hash: h}, {Table: "t", Key: ledger.RowKey{K1: "a", K2: "b\tc"}}}))
	f.Add([]byte("users\tx\t\t-\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var seals []ledger.RowSeal
		err := ledger.ParseSeals(data, func(s ledger.RowSeal) error { seals = append(seals, s); return nil })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error without its line: %v", err)
			}
			return
		}
		var again []ledger.RowSeal
		if err := ledger.ParseSeals(ledger.FormatSeals(seals), func(s ledger.RowSeal) error { again = append(again, s); return nil }); err != nil || len(again) != len(seals) {
			t.Fatalf("formatted seals do not parse back: %v", err)
		}
		for i := range seals {
			if again[i].Key != seals[i].Key || again[i].Table != seals[i].Table || !bytes.Equal(again[i].Hash, seals[i].Hash) {
				t.Fatalf("seal %d changed: %+v → %+v", i, seals[i], again[i])
			}
		}
	})
}
