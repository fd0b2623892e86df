package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

var ctx = context.Background()

var at = time.Date(2026, 11, 23, 9, 30, 15, 123456000, time.UTC)

func TestMigrations(t *testing.T) {
	ms, err := store.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			db := storetest.Open(t, dsn)
			v, err := db.SchemaVersion(ctx)
			if want := ms[len(ms)-1].Version; err != nil || v != want {
				t.Fatalf("schema version %d (%v), want %d", v, err, want)
			}
			// Opening again applies nothing twice.
			db2 := storetest.Open(t, dsn)
			if v2, _ := db2.SchemaVersion(ctx); v2 != v {
				t.Errorf("reopened at version %d", v2)
			}
		})
	}
}

func TestOpenBadDatabase(t *testing.T) {
	_, err := store.Open(ctx, "postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("unreachable database opened")
	}
	if got := err.Error(); !strings.Contains(got, "open postgres") || strings.Contains(got, "secret") {
		t.Errorf("error %q: want it to name postgres and hide the password", got)
	}
	_, err = store.Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2&password=qsecretq")
	if err == nil || strings.Contains(err.Error(), "qsecretq") {
		t.Errorf("a password in the query leaked: %v", err)
	}
	if _, err := store.Open(ctx, filepath.Join(t.TempDir(), "missing-dir", "x", "\x00bad.db")); err == nil {
		t.Error("a path with a NUL opened")
	}
}

func contains(s, sub string) bool {
	return len(s) >= len(sub) && (s == sub || len(sub) == 0 || indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestUserTokenSessionRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		disabled := at.Add(time.Hour)
		u := auth.User{ID: "usr_1", Username: "iso", DisplayName: "Ines", Email: "i@example.com", Role: auth.SecurityOfficer, CreatedAt: at, CreatedBy: "cli:root"}
		exp := at.Add(24 * time.Hour)
		tok := auth.Token{ID: "tok_1", UserID: "usr_1", Name: "ci", CreatedAt: at, CreatedBy: "iso", ExpiresAt: &exp}
		sess := auth.Session{IDHash: []byte{1, 2, 3}, UserID: "usr_1", CSRFToken: "c", RemoteAddr: "10.0.0.1", CreatedAt: at, ExpiresAt: exp}
		err := storetest.Update(t, db, func(tx *store.Tx) error {
			if err := tx.InsertUser(ctx, u, "$argon2id$hash"); err != nil {
				return err
			}
			if err := tx.InsertToken(ctx, tok, []byte("h")); err != nil {
				return err
			}
			return tx.InsertSession(ctx, sess)
		})
		if err != nil {
			t.Fatal(err)
		}
		db.View(ctx, func(tx *store.Tx) error {
			got, hash, err := tx.UserByName(ctx, "iso")
			if err != nil || hash != "$argon2id$hash" || got.Email != u.Email || got.Role != u.Role || !got.CreatedAt.Equal(at) || got.DisabledAt != nil {
				t.Errorf("user = %+v %q %v", got, hash, err)
			}
			gt, h, err := tx.TokenByID(ctx, "tok_1")
			if err != nil || string(h) != "h" || gt.Username != "iso" || !gt.ExpiresAt.Equal(exp) || gt.RevokedAt != nil {
				t.Errorf("token = %+v %v", gt, err)
			}
			gs, err := tx.SessionByHash(ctx, []byte{1, 2, 3})
			if err != nil || gs.CSRFToken != "c" || gs.RemoteAddr != "10.0.0.1" || !gs.ExpiresAt.Equal(exp) {
				t.Errorf("session = %+v %v", gs, err)
			}
			if _, _, err := tx.UserByName(ctx, "nobody"); opsguard.ErrorCode(err) != opsguard.ENotFound {
				t.Errorf("missing user: %v", err)
			}
			return nil
		})
		err = storetest.Update(t, db, func(tx *store.Tx) error {
			if err := tx.SetUserDisabled(ctx, "usr_1", disabled); err != nil {
				return err
			}
			if err := tx.SetTokenRevoked(ctx, "tok_1", disabled); err != nil {
				return err
			}
			return tx.EndSession(ctx, []byte{1, 2, 3}, disabled)
		})
		if err != nil {
			t.Fatal(err)
		}
		db.View(ctx, func(tx *store.Tx) error {
			got, _ := tx.UserByID(ctx, "usr_1")
			gt, _, _ := tx.TokenByID(ctx, "tok_1")
			gs, _ := tx.SessionByHash(ctx, []byte{1, 2, 3})
			if got.DisabledAt == nil || !got.DisabledAt.Equal(disabled) || gt.RevokedAt == nil || gs.EndedAt == nil {
				t.Errorf("after update: %+v %+v %+v", got, gt, gs)
			}
			return nil
		})
		if err := storetest.Update(t, db, func(tx *store.Tx) error { return tx.SetTokenRevoked(ctx, "tok_none", at) }); opsguard.ErrorCode(err) != opsguard.ENotFound {
			t.Errorf("update of a missing row: %v", err)
		}
	})
}

func TestRollbackLeavesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		boom := errors.New("boom")
		err := storetest.Update(t, db, func(tx *store.Tx) error {
			if err := tx.InsertUser(ctx, auth.User{ID: "usr_x", Username: "x", Role: auth.Engineer, CreatedAt: at}, "h"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		db.View(ctx, func(tx *store.Tx) error {
			if us, _ := tx.ListUsers(ctx); len(us) != 0 {
				t.Errorf("rolled-back user persisted: %+v", us)
			}
			return nil
		})
	})
}

func TestControlRunRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		run := control.Run{ID: "run_1", Trigger: "manual", Actor: "iso", StartedAt: at, FinishedAt: at.Add(time.Second), Results: []control.Result{
			{RunID: "run_1", ControlID: "A-1.x", Requirement: "LG-3", Status: control.Pass, Summary: "ok", Refs: []control.Ref{{Kind: "ledger", ID: "7"}}, EvaluatedAt: at},
			{RunID: "run_1", ControlID: "B-1.y", Requirement: "GV-4", Status: control.Fail, Summary: "no", EvaluatedAt: at},
		}}
		run2 := run
		run2.ID, run2.StartedAt = "run_2", at.Add(time.Hour)
		run2.Results = []control.Result{{RunID: "run_2", ControlID: "A-1.x", Requirement: "LG-3", Status: control.Fail, Summary: "later", EvaluatedAt: at.Add(time.Hour)}}
		if err := storetest.Update(t, db, func(tx *store.Tx) error {
			if err := tx.InsertControlRun(ctx, run); err != nil {
				return err
			}
			return tx.InsertControlRun(ctx, run2)
		}); err != nil {
			t.Fatal(err)
		}
		db.View(ctx, func(tx *store.Tx) error {
			last, ok, err := tx.LastControlRun(ctx)
			if err != nil || !ok || last.ID != "run_2" {
				t.Errorf("last run = %+v %v %v", last, ok, err)
			}
			latest, err := tx.LatestControlResults(ctx)
			if err != nil || len(latest) != 2 || latest[0].Summary != "later" || latest[1].Status != control.Fail {
				t.Errorf("latest = %+v %v", latest, err)
			}
			h, err := tx.ControlHistory(ctx, "A-1.x", 10)
			if err != nil || len(h) != 2 || h[0].RunID != "run_2" || h[1].Refs[0].ID != "7" {
				t.Errorf("history = %+v %v", h, err)
			}
			return nil
		})
	})
}

func TestNotificationAttemptRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		as := []notify.Attempt{
			{MessageID: "m1", Kind: "k", Channel: "hook", Number: 1, Time: at, OK: false, Error: "500"},
			{MessageID: "m1", Kind: "k", Channel: "hook", Number: 2, Time: at.Add(time.Second), OK: true},
		}
		storetest.Update(t, db, func(tx *store.Tx) error {
			for _, a := range as {
				if _, err := tx.InsertNotificationAttempt(ctx, a); err != nil {
					return err
				}
			}
			return nil
		})
		var got []notify.Attempt
		db.View(ctx, func(tx *store.Tx) error { var err error; got, err = tx.NotificationAttempts(ctx, "m1"); return err })
		if len(got) != 2 || got[0].OK || !got[1].OK || got[0].Error != "500" || !got[1].Time.Equal(as[1].Time) {
			t.Errorf("attempts = %+v", got)
		}
	})
}

func TestLedgerAndBlobRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		key, _ := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
		l := ledger.New(key, ledger.Options{Now: func() time.Time { return at }})
		var blob ledger.Blob
		err := db.Update(ctx, func(tx *store.Tx) error {
			var err error
			if blob, err = l.PutBlob(ctx, tx, "application/json", []byte(`{"a":1}`)); err != nil {
				return err
			}
			if _, err := l.PutBlob(ctx, tx, "application/json", []byte(`{"a":1}`)); err != nil { // stored once
				return err
			}
			_, err = l.Append(ctx, tx, ledger.Event{Actor: "a", Kind: "k.x", Subject: "s/1", Payload: map[string]any{"evidence": []string{blob.Ref()}}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		db.View(ctx, func(tx *store.Tx) error {
			b, err := tx.Blob(ctx, blob.SHA256)
			if err != nil || string(b.Content) != `{"a":1}` || b.MediaType != "application/json" {
				t.Errorf("blob = %+v %v", b, err)
			}
			n := 0
			tx.ScanBlobs(ctx, func(ledger.Blob) error { n++; return nil })
			if n != 1 {
				t.Errorf("%d blobs, want 1", n)
			}
			e, err := tx.Entry(ctx, 1)
			if err != nil || !e.Time.Equal(at) || e.Subject != "s/1" {
				t.Errorf("entry = %+v %v", e, err)
			}
			subs, err := tx.LedgerSubjects(ctx, "k.x")
			if err != nil || subs["s/1"] != 1 {
				t.Errorf("subjects = %v %v", subs, err)
			}
			cp, ok, err := tx.LedgerHead(ctx)
			if err != nil || !ok || cp.Size != 1 || len(cp.Frontier) != 1 {
				t.Errorf("head = %+v %v %v", cp, ok, err)
			}
			return nil
		})
	})
}

// Writers from separate handles (as from the server and the CLI at once)
// all succeed: SQLite's busy timeout waits instead of failing, and the
// ledger stays one consistent tree.
func TestConcurrentWriters(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			key, _ := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
			l := ledger.New(key, ledger.Options{})
			const writers, each = 4, 25
			var wg sync.WaitGroup
			errs := make(chan error, writers*each)
			for w := 0; w < writers; w++ {
				db := storetest.Open(t, dsn) // a handle of its own, like another process
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := 0; i < each; i++ {
						err := db.Update(ctx, func(tx *store.Tx) error {
							_, err := l.Append(ctx, tx, ledger.Event{Actor: fmt.Sprintf("w%d", w), Kind: "t.write", Subject: fmt.Sprintf("n/%d", i)})
							return err
						})
						if err != nil {
							errs <- err
						}
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("writer: %v", err)
			}
			db := storetest.Open(t, dsn)
			rep, err := ledger.Verify(ctx, store.LedgerSource(db), l.Verifier(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Entries != writers*each || rep.Checkpoints != writers*each {
				t.Errorf("after concurrent writes: %+v", rep)
			}
		})
	}
}

// With PostgreSQL, a scheduled job runs on one replica at a time.
func TestJobLockIsExclusive(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	a, b := storetest.Open(t, dsn), storetest.Open(t, dsn)
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.WithJobLock("controls")(ctx, func(context.Context) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	ran := false
	if err := b.WithJobLock("controls")(ctx, func(context.Context) error { ran = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Error("a second replica ran the job while the first held the lock")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := b.WithJobLock("controls")(ctx, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("after release the job did not run: %v", err)
	}
}
