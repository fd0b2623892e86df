package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/events"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type notes struct {
	mu    sync.Mutex
	kinds []string
	subj  []string
}

func (n *notes) Notify(_ context.Context, _ events.Tx, kind, subject, _ string, _ map[string]any) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.kinds, n.subj = append(n.kinds, kind), append(n.subj, subject)
	return nil
}

func (n *notes) count(kind string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, k := range n.kinds {
		if k == kind {
			c++
		}
	}
	return c
}

type env struct {
	db  *store.DB
	log *ledger.Log
	svc *events.Service
	c   *clock
	n   *notes
}

func newEnv(t testing.TB, db *store.DB, hosts []events.HostInfo) *env {
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, c: &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}, n: &notes{}}
	e.log = ledger.New(key, ledger.Options{Now: e.c.Now})
	e.svc = events.NewService(store.Bind[events.Tx](db), e.log, events.Options{
		Retention: 365 * 24 * time.Hour, Interval: time.Hour, FailedSignIns: 5, FailedWindow: 10 * time.Minute, RootLogin: true,
		Notifier: e.n, Now: e.c.Now, Hosts: func(context.Context) ([]events.HostInfo, error) { return hosts, nil }})
	return e
}

func (e *env) ingest(t testing.TB, b events.Batch) events.Stored {
	t.Helper()
	st, err := e.svc.Ingest(context.Background(), events.Sender{Actor: "agent:web-1", Source: events.SourceAgent}, b)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (e *env) verify(t *testing.T) *ledger.Report {
	t.Helper()
	rep, err := ledger.VerifyWith(context.Background(), store.LedgerSource(e.db), e.log.Verifier(), ledger.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (e *env) entries(t *testing.T, kind string) []ledger.Entry {
	t.Helper()
	var es []ledger.Entry
	err := e.db.View(context.Background(), func(tx *store.Tx) error {
		var err error
		es, err = tx.ListEntries(context.Background(), ledger.EntryFilter{Kind: kind})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func ev(at time.Time, kind, user, addr, msg string) events.Event {
	return events.Event{At: at, Kind: kind, User: user, Address: addr, Program: "sshd", Message: msg}
}

func batch(host string, es ...events.Event) events.Batch {
	return events.Batch{Version: 1, HostID: host, Events: es}
}

// Events are stored and found by every filter; each batch is one
// events.batch entry whose hash is the batch's, and verify passes.
func TestIngestAndSearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		t0 := e.c.Now().Add(-time.Hour)
		b1 := batch("web-1",
			ev(t0, events.SSHAccepted, "ann", "192.0.2.1", "Accepted publickey for ann from 192.0.2.1 port 50000 ssh2"),
			ev(t0.Add(time.Minute), events.Sudo, "ann", "", "ann : TTY=pts/0 ; PWD=/home/ann ; USER=root ; COMMAND=/usr/bin/id"),
			ev(t0.Add(2*time.Minute), events.SSHFailed, "bob", "198.51.100.4", "Failed password for bob from 198.51.100.4 port 4711 ssh2"))
		b2 := batch("db-1", ev(t0.Add(3*time.Minute), events.AccountUser, "carl", "", "new user: name=carl, UID=1001"))
		st1, st2 := e.ingest(t, b1), e.ingest(t, b2)
		if st1.Events != 3 || st1.SHA256 != events.Hash("web-1", 0, b1.Events) {
			t.Fatalf("batch 1: %+v", st1)
		}
		cases := []struct {
			name string
			f    events.Filter
			want int
		}{
			{"all", events.Filter{}, 4},
			{"host", events.Filter{Host: "web-1"}, 3},
			{"kind", events.Filter{Kind: events.Sudo}, 1},
			{"user", events.Filter{User: "ann"}, 2},
			{"address", events.Filter{Address: "198.51.100.4"}, 1},
			{"since", events.Filter{Since: t0.Add(time.Minute)}, 3},
			{"until", events.Filter{Until: t0.Add(time.Minute)}, 1},
			{"host and kind", events.Filter{Host: "db-1", Kind: events.SSHFailed}, 0},
		}
		for _, tc := range cases {
			got, err := e.svc.Search(t.Context(), tc.f)
			if err != nil || len(got) != tc.want {
				t.Errorf("%s: %d events, %v; want %d", tc.name, len(got), err, tc.want)
			}
		}
		all, _ := e.svc.Search(t.Context(), events.Filter{})
		if all[0].User != "carl" || all[0].BatchID != st2.ID || !all[3].At.Equal(t0) {
			t.Errorf("not newest first with their batch: %+v", all)
		}
		if _, err := e.svc.Search(t.Context(), events.Filter{Kind: "nonsense"}); opsguard.ErrorCode(err) != opsguard.EInvalid {
			t.Errorf("unknown kind: %v", err)
		}
		ents := e.entries(t, "events.batch")
		if len(ents) != 2 {
			t.Fatalf("%d events.batch entries for 2 batches of 4 events", len(ents))
		}
		var p struct{ SHA256, Batch string }
		json.Unmarshal(ents[1].Payload, &p) // newest first
		if p.SHA256 != st1.SHA256 || p.Batch != st1.ID {
			t.Errorf("entry payload %s, batch %s %s", ents[1].Payload, st1.ID, st1.SHA256)
		}
		if rep := e.verify(t); !rep.OK() {
			t.Fatalf("verify: %q", rep.Problems)
		}
		storetest.Exec(t, db, "UPDATE events SET user_name = 'mallory' WHERE user_name = 'carl'")
		if rep := e.verify(t); rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "table events") {
			t.Errorf("an edited event not found: %q", rep.Problems)
		}
	})
}

// A burst of failed sign-ins from one address raises exactly one alert,
// however long it goes on; another address below the threshold none; a
// new burst after a quiet window one more. Each root sign-in raises one.
func TestFailedSignInBurst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		fail := func(addr string) events.Event {
			return ev(e.c.Now(), events.SSHFailed, "root", addr, "Failed password for root from "+addr+" port 22 ssh2")
		}
		for i := range 12 { // 24 failures over 6 minutes, two a batch
			e.c.Add(30 * time.Second)
			b := batch("web-1", fail("203.0.113.9"), fail("203.0.113.9"))
			if i%4 == 0 {
				b.Events = append(b.Events, fail("192.0.2.50"))
			}
			e.ingest(t, b)
		}
		if n := e.n.count("events.failed_sign_ins"); n != 1 {
			t.Fatalf("%d alerts for one burst (and 3 failures of another address), want 1", n)
		}
		if e.n.subj[0] != "address/203.0.113.9" {
			t.Errorf("alerted %v", e.n.subj)
		}
		e.c.Add(30 * time.Minute) // quiet
		for range 5 {
			e.c.Add(10 * time.Second)
			e.ingest(t, batch("web-1", fail("203.0.113.9")))
		}
		if n := e.n.count("events.failed_sign_ins"); n != 2 {
			t.Fatalf("%d alerts after a second burst, want 2", n)
		}
		e.ingest(t, batch("web-1", ev(e.c.Now(), events.SSHAccepted, "root", "192.0.2.1", "Accepted password for root from 192.0.2.1 port 1 ssh2"),
			events.Event{At: e.c.Now(), Kind: events.Login, User: "root", Program: "login", Message: "ROOT LOGIN ON tty1"},
			ev(e.c.Now(), events.SSHAccepted, "ann", "192.0.2.1", "Accepted password for ann from 192.0.2.1 port 1 ssh2")))
		if n := e.n.count("events.root_login"); n != 2 {
			t.Errorf("%d root-login alerts for two root sign-ins, want 2", n)
		}
		if rep := e.verify(t); !rep.OK() {
			t.Fatalf("verify: %q", rep.Problems)
		}
	})
}

// Retention with an injected clock: a batch older than the retention
// loses its events through the service (an events.pruned entry); its row
// and hash stay and the ledger still verifies; a younger batch is kept
// whole; LG-2 holds; a batch row deleted behind the server's back is named.
func TestRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, []events.HostInfo{{ID: "web-1", Name: "web-1", Environment: "production"}})
		old := e.ingest(t, batch("web-1", ev(e.c.Now(), events.SSHFailed, "bob", "198.51.100.4", "Failed password for bob from 198.51.100.4 port 1 ssh2"),
			ev(e.c.Now(), events.Sudo, "ann", "", "ann : COMMAND=/bin/true")))
		e.c.Add(200 * 24 * time.Hour)
		young := e.ingest(t, batch("web-1", ev(e.c.Now(), events.Sudo, "ann", "", "ann : COMMAND=/bin/false")))
		e.c.Add(165*24*time.Hour - time.Minute) // a minute short of a year after the old batch
		if r, err := e.svc.Prune(t.Context()); err != nil || r.Batches != 0 {
			t.Fatalf("pruned %+v, %v before the retention ran out", r, err)
		}
		e.c.Add(2 * time.Minute)
		r, err := e.svc.Prune(t.Context())
		if err != nil || r.Batches != 1 || r.Events != 2 {
			t.Fatalf("pruned %+v, %v; want the old batch's 2 events", r, err)
		}
		left, _ := e.svc.Search(t.Context(), events.Filter{})
		if len(left) != 1 || left[0].BatchID != young.ID {
			t.Fatalf("left %+v; want the young batch's event", left)
		}
		if n := len(e.entries(t, "events.pruned")); n != 1 {
			t.Errorf("%d events.pruned entries", n)
		}
		if rep := e.verify(t); !rep.OK() {
			t.Fatalf("verify after retention: %q", rep.Problems)
		}
		var hashes []string
		for _, en := range e.entries(t, "events.batch") {
			var p struct{ SHA256 string }
			json.Unmarshal(en.Payload, &p)
			hashes = append(hashes, p.SHA256)
		}
		if len(hashes) != 2 || hashes[1] != old.SHA256 { // newest first
			t.Errorf("batch hashes in the ledger %v, want the pruned one's %s", hashes, old.SHA256)
		}
		if n := storetest.Exec(t, db, "UPDATE event_batches SET host_id = host_id WHERE id = ? AND sha256 = ? AND pruned_at IS NOT NULL", old.ID, old.SHA256); n != 1 {
			t.Errorf("the pruned batch's row with its hash: %d rows", n)
		}
		out := evaluate(t, e.svc, "LG-2")
		if out.Status != control.Pass {
			t.Errorf("LG-2: %s %s", out.Status, out.Summary)
		}
		storetest.Exec(t, db, "DELETE FROM event_batches WHERE id = ?", old.ID)
		if rep := e.verify(t); rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "table event_batches: row "+old.ID) {
			t.Errorf("a deleted batch row not named: %q", rep.Problems)
		}
	})
}

func evaluate(t *testing.T, s *events.Service, req string) control.Outcome {
	t.Helper()
	for _, c := range s.Controls() {
		if c.Requirement == req {
			out, err := c.Evaluate(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatalf("no control for %s", req)
	return control.Outcome{}
}

// LG-1: a production host that shipped nothing within the interval fails
// the control, a heartbeat batch of no events makes it pass.
func TestLG1(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, []events.HostInfo{{ID: "m-1", Name: "web-1", Environment: "production"}, {ID: "m-2", Name: "dev-1", Environment: "dev"}})
		if out := evaluate(t, e.svc, "LG-1"); out.Status != control.Fail || !strings.Contains(out.Summary, "web-1: never shipped") {
			t.Errorf("before any batch: %s %s", out.Status, out.Summary)
		}
		e.ingest(t, events.Batch{Version: 1, HostID: "m-1"})
		if out := evaluate(t, e.svc, "LG-1"); out.Status != control.Pass {
			t.Errorf("after a heartbeat: %s %s", out.Status, out.Summary)
		}
		e.c.Add(2 * time.Hour)
		if out := evaluate(t, e.svc, "LG-1"); out.Status != control.Fail {
			t.Errorf("silent two hours: %s %s", out.Status, out.Summary)
		}
	})
}

// A malformed or oversized batch is refused with where and why, and
// nothing of it is stored; batches before and after are whole.
func TestBadBatch(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	good := `{"version":1,"host_id":"web-1","events":[{"host":"web-1","at":"2026-03-02T09:00:00Z","kind":"ssh.failed","message":"x"}]}`
	cases := []struct{ name, body, want string }{
		{"not JSON", `{"version":1,`, "batch:"},
		{"unknown field", `{"version":1,"host_id":"h","evil":1}`, `unknown field "evil"`},
		{"wrong type", `{"version":1,"host_id":"h","malformed":"many"}`, "field malformed"},
		{"version", `{"version":2,"host_id":"h"}`, "version 2"},
		{"bad kind", strings.Replace(good, "ssh.failed", "ssh.maybe", 1), "events[0].kind"},
		{"future", strings.Replace(good, "2026-03-02T09", "2026-03-03T09", 1), "events[0].at"},
		{"no time", strings.Replace(good, `"at":"2026-03-02T09:00:00Z",`, "", 1), "events[0].at"},
		{"server's id", strings.Replace(good, `"host":"web-1"`, `"host":"web-1","id":"evt_1"`, 1), "events[0].id"},
		{"bad address", strings.Replace(good, `"message":"x"`, `"message":"x","address":"a b"`, 1), "events[0].address"},
		{"NUL", strings.Replace(good, `"message":"x"`, `"message":"x\u0000"`, 1), "events[0].message"},
		{"trailing", good + "{}", "trailing data"},
		{"oversized", `{"version":1,"host_id":"h","events":[],"pad":"` + strings.Repeat("x", events.MaxBatchBytes) + `"}`, "larger than"},
		{"too many", `{"version":1,"host_id":"h","events":[` + strings.TrimSuffix(strings.Repeat(`{"at":"2026-03-02T09:00:00Z","kind":"syslog","message":""},`, events.MaxBatchEvents+1), ",") + `]}`, "at most 2000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.ParseBatch([]byte(tc.body), now)
			if opsguard.ErrorCode(err) != opsguard.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want invalid naming %q", err, tc.want)
			}
		})
	}
	if _, err := events.ParseBatch([]byte(good), now); err != nil {
		t.Fatalf("the good batch: %v", err)
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		e.ingest(t, batch("web-1", ev(e.c.Now(), events.Sudo, "ann", "", "ok")))
		bad := batch("web-1", ev(e.c.Now(), events.Sudo, "ann", "", "ok"), ev(e.c.Now(), "nope", "", "", "bad"))
		_, err := e.svc.Ingest(t.Context(), events.Sender{Actor: "a", Source: events.SourceAgent}, bad)
		var oe *opsguard.Error
		if !errors.As(err, &oe) || oe.Code != opsguard.EInvalid || !strings.Contains(err.Error(), "events[1].kind") {
			t.Fatalf("a batch with one bad event: %v", err)
		}
		e.ingest(t, batch("web-1", ev(e.c.Now(), events.Sudo, "bob", "", "ok")))
		all, _ := e.svc.Search(t.Context(), events.Filter{})
		if len(all) != 2 || len(e.entries(t, "events.batch")) != 2 {
			t.Errorf("%d events stored, want the 2 of the good batches and none of the bad", len(all))
		}
	})
}

func storeOf(e *env) events.Store { return store.Bind[events.Tx](e.db) }
