package auth

import (
	"fmt"
	"testing"
	"time"
)

// The limiter forgets keys whose window has passed, however many there are.
func TestLimiterSweepsStaleKeys(t *testing.T) {
	l := newLimiter(3, time.Minute)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < sweepAt+10; i++ {
		l.fail(t0, fmt.Sprintf("user:%d", i))
	}
	l.fail(t0.Add(2*time.Minute), "user:fresh")
	if n := len(l.failures); n != 1 {
		t.Errorf("%d keys kept, want only the fresh one", n)
	}
	for i := 0; i < 3; i++ {
		l.fail(t0.Add(2*time.Minute), "user:x")
	}
	if l.allow(t0.Add(2*time.Minute), "user:x") {
		t.Error("a key over the limit is allowed")
	}
	if !l.allow(t0.Add(4*time.Minute), "user:x") {
		t.Error("a key is still limited after its window")
	}
}
