package auth

import (
	"sync"
	"time"
)

// limiter counts failed sign-ins per key (a user name, a client address)
// in a sliding window. It lives in memory: each replica limits on its own,
// which bounds guessing per replica; every failure is in the ledger anyway.
type limiter struct {
	max    int
	window time.Duration

	mu       sync.Mutex
	failures map[string][]time.Time
	refused  map[string]time.Time // first refusal in the current window
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, failures: map[string][]time.Time{}, refused: map[string]time.Time{}}
}

func (l *limiter) recent(now time.Time, key string) []time.Time {
	ts := l.failures[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.failures, key)
	} else {
		l.failures[key] = ts
	}
	return ts
}

// allow reports whether every key is under the limit.
func (l *limiter) allow(now time.Time, keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if len(l.recent(now, k)) >= l.max {
			return false
		}
	}
	return true
}

// sweepAt is the number of keys past which a failure sweeps out stale
// ones, so that guessing many user names cannot grow the maps without bound.
const sweepAt = 10000

func (l *limiter) fail(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures)+len(l.refused) > sweepAt {
		for k := range l.failures {
			l.recent(now, k)
		}
		for k, t := range l.refused {
			if now.Sub(t) >= l.window {
				delete(l.refused, k)
			}
		}
	}
	for _, k := range keys {
		l.failures[k] = append(l.recent(now, k), now)
	}
}

// firstRefusal reports whether none of keys was refused yet in the window,
// and marks them all, so that a flood of refused attempts is ledgered once.
func (l *limiter) firstRefusal(now time.Time, keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := true
	for _, k := range keys {
		if t, ok := l.refused[k]; ok && now.Sub(t) < l.window {
			first = false
		}
		l.refused[k] = now
	}
	return first
}

func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
	delete(l.refused, key)
}
