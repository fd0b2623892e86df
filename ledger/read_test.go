package ledger_test

import (
	"encoding/json"
	"testing"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// TestExportRoundTrip exports a store's ledger, carries it as JSON and
// verifies it offline with the public key alone; an edit or another key
// fails.
func TestExportRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := newLog(t)
		appendN(t, db, l, 23, 4)
		if err := db.Update(ctx, func(tx *store.Tx) error {
			_, err := l.PutBlob(ctx, tx, "text/plain", []byte("evidence"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var x *ledger.Export
		if err := db.View(ctx, func(tx *store.Tx) error {
			var err error
			x, err = ledger.NewExport(ctx, tx, l.Key().Public)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// Verified as collected, the entries must not share the scan's buffers.
		if rep, err := x.Verify(ctx, ""); err != nil || !rep.OK() || rep.Entries != 23 || len(x.Blobs) != 1 {
			t.Fatalf("export as collected: %+v %v (%d blobs)", rep, err, len(x.Blobs))
		}
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		other := newLog(t).Key().Public
		cases := []struct {
			name    string
			edit    func(*ledger.Export)
			trusted string
			badSeq  int64 // 0: must verify
		}{
			{"as exported", func(*ledger.Export) {}, l.Key().Public, 0},
			{"reordered", func(x *ledger.Export) { x.Entries[0], x.Entries[5] = x.Entries[5], x.Entries[0] }, "", 0},
			{"edited actor", func(x *ledger.Export) { x.Entries[6].Actor = "mallory" }, "", 7},
			{"another key", func(*ledger.Export) {}, other, -1},
		}
		for _, tc := range cases {
			var back ledger.Export
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			tc.edit(&back)
			rep, err := back.Verify(ctx, tc.trusted)
			switch {
			case err != nil:
				t.Errorf("%s: %v", tc.name, err)
			case tc.badSeq == 0 && !rep.OK():
				t.Errorf("%s: %v", tc.name, rep.Problems)
			case tc.badSeq != 0 && rep.OK():
				t.Errorf("%s: verified", tc.name)
			case tc.badSeq > 0 && rep.FirstBadSeq != tc.badSeq:
				t.Errorf("%s: first bad seq %d, want %d", tc.name, rep.FirstBadSeq, tc.badSeq)
			}
		}
		// Reformatted as jq . or jq -S . would (other indentation, keys
		// sorted, payloads too), an honest export still verifies: its
		// payloads are carried as exact bytes as well.
		var generic any
		if err := json.Unmarshal(b, &generic); err != nil {
			t.Fatal(err)
		}
		pretty, _ := json.MarshalIndent(generic, "", "    ")
		var back ledger.Export
		if err := json.Unmarshal(pretty, &back); err != nil {
			t.Fatal(err)
		}
		if rep, err := back.Verify(ctx, l.Key().Public); err != nil || !rep.OK() {
			t.Errorf("reformatted export: %v %v", err, rep.Problems)
		}
		if _, err := (&ledger.Export{Format: "v0"}).Verify(ctx, ""); err == nil {
			t.Error("an export of another format verified")
		}
	})
}

// TestProve checks the proofs built from a store's read transaction verify
// with the key they carry, and that a request outside the ledger says why.
func TestProve(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := newLog(t)
		appendN(t, db, l, 12, 4) // checkpoints of sizes 4, 8, 12
		db.View(ctx, func(tx *store.Tx) error {
			p, err := ledger.ProveInclusion(ctx, tx, l.Key().Public, 6, 8)
			if err != nil {
				t.Fatal(err)
			}
			v, _ := ledger.NewVerifier(p.PublicKey)
			if p.Size != 8 || p.Entry.Seq != 6 || ledger.VerifyInclusion(v, []byte(p.Checkpoint), &p.Entry, p.Hashes) != nil {
				t.Errorf("inclusion of 6 in 8: %+v", p)
			}
			c, err := ledger.ProveConsistency(ctx, tx, l.Key().Public, 4, 0)
			if err != nil {
				t.Fatal(err)
			}
			if c.From != 4 || c.To != 12 || ledger.VerifyConsistency(v, []byte(c.FromCheckpoint), []byte(c.ToCheckpoint), c.Hashes) != nil {
				t.Errorf("consistency 4→newest: %+v", c)
			}
			for _, tc := range []struct {
				name string
				err  error
				want opsguard.Code
			}{
				{"entry past the checkpoint", second(ledger.ProveInclusion(ctx, tx, "", 9, 8)), opsguard.EInvalid},
				{"no checkpoint of size 5", second(ledger.ProveInclusion(ctx, tx, "", 1, 5)), opsguard.ENotFound},
				{"from after to", second(ledger.ProveConsistency(ctx, tx, "", 12, 8)), opsguard.EInvalid},
			} {
				if got := opsguard.ErrorCode(tc.err); got != tc.want {
					t.Errorf("%s: %v (%s), want %s", tc.name, tc.err, got, tc.want)
				}
			}
			return nil
		})
	})
}

func second[T any](_ T, err error) error { return err }
