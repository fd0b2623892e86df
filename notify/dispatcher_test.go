package notify_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard/notify"
)

// stubChannel is a channel that fails its first `fails` sends. Routing and
// retry logic do not depend on the network; the webhook and email tests
// cover real delivery.
type stubChannel struct {
	name  string
	fails int
	err   error // returned while failing; default a transient error
	mu    sync.Mutex
	got   []notify.Message
}

func (c *stubChannel) Name() string { return c.name }

func (c *stubChannel) Send(_ context.Context, m notify.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, m)
	if len(c.got) <= c.fails {
		if c.err != nil {
			return c.err
		}
		return fmt.Errorf("%s: temporarily down", c.name)
	}
	return nil
}

func (c *stubChannel) sent() []notify.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	withDefault := map[string][]string{
		"vuln.sla_breached": {"hook", "mail"},
		"*":                 {"hook"},
	}
	noDefault := map[string][]string{"vuln.sla_breached": {"hook", "mail"}}
	tests := []struct {
		name   string
		routes map[string][]string
		kind   string
		want   []string // channels that must receive the message
	}{
		{"own route", withDefault, "vuln.sla_breached", []string{"hook", "mail"}},
		{"falls back to *", withDefault, "ledger.verify_failed", []string{"hook"}},
		{"no route and no default", noDefault, "ledger.verify_failed", nil},
		{"empty route silences a kind", map[string][]string{"backup.ok": {}, "*": {"hook"}}, "backup.ok", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chans := map[string]*stubChannel{"hook": {name: "hook"}, "mail": {name: "mail"}}
			h := newHarness(t, []notify.Channel{chans["hook"], chans["mail"]}, tc.routes, notify.Options{NewID: func() string { return "id-1" }})
			m := notify.Message{Kind: tc.kind, Subject: "finding/1", Summary: "s"}
			if err := h.notify(t.Context(), m); err != nil {
				t.Fatalf("notify: %v", err)
			}
			if n := len(h.q.deliveries()); n != len(tc.want) {
				t.Errorf("routed %d deliveries, want %d", n, len(tc.want))
			}
			for name, ch := range chans {
				got := ch.sent()
				if slices.Contains(tc.want, name) != (len(got) == 1) {
					t.Errorf("channel %s got %d messages, want it routed: %v", name, len(got), slices.Contains(tc.want, name))
				}
				// Every channel sees the same id and time, filled in once.
				for _, g := range got {
					if g.ID != "id-1" || !g.Time.Equal(fixedTime) || g.Kind != tc.kind {
						t.Errorf("channel %s got %+v, want id-1 at %v", name, g, fixedTime)
					}
				}
			}
			if n := len(h.q.attempts); n != len(tc.want) {
				t.Errorf("recorded %d attempts, want %d", n, len(tc.want))
			}
		})
	}
}

func TestRetriesChannelsIndependently(t *testing.T) {
	t.Parallel()
	ok := &stubChannel{name: "ok"}
	flaky := &stubChannel{name: "flaky", fails: 2}
	dead := &stubChannel{name: "dead", fails: 100}
	h := newHarness(t, []notify.Channel{ok, flaky, dead}, map[string][]string{"*": {"ok", "flaky", "dead"}},
		notify.Options{DeadAfter: 5 * time.Second}) // attempts at 0, 1s, 3s; the next, at 7s, is too late
	err := h.notify(t.Context(), testMessage())
	if err == nil || !strings.Contains(err.Error(), "dead") || strings.Contains(err.Error(), "flaky") {
		t.Errorf("notify error = %v, want one naming only the dead channel", err)
	}
	for _, tc := range []struct {
		name   string
		wantOK []bool
		status notify.Status
	}{
		{"ok", []bool{true}, notify.Sent},
		{"flaky", []bool{false, false, true}, notify.Sent},
		{"dead", []bool{false, false, false}, notify.Dead},
	} {
		var gotOK []bool
		for i, a := range h.q.forChannel(tc.name) {
			if a.Number != i+1 {
				t.Errorf("%s attempt %d numbered %d", tc.name, i+1, a.Number)
			}
			gotOK = append(gotOK, a.OK)
		}
		if !slices.Equal(gotOK, tc.wantOK) {
			t.Errorf("%s attempts OK = %v, want %v", tc.name, gotOK, tc.wantOK)
		}
		for _, d := range h.q.deliveries() {
			if d.Channel == tc.name && (d.Status != tc.status || d.DoneAt == nil) {
				t.Errorf("%s delivery = %+v, want %s", tc.name, d, tc.status)
			}
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		deadAfter time.Duration
		initial   time.Duration
		max       time.Duration
		want      []time.Duration
	}{
		{"doubles from 1s", 20 * time.Second, 0, 0, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"capped", 12 * time.Second, time.Second, 3 * time.Second, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second}},
		{"default cap of 15m", time.Hour, 4 * time.Minute, 0, []time.Duration{4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute}},
		{"dead before the first retry", time.Second / 2, time.Second, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, []notify.Channel{&stubChannel{name: "dead", fails: 1000}}, map[string][]string{"*": {"dead"}},
				notify.Options{DeadAfter: tc.deadAfter, InitialBackoff: tc.initial, MaxBackoff: tc.max})
			if err := h.notify(t.Context(), testMessage()); err == nil {
				t.Error("notify succeeded through a dead channel")
			}
			if !slices.Equal(h.waits, tc.want) {
				t.Errorf("backoffs = %v, want %v", h.waits, tc.want)
			}
			if n := len(h.q.forChannel("dead")); n != len(tc.want)+1 {
				t.Errorf("recorded %d attempts, want %d", n, len(tc.want)+1)
			}
		})
	}
}

func TestStopsOnPermanentError(t *testing.T) {
	t.Parallel()
	ch := &stubChannel{name: "hook", fails: 100, err: fmt.Errorf("status 400: %w", notify.ErrPermanent)}
	h := newHarness(t, []notify.Channel{ch}, map[string][]string{"*": {"hook"}}, notify.Options{})
	if err := h.notify(t.Context(), testMessage()); err == nil || !strings.Contains(err.Error(), "status 400") {
		t.Errorf("notify error = %v, want the permanent failure", err)
	}
	if n := len(ch.sent()); n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
	if d := h.q.deliveries()[0]; d.Status != notify.Dead {
		t.Errorf("delivery = %+v, want dead", d)
	}
}

// A delivery claimed by a dispatcher that died mid-send (its lease never
// ended by a Record) is taken again once the lease has run out, not before.
func TestLeaseOfACrashedClaimer(t *testing.T) {
	t.Parallel()
	ch := &stubChannel{name: "hook"}
	h := newHarness(t, []notify.Channel{ch}, map[string][]string{"*": {"hook"}}, notify.Options{Lease: time.Minute})
	h.q.add(h.d.Route(testMessage()))
	if ds, _ := h.q.Claim(t.Context(), fixedTime, time.Minute, 10); len(ds) != 1 {
		t.Fatalf("claimed %d", len(ds)) // the claimer crashes here
	}
	if n, _ := h.d.RunOnce(t.Context()); n != 0 {
		t.Errorf("took a delivery still leased to another claimer")
	}
	h.clock.set(fixedTime.Add(time.Minute))
	if n, err := h.d.RunOnce(t.Context()); n != 1 || err != nil || len(ch.sent()) != 1 {
		t.Errorf("after the lease: attempted %d (%v), sent %d", n, err, len(ch.sent()))
	}
}

func TestReportsRecordFailure(t *testing.T) {
	t.Parallel()
	ledgerDown := errors.New("ledger unavailable")
	ch := &stubChannel{name: "hook"}
	h := newHarness(t, []notify.Channel{ch}, map[string][]string{"*": {"hook"}}, notify.Options{})
	h.q.recordErr = ledgerDown
	h.q.add(h.d.Route(testMessage()))
	// Delivered, but the audit trail has a hole: the caller must hear of it.
	if _, err := h.d.RunOnce(t.Context()); !errors.Is(err, ledgerDown) {
		t.Errorf("RunOnce error = %v, want the queue's error", err)
	}
	if n := len(ch.sent()); n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
}

func TestNewDispatcherValidates(t *testing.T) {
	t.Parallel()
	hook := &stubChannel{name: "hook"}
	tests := []struct {
		name     string
		channels []notify.Channel
		routes   map[string][]string
		q        notify.Queue
		wantIn   string // expected in the error; "" means valid
	}{
		{"valid", []notify.Channel{hook}, map[string][]string{"*": {"hook"}}, &memQueue{}, ""},
		{"unknown channel", []notify.Channel{hook}, map[string][]string{"vuln.sla_breached": {"hook", "pager"}}, &memQueue{}, `unknown channel "pager"`},
		{"duplicate channel", []notify.Channel{hook, &stubChannel{name: "hook"}}, nil, &memQueue{}, `"hook" defined twice`},
		{"unnamed channel", []notify.Channel{&stubChannel{}}, nil, &memQueue{}, "no name"},
		{"nil channel", []notify.Channel{nil}, nil, &memQueue{}, "no name"},
		{"no queue", []notify.Channel{hook}, nil, nil, "Queue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := notify.NewDispatcher(tc.channels, tc.routes, tc.q, notify.Options{})
			if tc.wantIn == "" {
				if err != nil || d == nil {
					t.Fatalf("NewDispatcher = %v, %v", d, err)
				}
				return
			}
			if !errors.Is(err, notify.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("NewDispatcher error = %v, want ErrInvalidConfig mentioning %q", err, tc.wantIn)
			}
		})
	}
}
