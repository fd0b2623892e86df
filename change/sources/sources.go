package sources

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opsguard/opsguard/change"
)

// Options configure a provider. Only Project is required.
type Options struct {
	// BaseURL is the API base URL: https://api.github.com/ (GitHub) or
	// https://gitlab.com/api/v4 (GitLab) when empty.
	BaseURL string
	// Project is "owner/name" on GitHub, the project's path
	// ("group/sub/project") on GitLab.
	Project string
	// Token is the API token; empty for public repositories.
	Token string
	// HTTPClient defaults to a client with a one-minute timeout.
	HTTPClient *http.Client
	// Progress hears of rate-limit waits; may be nil.
	Progress change.Progress
	// Sleep waits d or until ctx ends; tests inject it to wait without
	// sleeping.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock the rate-limit resets are measured against.
	Now func() time.Time
	// MaxWait is the longest rate-limit wait accepted (default one hour);
	// a longer one fails the request, so a sync never hangs for a day.
	MaxWait time.Duration
}

// Error is a request the forge refused, explained for whoever has to fix
// it. It never holds the token.
type Error struct {
	Forge   string // "GitHub" or "GitLab"
	Status  int    // the HTTP status
	Message string
}

func (e *Error) Error() string { return e.Message }

// maxWaits bounds the rate-limit waits of one request: a forge whose reset
// keeps moving is better asked again at the next sync.
const maxWaits = 5

// withDefaults fills the options a caller left out.
func (o Options) withDefaults(baseURL string) Options {
	if o.BaseURL == "" {
		o.BaseURL = baseURL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: time.Minute}
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxWait <= 0 {
		o.MaxWait = time.Hour
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// limit is a rate limit a forge answered with: what kind, and how long it
// asks to wait.
type limit struct {
	kind string
	wait time.Duration
}

// retry calls call until it succeeds or fails other than by a rate limit
// (limited says which). A rate-limited request is resumed after the wait,
// so a long sync goes on where it stopped instead of starting over.
func (o *Options) retry(ctx context.Context, forge string, call func() error, limited func(error) (limit, bool)) error {
	for n := 0; ; n++ {
		err := call()
		if err == nil {
			return nil
		}
		l, ok := limited(err)
		if !ok {
			return err
		}
		if n == maxWaits {
			return &Error{Forge: forge, Status: http.StatusTooManyRequests,
				Message: fmt.Sprintf("%s %s still reached after %d waits: sync again later", forge, l.kind, maxWaits)}
		}
		if err := o.wait(ctx, forge, l); err != nil {
			return err
		}
	}
}

// forgeCall makes one call of a forge's client, resuming it after each
// rate limit (limited says which), and explains a refusal.
func forgeCall[T, R any](ctx context.Context, o *Options, forge string, limited func(error) (limit, bool), explain func(error) error,
	call func() (T, R, error)) (T, R, error) {
	var v T
	var resp R
	err := o.retry(ctx, forge, func() (err error) {
		v, resp, err = call()
		return err
	}, limited)
	if err != nil {
		return v, resp, explain(err)
	}
	return v, resp, nil
}

// wait sleeps out a rate limit, telling Progress how long and until when.
func (o *Options) wait(ctx context.Context, forge string, l limit) error {
	d := max(l.wait, time.Second) // a reset already past: the clocks differ a little
	d = (d + time.Second - 1).Truncate(time.Second)
	until := o.Now().Add(d).UTC().Format(time.TimeOnly)
	if d > o.MaxWait {
		return &Error{Forge: forge, Status: http.StatusTooManyRequests,
			Message: fmt.Sprintf("%s %s reached: the reset is %s away (%s UTC), longer than the %s accepted: sync again later", forge, l.kind, d, until, o.MaxWait)}
	}
	o.Progress(fmt.Sprintf("%s %s reached: waiting %s until %s UTC", forge, l.kind, d, until))
	if err := o.Sleep(ctx, d); err != nil {
		return fmt.Errorf("waiting for the %s %s: %w", forge, l.kind, err)
	}
	return nil
}

// waitFrom reads how long a rate-limited answer asks to wait: Retry-After
// in seconds, else the reset header's Unix time, else the minute both
// forges advise when they say nothing.
func waitFrom(h http.Header, resetHeader string, now time.Time) time.Duration {
	if s, err := strconv.ParseInt(h.Get("Retry-After"), 10, 64); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := strconv.ParseInt(h.Get(resetHeader), 10, 64); err == nil && t > 0 {
		return time.Unix(t, 0).Sub(now)
	}
	return time.Minute
}

// redact removes the token from a message, should a forge or a transport
// ever echo it.
func redact(msg, token string) string {
	if len(token) < 4 {
		return msg
	}
	return strings.ReplaceAll(msg, token, "[token]")
}

// asError explains an error no status describes (the network, a context).
func asError(forge, token string, err error) error {
	var fe *Error
	if errors.As(err, &fe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &Error{Forge: forge, Message: redact(fmt.Sprintf("%s API: %v", forge, err), token)}
}

// conclusion maps a commit status or pipeline state to a check
// conclusion; states it does not know pass through unchanged and so never
// count as passed.
func conclusion(state string) string {
	switch state {
	case "success":
		return "success"
	case "failure", "failed", "error":
		return "failure"
	case "canceled", "canceling", "cancelled":
		return "cancelled"
	case "skipped":
		return "skipped"
	case "pending", "running", "created", "preparing", "scheduled", "waiting_for_resource", "waiting_for_callback", "queued", "in_progress":
		return "pending"
	case "manual":
		return "action_required"
	}
	return state
}

// trimBranch accepts "main" and "refs/heads/main" alike.
func trimBranch(b string) string { return strings.TrimPrefix(b, "refs/heads/") }
