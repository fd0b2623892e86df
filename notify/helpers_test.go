package notify_test

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/opsguard/opsguard/notify"
)

// fixedTime is the injected clock: every test runs at the same instant.
var fixedTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func fixedNow() time.Time { return fixedTime }

// recorder keeps attempts in memory; Notify calls it from several goroutines.
type recorder struct {
	mu       sync.Mutex
	attempts []notify.Attempt
	err      error // returned by every RecordAttempt when set
}

func (r *recorder) RecordAttempt(_ context.Context, a notify.Attempt) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
	return r.err
}

// forChannel returns the attempts through one channel, in order.
func (r *recorder) forChannel(name string) []notify.Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []notify.Attempt
	for _, a := range r.attempts {
		if a.Channel == name {
			out = append(out, a)
		}
	}
	return out
}

// sleeper stands in for time passing: it records the backoffs and returns
// at once (or with ctx's error, like the real one).
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.waits)
}

// testOptions are Dispatcher options that never really sleep.
func testOptions(s *sleeper) notify.Options {
	return notify.Options{Now: fixedNow, Sleep: s.Sleep}
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
