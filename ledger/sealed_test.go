package ledger_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// liveVerify verifies db as the server and `ledger verify` do: the
// instance's own ledger, against the files kept beside the key.
func liveVerify(t testing.TB, db *store.DB, l *ledger.Log, opts ledger.VerifyOptions) *ledger.Report {
	t.Helper()
	ext, err := ledger.ReadCheckpointFile(l.Key().CheckpointPath())
	if err != nil {
		t.Fatal(err)
	}
	st, err := ledger.ReadVerified(ledger.VerifiedPath(l.Key().Path), l.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	opts.External, opts.Verified, opts.Live = ext, st, true
	rep, err := ledger.VerifyWith(ctx, store.LedgerSource(db), l.Verifier(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// A cut tail, a deleted checkpoint row, an edited frontier and an entry
// written behind the server's back are each found by verify, in full and
// incrementally, and the appender refuses the damaged ones itself instead
// of building on them.
func TestSealedLedgerTampering(t *testing.T) {
	tests := []struct {
		name string
		// keepState: a verification passed (and kept its state) before.
		keepState bool
		tamper    func(t *testing.T, db *store.DB, l *ledger.Log)
		badSeq    int64
		problem   string
		// appendErr, when set, is what the appender says.
		appendErr string
	}{
		{"tail cut, checkpoint file deleted", false, func(t *testing.T, db *store.DB, l *ledger.Log) {
			cutTail(t, db, 24)
			removeFile(t, l.Key().CheckpointPath())
		}, 0, "no checkpoint is kept outside the database", ""},
		{"tail cut, checkpoint file replaced by an older note", true, func(t *testing.T, db *store.DB, l *ledger.Log) {
			cutTail(t, db, 24)
			writeFile(t, l.Key().CheckpointPath(), checkpointNote(t, db, 24))
		}, 25, "verified before", ""},
		{"middle checkpoint row deleted", false, func(t *testing.T, db *store.DB, l *ledger.Log) {
			storetest.Exec(t, db, "DELETE FROM ledger_checkpoints WHERE size = 16")
		}, 13, "a checkpoint was deleted", ""},
		{"first checkpoint row deleted", false, func(t *testing.T, db *store.DB, l *ledger.Log) {
			storetest.Exec(t, db, "DELETE FROM ledger_checkpoints WHERE size = 4")
		}, 1, "a checkpoint was deleted", ""},
		{"frontier zeroed", false, func(t *testing.T, db *store.DB, l *ledger.Log) {
			storetest.Exec(t, db, "UPDATE ledger_checkpoints SET frontier = ? WHERE size = 30", make([]byte, 4*32))
		}, 0, "frontier does not match", "frontier does not match"},
		{"frontier emptied", false, func(t *testing.T, db *store.DB, l *ledger.Log) {
			storetest.Exec(t, db, "UPDATE ledger_checkpoints SET frontier = ? WHERE size = 30", []byte{})
		}, 0, "frontier does not match", "frontier does not match"},
		{"forged entry appended", false, func(t *testing.T, db *store.DB, l *ledger.Log) {
			forgeEntry(t, db, 31)
		}, 31, "entries 31..31 are not covered", "entries 31..31 are not covered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				l := newLog(t)
				appendN(t, db, l, 20, 4) // checkpoints at 4, 8, ..., 20
				appendN(t, db, l, 10, 1) // and at 21, 22, ..., 30
				if tc.keepState {
					keepState(t, db, l)
				}
				tc.tamper(t, db, l)
				for _, incremental := range []bool{false, true} {
					rep := liveVerify(t, db, l, ledger.VerifyOptions{Incremental: incremental})
					if rep.OK() {
						t.Fatalf("incremental %v: tampering not detected: %+v", incremental, rep)
					}
					if all := strings.Join(rep.Problems, "\n"); !strings.Contains(all, tc.problem) {
						t.Errorf("incremental %v: problems %q lack %q", incremental, rep.Problems, tc.problem)
					}
					if rep.FirstBadSeq != tc.badSeq {
						t.Errorf("incremental %v: first bad seq %d, want %d (%q)", incremental, rep.FirstBadSeq, tc.badSeq, rep.Problems)
					}
				}
				if tc.appendErr == "" {
					return
				}
				err := db.Update(ctx, func(tx *store.Tx) error {
					_, err := l.Append(ctx, tx, ledger.Event{Actor: "a", Kind: "k", Subject: "s"})
					return err
				})
				if err == nil || !strings.Contains(err.Error(), tc.appendErr) {
					t.Errorf("append = %v, want the verify's own finding %q", err, tc.appendErr)
				}
			})
		})
	}
}

// The incremental check passes on an untouched ledger and reads on from
// the state kept, which follows the ledger.
func TestIncrementalVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := newLog(t)
		appendN(t, db, l, 10, 3)
		keepState(t, db, l)
		appendN(t, db, l, 5, 2)
		rep := liveVerify(t, db, l, ledger.VerifyOptions{Incremental: true})
		if !rep.OK() || rep.Size != 15 || rep.Entries != 15 || rep.State() == nil || rep.State().Size != 15 {
			t.Fatalf("incremental verify: %+v", rep)
		}
	})
}

// A ledger marked failed refuses every write before touching the
// database, with a conflict saying why.
func TestFailedLedgerRefusesWrites(t *testing.T) {
	db := storetest.Open(t, t.TempDir()+"/x.db")
	l := newLog(t)
	appendN(t, db, l, 3, 3)
	l.Fail(errors.New("entry 2: payload does not match its hash: edited"))
	err := db.Update(ctx, func(tx *store.Tx) error {
		_, err := l.Append(ctx, tx, ledger.Event{Actor: "a", Kind: "k", Subject: "s"})
		return err
	})
	if opsguard.ErrorCode(err) != opsguard.EConflict || !strings.Contains(err.Error(), "failed verification") || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("append on a failed ledger = %v", err)
	}
	if rep := verify(t, db, l); rep.Entries != 3 {
		t.Errorf("entries after the refused write: %d, want 3", rep.Entries)
	}
}

func keepState(t *testing.T, db *store.DB, l *ledger.Log) {
	t.Helper()
	rep := liveVerify(t, db, l, ledger.VerifyOptions{})
	if !rep.OK() || rep.State() == nil {
		t.Fatalf("verify before tampering: %+v", rep)
	}
	if err := ledger.WriteVerified(ledger.VerifiedPath(l.Key().Path), rep.State()); err != nil {
		t.Fatal(err)
	}
}

func cutTail(t *testing.T, db *store.DB, size int64) {
	t.Helper()
	storetest.Exec(t, db, "DELETE FROM ledger_entries WHERE seq > ?", size)
	storetest.Exec(t, db, "DELETE FROM ledger_checkpoints WHERE size > ?", size)
}

func checkpointNote(t *testing.T, db *store.DB, size int64) []byte {
	t.Helper()
	var cp ledger.Checkpoint
	if err := db.View(ctx, func(tx *store.Tx) error { var err error; cp, err = tx.Checkpoint(ctx, size); return err }); err != nil {
		t.Fatal(err)
	}
	return cp.Note
}

// forgeEntry writes entry seq behind the server's back: a copy of the one
// before, renumbered, with its hashes recomputed.
func forgeEntry(t *testing.T, db *store.DB, seq int64) {
	t.Helper()
	if err := db.Update(ctx, func(tx *store.Tx) error {
		e, err := tx.Entry(ctx, seq-1)
		if err != nil {
			return err
		}
		e.Seq = seq
		e.LeafHash = e.ComputeLeafHash()
		return tx.InsertLedgerEntries(ctx, []ledger.Entry{e})
	}); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Seal in the middle of a transaction seals what was written so far with
// an entry of its own; a row written again after it is sealed again at
// Close, and verify accepts both, naming the row when it is edited after.
func TestSealInParts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := newLog(t)
		user := func(tx *store.Tx, id, name string) {
			storetest.ExecTx(t, tx, `INSERT INTO users (id, username, display_name, email, role, password_hash, created_at, created_by)
				VALUES (?, ?, 'U', 'u@example.com', 'engineer', 'argon2id$x', '2026-12-01T00:00:00.000000Z', 'test')`, id, name)
		}
		var first, last int64
		err := db.Update(ctx, func(tx *store.Tx) error {
			a, err := l.Begin(ctx, tx)
			if err != nil {
				return err
			}
			if err := a.Seal(); err != nil { // nothing added yet: nothing to do
				return err
			}
			user(tx, "usr_a", "a")
			if _, err := a.Add(ledger.Event{Actor: "test", Kind: "user.created", Subject: "users/usr_a"}); err != nil {
				return err
			}
			if err := a.Seal(); err != nil {
				return err
			}
			first = a.Seq()
			user(tx, "usr_b", "b")
			storetest.ExecTx(t, tx, "UPDATE users SET display_name = 'A' WHERE id = 'usr_a'")
			if _, err := a.Add(ledger.Event{Actor: "test", Kind: "user.created", Subject: "users/usr_b"}); err != nil {
				return err
			}
			if err := a.Close(); err != nil {
				return err
			}
			last = a.Seq()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		db.View(ctx, func(tx *store.Tx) error {
			es, err := tx.ListEntries(ctx, ledger.EntryFilter{})
			for i := len(es) - 1; i >= 0; i-- {
				kinds = append(kinds, es[i].Kind)
			}
			return err
		})
		if got := strings.Join(kinds, ","); got != "user.created,ledger.rows,user.created,ledger.rows" || first != 2 || last != 4 {
			t.Errorf("entries %s, seals at %d and %d; want each part sealed by its own entry, at 2 and 4", got, first, last)
		}
		var seqA, seqB int64
		storetest.QueryRow(t, db, "SELECT seal_seq FROM users WHERE id = 'usr_a'", &seqA)
		storetest.QueryRow(t, db, "SELECT seal_seq FROM users WHERE id = 'usr_b'", &seqB)
		if seqA != last || seqB != last {
			t.Errorf("rows sealed by %d and %d, want both by the last entry %d", seqA, seqB, last)
		}
		if rep := verify(t, db, l); !rep.OK() {
			t.Fatalf("verify: %v", rep.Problems)
		}
		storetest.Exec(t, db, "UPDATE users SET display_name = 'X' WHERE id = 'usr_a'")
		rep := verify(t, db, l)
		if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "table users: row usr_a differs") {
			t.Errorf("edited row not named: %v", rep.Problems)
		}
	})
}
