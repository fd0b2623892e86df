package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

var ctx = context.Background()

func newLog(t testing.TB) *ledger.Log {
	t.Helper()
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "ledger.key"))
	if err != nil {
		t.Fatal(err)
	}
	return ledger.New(key, ledger.Options{})
}

// appendN appends n events in batches of batch.
func appendN(t testing.TB, db *store.DB, l *ledger.Log, n, batch int) {
	t.Helper()
	for done := 0; done < n; {
		k := min(batch, n-done)
		evs := make([]ledger.Event, k)
		for i := range evs {
			evs[i] = ledger.Event{Actor: "alice", Kind: "test.event", Subject: "thing/" + string(rune('a'+(done+i)%26)), Payload: map[string]int{"n": done + i}}
		}
		if err := db.Update(ctx, func(tx *store.Tx) error {
			_, err := l.Append(ctx, tx, evs...)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		done += k
	}
}

func verify(t testing.TB, db *store.DB, l *ledger.Log) *ledger.Report {
	t.Helper()
	ext, err := ledger.ReadCheckpointFile(l.Key().CheckpointPath())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ledger.Verify(ctx, store.LedgerSource(db), l.Verifier(), ext)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAppendVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := newLog(t)
		if rep := verify(t, db, l); !rep.OK() || rep.Entries != 0 {
			t.Fatalf("empty ledger: %+v", rep)
		}
		appendN(t, db, l, 7, 1)
		appendN(t, db, l, 250, 100) // crosses the multi-row insert chunk
		rep := verify(t, db, l)
		if !rep.OK() {
			t.Fatalf("problems: %v", rep.Problems)
		}
		if rep.Entries != 257 || rep.Size != 257 || rep.Checkpoints != 10 || rep.External != 257 {
			t.Errorf("report = %+v, want 257 entries, 10 checkpoints, file at 257", rep)
		}
		var e ledger.Entry
		db.View(ctx, func(tx *store.Tx) error {
			var err error
			e, err = tx.Entry(ctx, 3)
			return err
		})
		if e.Seq != 3 || e.Actor != "alice" || string(e.Payload) != `{"n":2}` {
			t.Errorf("entry 3 = %+v", e)
		}
	})
}

func TestAppendRejectsBadEvents(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	l := newLog(t)
	for _, ev := range []ledger.Event{
		{Actor: "", Kind: "k", Subject: "s"},
		{Actor: "a\nb", Kind: "k", Subject: "s"},
		{Actor: "a", Kind: "k", Subject: "s", Payload: json.RawMessage(`{"x":`)},
	} {
		err := db.Update(ctx, func(tx *store.Tx) error { _, err := l.Append(ctx, tx, ev); return err })
		if err == nil {
			t.Errorf("event %+v accepted", ev)
		}
	}
	if rep := verify(t, db, l); rep.Entries != 0 || !rep.OK() {
		t.Errorf("rejected events left traces: %+v", rep)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	tests := []struct {
		name    string
		tamper  []string
		badSeq  int64
		problem string
	}{
		{"edit payload", []string{"UPDATE ledger_entries SET payload = '{\"n\":999}' WHERE seq = 5"}, 5, "payload does not match"},
		{"edit actor", []string{"UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 12"}, 12, "leaf hash"},
		{"edit time", []string{"UPDATE ledger_entries SET time = '2020-01-01T00:00:00.000000Z' WHERE seq = 2"}, 2, "leaf hash"},
		{"delete middle", []string{"DELETE FROM ledger_entries WHERE seq = 9"}, 9, "missing"},
		{"delete tail", []string{"DELETE FROM ledger_entries WHERE seq = 30"}, 30, "deleted"},
		{"delete tail and its checkpoints", []string{
			"DELETE FROM ledger_entries WHERE seq > 25",
			"DELETE FROM ledger_checkpoints WHERE size > 25",
		}, 26, "outside the database"},
		{"insert at tail", []string{
			"INSERT INTO ledger_entries SELECT seq + 1, time, actor, kind, subject, payload, payload_hash, leaf_hash FROM ledger_entries WHERE seq = 30",
		}, 31, "not covered"},
		{"insert below the first", []string{
			"INSERT INTO ledger_entries SELECT 0, time, actor, kind, subject, payload, payload_hash, leaf_hash FROM ledger_entries WHERE seq = 1",
		}, 1, "below the first entry"},
		{"forged checkpoint", []string{
			"UPDATE ledger_checkpoints SET note = replace(note, '\n\n', '\n\n') || '', root_hash = leaf_hash FROM ledger_entries WHERE ledger_checkpoints.size = 20 AND ledger_entries.seq = 1",
		}, 0, "checkpoint at size 20"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				l := newLog(t)
				appendN(t, db, l, 20, 4)
				appendN(t, db, l, 10, 1)
				for _, q := range tc.tamper {
					if storetest.Exec(t, db, q) == 0 {
						t.Fatalf("tamper %q: no row changed", q)
					}
				}
				rep := verify(t, db, l)
				if rep.OK() {
					t.Fatal("tampering not detected")
				}
				if rep.FirstBadSeq != tc.badSeq {
					t.Errorf("first bad seq = %d, want %d (%v)", rep.FirstBadSeq, tc.badSeq, rep.Problems)
				}
				if !strings.Contains(strings.Join(rep.Problems, "\n"), tc.problem) {
					t.Errorf("problems %q lack %q", rep.Problems, tc.problem)
				}
			})
		})
	}
}

// An attacker who recomputes every hash of an edited entry is still caught
// by the signed root, and the blame falls on the write that held it.
func TestConsistentRewriteIsDetected(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := newLog(t)
		appendN(t, db, l, 12, 4) // checkpoints at 4, 8, 12
		var e ledger.Entry
		db.View(ctx, func(tx *store.Tx) error { var err error; e, err = tx.Entry(ctx, 6); return err })
		e.Payload = json.RawMessage(`{"n":-1}`)
		e.PayloadHash = ledger.PayloadHashOf(e.Payload)
		e.LeafHash = e.ComputeLeafHash()
		storetest.Exec(t, db, "UPDATE ledger_entries SET payload = ?, payload_hash = ?, leaf_hash = ? WHERE seq = 6", string(e.Payload), e.PayloadHash, e.LeafHash)
		rep := verify(t, db, l)
		if rep.OK() || rep.FirstBadSeq != 5 {
			t.Fatalf("first bad seq = %d, want 5 (the batch 5..8): %v", rep.FirstBadSeq, rep.Problems)
		}
	})
}

func TestEvidenceTampering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := newLog(t)
		err := db.Update(ctx, func(tx *store.Tx) error {
			b, err := l.PutBlob(ctx, tx, "text/plain", []byte("scan report"))
			if err != nil {
				return err
			}
			_, err = l.Append(ctx, tx, ledger.Event{Actor: "ci", Kind: "scan.imported", Subject: "scan/1", Payload: map[string]any{"evidence": []string{b.Ref()}}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep := verify(t, db, l); !rep.OK() || rep.Blobs != 1 {
			t.Fatalf("before tampering: %+v", rep)
		}
		storetest.Exec(t, db, "UPDATE evidence_blobs SET content = ?", []byte("edited report"))
		rep := verify(t, db, l)
		if rep.OK() || rep.FirstBadSeq != 1 {
			t.Fatalf("edited evidence: %+v", rep)
		}
		storetest.Exec(t, db, "DELETE FROM evidence_blobs")
		if rep := verify(t, db, l); rep.OK() || !strings.Contains(rep.Problems[0], "missing") {
			t.Fatalf("deleted evidence: %+v", rep)
		}
	})
}

// Large evidence is stored compressed; verify checks the hash of the raw
// bytes it decompresses, so an edit of the stored bytes, of the way they
// are stored, or a replacement by other valid compressed bytes is found.
func TestCompressedEvidenceTampering(t *testing.T) {
	report := []byte(strings.Repeat(`{"VulnerabilityID":"CVE-2024-0001","Severity":"HIGH"},`, 2000))
	other, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tamper string
		args   []any
	}{
		{"content edited", "UPDATE evidence_blobs SET content = ?", []any{[]byte("edited report")}},
		{"other compressed content", "UPDATE evidence_blobs SET content = ?", []any{other.EncodeAll(bytes.ToUpper(report), nil)}},
		{"encoding edited", "UPDATE evidence_blobs SET encoding = ''", nil},
		{"unknown encoding", "UPDATE evidence_blobs SET encoding = 'br'", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				l := newLog(t)
				var ref ledger.Blob
				err := db.Update(ctx, func(tx *store.Tx) error {
					var err error
					if ref, err = l.PutBlob(ctx, tx, "application/json", report); err != nil {
						return err
					}
					_, err = l.Append(ctx, tx, ledger.Event{Actor: "ci", Kind: "scan.imported", Subject: "scan/1", Payload: map[string]any{"evidence": []string{ref.Ref()}}})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if n := storetest.Exec(t, db, "UPDATE evidence_blobs SET encoding = encoding WHERE encoding = 'zstd' AND size_bytes = ? AND length(content) < ?",
					len(report), len(report)/10); n != 1 {
					t.Fatalf("not stored compressed: %d rows", n)
				}
				db.View(ctx, func(tx *store.Tx) error {
					if b, err := tx.Blob(ctx, ref.SHA256); err != nil || !bytes.Equal(b.Content, report) {
						t.Errorf("blob read back: %d bytes, %v", len(b.Content), err)
					}
					return nil
				})
				if rep := verify(t, db, l); !rep.OK() || rep.Blobs != 1 {
					t.Fatalf("before tampering: %+v", rep)
				}
				storetest.Exec(t, db, tc.tamper, tc.args...)
				rep := verify(t, db, l)
				if rep.OK() || rep.FirstBadSeq != 1 || !strings.Contains(strings.Join(rep.Problems, "\n"), "edited") {
					t.Errorf("tampered: %+v", rep)
				}
			})
		})
	}
}

func TestProofsVerifyWithPublicKeyAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := newLog(t)
		appendN(t, db, l, 37, 5)
		var leaves [][]byte
		var entries []ledger.Entry
		var cp17, cp37 ledger.Checkpoint
		db.View(ctx, func(tx *store.Tx) error {
			leaves, _ = tx.LeafHashes(ctx, 37)
			for s := int64(1); s <= 37; s++ {
				e, _ := tx.Entry(ctx, s)
				entries = append(entries, e)
			}
			cp37, _ = tx.Checkpoint(ctx, 37)
			var err error
			cp17, err = tx.Checkpoint(ctx, 35)
			return err
		})
		// Only the public key's text crosses to the verifier.
		v, err := ledger.NewVerifier(l.Key().Public)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p, err := ledger.InclusionProof(leaves, e.Seq-1, 37)
			if err != nil {
				t.Fatal(err)
			}
			if err := ledger.VerifyInclusion(v, cp37.Note, &e, p); err != nil {
				t.Errorf("entry %d: %v", e.Seq, err)
			}
		}
		forged := entries[10]
		forged.Payload = json.RawMessage(`{"n":0}`)
		forged.PayloadHash = ledger.PayloadHashOf(forged.Payload)
		p, _ := ledger.InclusionProof(leaves, 10, 37)
		if err := ledger.VerifyInclusion(v, cp37.Note, &forged, p); err == nil {
			t.Error("a forged entry verified")
		}
		cp, err := ledger.ConsistencyProof(leaves, 35, 37)
		if err != nil {
			t.Fatal(err)
		}
		if err := ledger.VerifyConsistency(v, cp17.Note, cp37.Note, cp); err != nil {
			t.Errorf("consistency 35→37: %v", err)
		}
		if err := ledger.VerifyConsistency(v, cp37.Note, cp17.Note, cp); err == nil {
			t.Error("consistency proof verified the wrong way round")
		}
	})
}

func TestCheckpointOfAnotherKeyIsRejected(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	mine, other := newLog(t), newLog(t)
	appendN(t, db, mine, 3, 3)
	var cp ledger.Checkpoint
	db.View(ctx, func(tx *store.Tx) error { var err error; cp, _, err = tx.LedgerHead(ctx); return err })
	if _, _, _, err := ledger.OpenCheckpoint(cp.Note, other.Verifier()); err == nil || !strings.Contains(err.Error(), "not signed by the ledger key") {
		t.Fatalf("checkpoint accepted by another key: %v", err)
	}
	// A checkpoint row signed by a different key, planted in the database.
	db2 := storetest.Open(t, filepath.Join(t.TempDir(), "y.db"))
	appendN(t, db2, other, 4, 4)
	var foreign ledger.Checkpoint
	db2.View(ctx, func(tx *store.Tx) error { var err error; foreign, _, err = tx.LedgerHead(ctx); return err })
	storetest.Exec(t, db, "UPDATE ledger_checkpoints SET note = ? WHERE size = 3", string(foreign.Note))
	rep := verify(t, db, mine)
	if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "not signed by the ledger key") {
		t.Errorf("foreign checkpoint not rejected: %+v", rep)
	}
	// And the appender refuses to extend a head it cannot verify.
	err := db.Update(ctx, func(tx *store.Tx) error {
		_, err := mine.Append(ctx, tx, ledger.Event{Actor: "a", Kind: "k", Subject: "s"})
		return err
	})
	if err == nil {
		t.Error("append on a forged head succeeded")
	}
}

func TestCheckpointTimeIsUTC(t *testing.T) {
	db := storetest.Open(t, filepath.Join(t.TempDir(), "x.db"))
	key, _ := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	l := ledger.New(key, ledger.Options{Now: func() time.Time { return at }})
	appendN(t, db, l, 1, 1)
	var e ledger.Entry
	db.View(ctx, func(tx *store.Tx) error { var err error; e, err = tx.Entry(ctx, 1); return err })
	if want := at.UTC().Truncate(time.Microsecond); !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("time = %v, want %v", e.Time, want)
	}
	if rep := verify(t, db, l); !rep.OK() {
		t.Error(rep.Problems)
	}
}

func TestTimeFormatting(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 11, 23, 9, 5, 7, 123456000, time.UTC),
		time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.FixedZone("x", -7*3600)),
	}
	for _, tm := range times {
		got := string(ledger.AppendTime(nil, tm))
		if want := tm.UTC().Format(ledger.TimeFormat); got != want {
			t.Errorf("AppendTime = %s, want %s", got, want)
		}
		back, err := ledger.ParseTime(got)
		if err != nil || !back.Equal(tm) {
			t.Errorf("ParseTime(%s) = %v %v", got, back, err)
		}
	}
	for _, bad := range []string{"2026-02-31T00:00:00.000000Z", "2026-13-01T00:00:00.000000Z", "2026-01-01T00:00:00.00000xZ", "yesterday"} {
		if _, err := ledger.ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}
