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

func TestNotifyRoutes(t *testing.T) {
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
			rec := &recorder{}
			opts := testOptions(&sleeper{})
			opts.NewID = func() string { return "id-1" }
			d, err := notify.NewDispatcher([]notify.Channel{chans["hook"], chans["mail"]}, tc.routes, rec, opts)
			if err != nil {
				t.Fatal(err)
			}
			m := notify.Message{Kind: tc.kind, Subject: "finding/1", Summary: "s"}
			if err := d.Notify(t.Context(), m); err != nil {
				t.Fatalf("Notify: %v", err)
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
			rec.mu.Lock()
			n := len(rec.attempts)
			rec.mu.Unlock()
			if n != len(tc.want) {
				t.Errorf("recorded %d attempts, want %d", n, len(tc.want))
			}
		})
	}
}

func TestNotifyRetriesChannelsIndependently(t *testing.T) {
	t.Parallel()
	ok := &stubChannel{name: "ok"}
	flaky := &stubChannel{name: "flaky", fails: 2}
	dead := &stubChannel{name: "dead", fails: 100}
	rec := &recorder{}
	opts := testOptions(&sleeper{})
	opts.MaxAttempts = 3
	d, err := notify.NewDispatcher([]notify.Channel{ok, flaky, dead},
		map[string][]string{"*": {"ok", "flaky", "dead"}}, rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Notify(t.Context(), testMessage())
	if err == nil || !strings.Contains(err.Error(), "dead") || strings.Contains(err.Error(), "flaky") {
		t.Errorf("Notify error = %v, want one naming only the dead channel", err)
	}
	for _, tc := range []struct {
		name   string
		sends  int
		wantOK []bool
	}{
		{"ok", 1, []bool{true}},
		{"flaky", 3, []bool{false, false, true}},
		{"dead", 3, []bool{false, false, false}},
	} {
		var gotOK []bool
		for i, a := range rec.forChannel(tc.name) {
			if a.Number != i+1 {
				t.Errorf("%s attempt %d numbered %d", tc.name, i+1, a.Number)
			}
			gotOK = append(gotOK, a.OK)
		}
		if !slices.Equal(gotOK, tc.wantOK) {
			t.Errorf("%s attempts OK = %v, want %v", tc.name, gotOK, tc.wantOK)
		}
	}
}

func TestNotifyBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		maxAttempts int
		initial     time.Duration
		max         time.Duration
		want        []time.Duration
	}{
		{"defaults: 5 attempts from 1s", 0, 0, 0, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"capped", 6, time.Second, 3 * time.Second, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second}},
		{"default cap of 5m", 4, 2 * time.Minute, 0, []time.Duration{2 * time.Minute, 4 * time.Minute, 5 * time.Minute}},
		{"one attempt never waits", 1, time.Second, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sl, rec := &sleeper{}, &recorder{}
			opts := testOptions(sl)
			opts.MaxAttempts, opts.InitialBackoff, opts.MaxBackoff = tc.maxAttempts, tc.initial, tc.max
			d, err := notify.NewDispatcher([]notify.Channel{&stubChannel{name: "dead", fails: 100}},
				map[string][]string{"*": {"dead"}}, rec, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Notify(t.Context(), testMessage()); err == nil {
				t.Error("Notify succeeded through a dead channel")
			}
			if got := sl.got(); !slices.Equal(got, tc.want) {
				t.Errorf("backoffs = %v, want %v", got, tc.want)
			}
			if n := len(rec.forChannel("dead")); n != len(tc.want)+1 {
				t.Errorf("recorded %d attempts, want %d", n, len(tc.want)+1)
			}
		})
	}
}

func TestNotifyStopsOnPermanentError(t *testing.T) {
	t.Parallel()
	ch := &stubChannel{name: "hook", fails: 100, err: fmt.Errorf("status 400: %w", notify.ErrPermanent)}
	rec := &recorder{}
	d, err := notify.NewDispatcher([]notify.Channel{ch}, map[string][]string{"*": {"hook"}}, rec, testOptions(&sleeper{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Notify(t.Context(), testMessage()); !errors.Is(err, notify.ErrPermanent) {
		t.Errorf("Notify error = %v, want ErrPermanent", err)
	}
	if n := len(ch.sent()); n != 1 {
		t.Errorf("sent %d times, want 1", n)
	}
}

func TestNotifyHonorsCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	ch := &cancellingChannel{cancel: cancel}
	rec := &recorder{}
	// The default Sleep with an hour of backoff: only ctx can end it.
	opts := notify.Options{Now: fixedNow, InitialBackoff: time.Hour}
	d, err := notify.NewDispatcher([]notify.Channel{ch}, map[string][]string{"*": {"c"}}, rec, opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Notify(ctx, testMessage()) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Notify error = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Notify kept sleeping after its context was cancelled")
	}
	if a := rec.forChannel("c"); len(a) != 1 || a[0].OK {
		t.Errorf("attempts = %+v, want one failure", a)
	}
}

// cancellingChannel fails and cancels its caller's context, as a shutdown
// arriving mid-delivery would.
type cancellingChannel struct{ cancel context.CancelFunc }

func (c *cancellingChannel) Name() string { return "c" }
func (c *cancellingChannel) Send(context.Context, notify.Message) error {
	c.cancel()
	return errors.New("down")
}

func TestNotifyReportsRecorderFailure(t *testing.T) {
	t.Parallel()
	ledgerDown := errors.New("ledger unavailable")
	rec := &recorder{err: ledgerDown}
	ch := &stubChannel{name: "hook"}
	d, err := notify.NewDispatcher([]notify.Channel{ch}, map[string][]string{"*": {"hook"}}, rec, testOptions(&sleeper{}))
	if err != nil {
		t.Fatal(err)
	}
	// Delivered, but the audit trail has a hole: the caller must hear of it.
	if err := d.Notify(t.Context(), testMessage()); !errors.Is(err, ledgerDown) {
		t.Errorf("Notify error = %v, want the recorder's error", err)
	}
	if n := len(ch.sent()); n != 1 {
		t.Errorf("sent %d times, want 1 (a recorder failure is no reason to resend)", n)
	}
}

func TestNewDispatcherValidates(t *testing.T) {
	t.Parallel()
	hook := &stubChannel{name: "hook"}
	tests := []struct {
		name     string
		channels []notify.Channel
		routes   map[string][]string
		rec      notify.Recorder
		wantIn   string // expected in the error; "" means valid
	}{
		{"valid", []notify.Channel{hook}, map[string][]string{"*": {"hook"}}, &recorder{}, ""},
		{"unknown channel", []notify.Channel{hook}, map[string][]string{"vuln.sla_breached": {"hook", "pager"}}, &recorder{}, `unknown channel "pager"`},
		{"duplicate channel", []notify.Channel{hook, &stubChannel{name: "hook"}}, nil, &recorder{}, `"hook" defined twice`},
		{"unnamed channel", []notify.Channel{&stubChannel{}}, nil, &recorder{}, "no name"},
		{"nil channel", []notify.Channel{nil}, nil, &recorder{}, "no name"},
		{"no recorder", []notify.Channel{hook}, nil, nil, "Recorder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := notify.NewDispatcher(tc.channels, tc.routes, tc.rec, notify.Options{})
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
