package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/store/storetest"
)

// hook is a loopback webhook receiver that answers status (500 while
// down) and counts the deliveries it accepted, by message id.
type hook struct {
	srv  *httptest.Server
	down atomic.Bool
	slow time.Duration

	mu       sync.Mutex
	requests int
	got      map[string]int // accepted deliveries by X-Opsguard-Delivery
}

func newHook(t *testing.T) *hook {
	h := &hook{got: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		time.Sleep(h.slow)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.requests++
		if !notify.VerifySignature([]byte("s3cret"), b, r.Header.Get("X-Opsguard-Signature")) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if h.down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		h.got[r.Header.Get("X-Opsguard-Delivery")]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) counts() (int, map[string]int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for k, v := range h.got {
		out[k] = v
	}
	return h.requests, out
}

// hookConfig routes every kind to the webhook h.
func hookConfig(t *testing.T, dsn string, h *hook) config.Config {
	cfg := testConfig(t, dsn)
	secret := filepath.Join(t.TempDir(), "hook.secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	cfg.Notifications.Channels = []config.Channel{{Name: "ops", Type: "webhook", URL: h.srv.URL, SecretFile: secret}}
	cfg.Notifications.Routes = map[string][]string{"*": {"ops"}}
	return cfg
}

// clock is a settable time for the app under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func openWithClock(t *testing.T, cfg config.Config, c *clock) *app.App {
	t.Helper()
	opts := cheap
	opts.Now = c.Now
	a, _, err := app.Init(ctx, cfg, "admin", "correct horse battery", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func notifications(t *testing.T, a *app.App, st notify.Status) []app.Notification {
	t.Helper()
	ns, err := a.Notifications(ctx, notify.DeliveryFilter{Status: st})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// A notice is written in the transaction of its event: when that
// transaction rolls back, the outbox holds nothing and nothing is sent.
func TestOutboxRollsBackWithItsEvent(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			h := newHook(t)
			a := openWithClock(t, hookConfig(t, b.DSN(t), h), &clock{t: time.Now().UTC()})
			queue := a.Controls.OnChange
			a.Controls.OnChange = func(ctx2 context.Context, tx control.Tx, r control.Result, p control.Status) error {
				if err := queue(ctx2, tx, r, p); err != nil {
					return err
				}
				return errors.New("disk full") // after the notice was written
			}
			if _, err := a.Controls.Run(ctx, "test", "manual"); err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("run with a failing transaction: %v", err)
			}
			if ns := notifications(t, a, ""); len(ns) != 0 {
				t.Fatalf("the outbox holds %d notices of a rolled-back run: %+v", len(ns), ns)
			}
			if n, err := a.DeliverNotifications(ctx); n != 0 || err != nil {
				t.Errorf("delivered %d (%v) after a rollback", n, err)
			}
			a.Controls.OnChange = queue
			if _, err := a.Controls.Run(ctx, "test", "manual"); err != nil {
				t.Fatal(err)
			}
			ns := notifications(t, a, notify.Pending)
			if len(ns) == 0 || ns[0].Message.Kind != "control.failed" {
				t.Fatalf("after a committed run: %+v", ns)
			}
			if es, _ := a.Entries(ctx, ledger.EntryFilter{Kind: "notification.queued"}); len(es) != len(ns) {
				t.Errorf("ledgered %d queued notices, want %d", len(es), len(ns))
			}
		})
	}
}

// A notice whose webhook is down at first is retried with backoff, and
// delivered once when the webhook is up; every attempt is ledgered.
func TestOutboxRetriesUntilTheWebhookIsUp(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			h := newHook(t)
			h.down.Store(true)
			c := &clock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
			a := openWithClock(t, hookConfig(t, b.DSN(t), h), c)
			if _, err := a.Auth.CreateUser(ctx, auth.CLI("t"), auth.NewUser{Username: "bob", Email: "bob@example.com", Role: auth.Engineer, Password: "correct horse battery"}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Auth.ResetPassword(ctx, auth.CLI("t"), "bob"); err != nil {
				t.Fatal(err)
			}
			for i, wait := range []time.Duration{0, time.Second, 2 * time.Second} {
				c.Add(wait)
				if n, err := a.DeliverNotifications(ctx); n != 1 || err != nil {
					t.Fatalf("round %d: attempted %d: %v", i, n, err)
				}
			}
			// Not due yet: the next wait is 4s.
			c.Add(3 * time.Second)
			if n, _ := a.DeliverNotifications(ctx); n != 0 {
				t.Fatalf("attempted %d before the backoff ended", n)
			}
			ns := notifications(t, a, notify.Pending)
			if len(ns) != 1 || ns[0].Attempts != 3 || len(ns[0].AttemptList) != 3 || !strings.Contains(ns[0].LastError, "500") ||
				!ns[0].NextAttemptAt.Equal(c.Now().Add(time.Second)) {
				t.Fatalf("pending = %+v (now %v)", ns, c.Now())
			}
			h.down.Store(false)
			c.Add(time.Second)
			if n, err := a.DeliverNotifications(ctx); n != 1 || err != nil {
				t.Fatalf("when up: attempted %d: %v", n, err)
			}
			c.Add(time.Hour)
			if n, _ := a.DeliverNotifications(ctx); n != 0 {
				t.Errorf("a sent notice was attempted again")
			}
			id := ns[0].Message.ID
			if reqs, got := h.counts(); reqs != 4 || len(got) != 1 || got[id] != 1 {
				t.Errorf("receiver: %d requests, deliveries %v, want 4 and %s once", reqs, got, id)
			}
			sent := notifications(t, a, notify.Sent)
			if len(sent) != 1 || sent[0].Attempts != 4 || sent[0].DoneAt == nil || !sent[0].AttemptList[3].OK || sent[0].Message.To[0] != "bob@example.com" {
				t.Errorf("sent = %+v", sent)
			}
			if es, _ := a.Entries(ctx, ledger.EntryFilter{Kind: "notification.attempt", Subject: "notification/" + id}); len(es) != 4 {
				t.Errorf("ledgered %d attempts, want 4", len(es))
			}
			if rep, _ := a.VerifyLedger(ctx); !rep.OK() {
				t.Error(rep.Problems)
			}
		})
	}
}

// A notice still failing after notifications.dead_after_days is dead: no
// more attempts, and listed as such.
func TestOutboxDeadAfterDays(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			h := newHook(t)
			h.down.Store(true)
			c := &clock{t: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
			cfg := hookConfig(t, b.DSN(t), h)
			cfg.Notifications.DeadAfterDays = 2
			a := openWithClock(t, cfg, c)
			if _, err := a.Auth.ResetPassword(ctx, auth.CLI("t"), "admin"); err != nil {
				t.Fatal(err)
			}
			a.DeliverNotifications(ctx)
			c.Add(47 * time.Hour)
			a.DeliverNotifications(ctx)
			if ns := notifications(t, a, notify.Pending); len(ns) != 1 {
				t.Fatalf("before two days: %+v", ns)
			}
			c.Add(2 * time.Hour)
			a.DeliverNotifications(ctx)
			dead := notifications(t, a, notify.Dead)
			if len(dead) != 1 || dead[0].Attempts != 3 || dead[0].DoneAt == nil {
				t.Fatalf("dead = %+v", dead)
			}
			c.Add(24 * time.Hour)
			if n, _ := a.DeliverNotifications(ctx); n != 0 {
				t.Errorf("a dead notice was attempted again")
			}
			if es, _ := a.Entries(ctx, ledger.EntryFilter{Kind: "notification.dead"}); len(es) != 1 {
				t.Errorf("ledgered %d dead notices, want 1", len(es))
			}
		})
	}
}

// Two dispatchers (two replicas, or a server and a CLI) working one outbox
// side by side never send a message twice.
func TestOutboxConcurrentDispatchersSendOnce(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			h := newHook(t)
			h.slow = 5 * time.Millisecond
			c := &clock{t: time.Now().UTC()}
			cfg := hookConfig(t, b.DSN(t), h)
			a := openWithClock(t, cfg, c)
			const users = 40
			for i := range users {
				name := fmt.Sprintf("u%02d", i)
				if _, err := a.Auth.CreateUser(ctx, auth.CLI("t"), auth.NewUser{Username: name, Role: auth.Engineer, Password: "correct horse battery"}); err != nil {
					t.Fatal(err)
				}
				if _, err := a.Auth.ResetPassword(ctx, auth.CLI("t"), name); err != nil {
					t.Fatal(err)
				}
			}
			opts := cheap
			opts.Now = c.Now
			other, err := app.Open(ctx, cfg, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			var wg sync.WaitGroup
			counts := make([]int, 2)
			for i, x := range []*app.App{a, other} {
				wg.Go(func() {
					n, err := x.DeliverNotifications(ctx)
					if err != nil {
						t.Error(err)
					}
					counts[i] = n
				})
			}
			wg.Wait()
			reqs, got := h.counts()
			if reqs != users || len(got) != users || counts[0]+counts[1] != users {
				t.Errorf("%d requests for %d messages, dispatchers attempted %v; want %d each", reqs, len(got), counts, users)
			}
			for id, n := range got {
				if n != 1 {
					t.Errorf("message %s delivered %d times", id, n)
				}
			}
			t.Logf("dispatchers sent %v", counts)
		})
	}
}
