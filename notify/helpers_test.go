package notify_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard/notify"
)

// fixedTime is the injected clock: every test starts at the same instant.
var fixedTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// memQueue is an outbox in memory, standing in for the database.
type memQueue struct {
	mu        sync.Mutex
	ds        []notify.Delivery
	leased    map[string]time.Time
	attempts  []notify.Attempt
	recordErr error // returned by every Record when set
}

func (q *memQueue) add(ds []notify.Delivery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ds = append(q.ds, ds...)
}

func (q *memQueue) Claim(_ context.Context, now time.Time, lease time.Duration, limit int) ([]notify.Delivery, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.leased == nil {
		q.leased = map[string]time.Time{}
	}
	var out []notify.Delivery
	for _, d := range q.ds {
		if len(out) < limit && d.Status == notify.Pending && !d.NextAttemptAt.After(now) && !q.leased[d.ID].After(now) {
			q.leased[d.ID] = now.Add(lease)
			out = append(out, d)
		}
	}
	return out, nil
}

func (q *memQueue) Record(_ context.Context, d notify.Delivery, a notify.Attempt) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.attempts = append(q.attempts, a)
	if q.recordErr != nil {
		return q.recordErr
	}
	for i := range q.ds {
		if q.ds[i].ID == d.ID {
			q.ds[i] = d
		}
	}
	delete(q.leased, d.ID)
	return nil
}

// forChannel returns the attempts through one channel, in order.
func (q *memQueue) forChannel(name string) []notify.Attempt {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []notify.Attempt
	for _, a := range q.attempts {
		if a.Channel == name {
			out = append(out, a)
		}
	}
	return out
}

func (q *memQueue) deliveries() []notify.Delivery {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.ds)
}

// testClock is the dispatcher's injected time, moved by the harness.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// harness runs a dispatcher over a memQueue, moving its clock to each
// next attempt instead of sleeping.
type harness struct {
	d     *notify.Dispatcher
	q     *memQueue
	clock *testClock
	waits []time.Duration // the clock moves between rounds: the backoffs
}

func newHarness(t *testing.T, chans []notify.Channel, routes map[string][]string, opts notify.Options) *harness {
	t.Helper()
	h := &harness{q: &memQueue{}, clock: &testClock{t: fixedTime}}
	if opts.Now == nil {
		opts.Now = h.clock.Now
	}
	d, err := notify.NewDispatcher(chans, routes, h.q, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	return h
}

// notify queues m as a service would and runs the dispatcher until nothing
// is pending; it returns the errors of the deliveries that died.
func (h *harness) notify(ctx context.Context, m notify.Message) error {
	h.q.add(h.d.Route(m))
	var errs []error
	for range 1000 {
		if _, err := h.d.RunOnce(ctx); err != nil {
			errs = append(errs, err)
		}
		next := time.Time{}
		for _, d := range h.q.deliveries() {
			if d.Status == notify.Pending && (next.IsZero() || d.NextAttemptAt.Before(next)) {
				next = d.NextAttemptAt
			}
		}
		if next.IsZero() || ctx.Err() != nil {
			break
		}
		if now := h.clock.Now(); next.After(now) {
			h.waits = append(h.waits, next.Sub(now))
			h.clock.set(next)
		}
	}
	for _, d := range h.q.deliveries() {
		if d.Status == notify.Dead {
			errs = append(errs, errors.New(d.Channel+": "+d.LastError))
		}
	}
	return errors.Join(errs...)
}

func testMessage() notify.Message {
	return notify.Message{
		ID:      "0123456789abcdef0123456789abcdef",
		Kind:    "vuln.sla_breached",
		Subject: "finding/123",
		Summary: "CVE-2024-1234 on api is 3 days past its SLA",
		// A non-UTC zone checks that the wire time is converted to UTC.
		Time: time.Date(2025, 3, 4, 6, 6, 7, 0, time.FixedZone("CET", 3600)),
		Data: map[string]any{"cve": "CVE-2024-1234", "days_over": 3},
	}
}
