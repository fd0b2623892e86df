package app_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/ledger"
)

// FuzzExportVerify: an export is outside input for the auditor who checks
// it. Whatever it holds, Verify reports or errs, and what it passes with
// the ledger's key is the ledger that key signed, or a prefix of it: every
// entry the same in all the leaf commits to, and the same payload bytes.
func FuzzExportVerify(f *testing.F) {
	cfg := testConfig(f, "")
	a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", cheap)
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"olga", "ines"} {
		if _, err := a.Auth.CreateUser(ctx, auth.CLI("root"), auth.NewUser{Username: name, Role: auth.Engineer, Password: "correct horse battery"}); err != nil {
			f.Fatal(err)
		}
	}
	x, err := a.ExportLedger(ctx)
	if err != nil {
		f.Fatal(err)
	}
	genuine := x.Entries
	pub := a.Log.Key().Public
	a.Close()
	good, _ := json.Marshal(x)
	if rep, err := x.Verify(ctx, pub); err != nil || !rep.OK() || rep.Entries < 3 {
		f.Fatalf("the genuine export: %+v %v", rep, err)
	}
	f.Add(good)
	// What a forger tries: another actor, another payload under the
	// signed hash, an entry left out, an entry added past the checkpoint.
	f.Add(replaced(f, good, `"actor":"cli:init"`, `"actor":"cli:mallory"`))
	f.Add(replaced(f, good, `"username":"olga"`, `"username":"eve"`))
	f.Add(edited(f, x, func(x *ledger.Export) { x.Entries = append(x.Entries[:1:1], x.Entries[2:]...) }))
	f.Add(edited(f, x, func(x *ledger.Export) {
		e := x.Entries[len(x.Entries)-1]
		e.Seq++
		e.LeafHash = e.ComputeLeafHash()
		x.Entries = append(x.Entries, e)
	}))
	f.Add([]byte(`{"format":"opsguard-ledger-export/v1","entries":[{"seq":3},{"seq":1}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var x ledger.Export
		if json.Unmarshal(data, &x) != nil {
			return
		}
		rep, err := x.Verify(ctx, pub)
		if err != nil || !rep.OK() {
			return
		}
		n := int64(len(x.Entries))
		if rep.Entries != n || rep.Size != n || n > int64(len(genuine)) {
			t.Fatalf("passed %d entries (%d stored, %d checkpointed) of a ledger of %d", n, rep.Entries, rep.Size, len(genuine))
		}
		for i, e := range x.Entries { // sorted by Verify
			g := genuine[i]
			if !bytes.Equal(e.LeafData(), g.LeafData()) || !bytes.Equal(ledger.PayloadHashOf(e.Payload), g.PayloadHash) {
				t.Fatalf("passed an entry the key did not sign:\n%s %s\nwant\n%s %s", e.LeafData(), e.Payload, g.LeafData(), g.Payload)
			}
		}
	})
}

// edited returns x's JSON after a change made to a copy of its entries.
func edited(t testing.TB, x *ledger.Export, change func(*ledger.Export)) []byte {
	t.Helper()
	c := *x
	c.Entries = append([]ledger.Entry(nil), x.Entries...)
	change(&c)
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replaced returns b with its first old replaced by new, which must be there.
func replaced(t testing.TB, b []byte, old, new string) []byte {
	t.Helper()
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("the export holds no %s", old)
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}
