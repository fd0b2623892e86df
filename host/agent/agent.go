// Package agent is opsguard's host agent: it collects the host's facts
// every interval and posts them with its token. While the server cannot be
// reached the reports wait in a bounded queue on disk and are sent, oldest
// first, when it is back; failures back off.
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/collect"
)

// FactsPath is where the server takes reports.
const FactsPath = "/api/v1/host/facts"

// Collector produces a report.
type Collector interface {
	Collect(ctx context.Context) host.Report
}

// Poster sends one report's JSON.
type Poster interface {
	Post(ctx context.Context, body []byte) error
}

// Refused is an answer that sending again will not change (a malformed
// report): the report is dropped, with the server's reason logged.
type Refused struct {
	Status int
	Reason string
}

func (e *Refused) Error() string { return fmt.Sprintf("refused (%d): %s", e.Status, e.Reason) }

// HTTP posts to an opsguard server with a bearer token.
type HTTP struct {
	URL    string // the server's base URL
	Token  string
	Client *http.Client
	// Path is where it posts (FactsPath by default; EventsPath).
	Path string
}

// Post sends a report; nil when the server accepted it (or had it).
func (h HTTP) Post(ctx context.Context, body []byte) error {
	path := h.Path
	if path == "" {
		path = FactsPath
	}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(h.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.Token)
	req.Header.Set("Content-Type", "application/json")
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	reason := strings.TrimSpace(string(msg))
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(msg, &e) == nil && e.Error.Message != "" {
		reason = e.Error.Message
	}
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		return &Refused{Status: resp.StatusCode, Reason: reason}
	}
	return fmt.Errorf("server answered %s: %s", resp.Status, reason)
}

// Options configure an agent.
type Options struct {
	Interval time.Duration
	// MaxBackoff bounds the wait between attempts to reach the server.
	MaxBackoff time.Duration
	Logger     *slog.Logger
	// Events, when set, ships the host's security events (or a
	// heartbeat batch) at every collection through EventsPoster.
	Events       *collect.Journal
	EventsPoster Poster
}

// Agent collects and sends.
type Agent struct {
	c     Collector
	p     Poster
	q     *Queue
	opts  Options
	retry time.Duration
}

// New returns an agent.
func New(c Collector, p Poster, q *Queue, opts Options) *Agent {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Agent{c: c, p: p, q: q, opts: opts}
}

// Run collects every interval and sends until ctx ends. After a failed
// send the next attempt waits out the backoff; collections go on into the
// queue meanwhile.
func (a *Agent) Run(ctx context.Context) error {
	nextCollect, nextTry := time.Now(), time.Now()
	for {
		now := time.Now()
		if !now.Before(nextCollect) {
			if err := a.Enqueue(ctx); err != nil {
				a.opts.Logger.Error("queue a report", "err", err)
			}
			if a.opts.Events != nil {
				if n, err := ShipEvents(ctx, a.opts.Events, a.opts.EventsPoster, a.opts.Logger); err != nil {
					a.opts.Logger.Warn("security events not shipped; sent next time", "err", err)
				} else {
					a.opts.Logger.Debug("security events shipped", "events", n)
				}
			}
			nextCollect = nextCollect.Add(a.opts.Interval)
			if now.After(nextCollect) {
				nextCollect = now.Add(a.opts.Interval)
			}
		}
		if !now.Before(nextTry) {
			if err := a.Flush(ctx); err != nil {
				a.backoff()
				a.opts.Logger.Warn("server not reached; reports kept", "err", err, "retry_in", a.retry.String())
				nextTry = time.Now().Add(a.retry)
			} else {
				a.retry, nextTry = 0, nextCollect
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(earlier(nextCollect, nextTry))):
		}
	}
}

// backoff doubles the wait between failed attempts, from one second to
// MaxBackoff, with a little jitter so that many agents spread out.
func (a *Agent) backoff() {
	switch {
	case a.retry == 0:
		a.retry = time.Second
	case a.retry < a.opts.MaxBackoff:
		a.retry *= 2
	}
	a.retry = min(a.retry, a.opts.MaxBackoff)
	a.retry += time.Duration(rand.Int64N(int64(a.retry/10) + 1))
}

// Enqueue collects one report into the queue.
func (a *Agent) Enqueue(ctx context.Context) error {
	r := a.c.Collect(ctx)
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return a.q.Push(r.CollectedAt.UnixNano(), body)
}

// Flush sends the queued reports, oldest first, until one fails.
func (a *Agent) Flush(ctx context.Context) error {
	names, err := a.q.Names()
	if err != nil {
		return err
	}
	for _, n := range names {
		body, err := a.q.Read(n)
		if err != nil {
			return err
		}
		err = a.p.Post(ctx, body)
		var ref *Refused
		if errors.As(err, &ref) {
			a.opts.Logger.Error("report refused by the server; dropped", "report", n, "reason", ref.Reason)
		} else if err != nil {
			return err
		}
		if err := a.q.Remove(n); err != nil {
			return err
		}
	}
	return nil
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
