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
	"github.com/opsguard/opsguard/host/baseline"
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
	_, err := h.Send(ctx, body)
	return err
}

// Send sends a report and returns the server's receipt (the zero receipt
// for a post to another path than FactsPath).
func (h HTTP) Send(ctx context.Context, body []byte) (host.Receipt, error) {
	var rc host.Receipt
	path := h.Path
	if path == "" {
		path = FactsPath
	}
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(h.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return rc, err
	}
	req.Header.Set("Authorization", "Bearer "+h.Token)
	req.Header.Set("Content-Type", "application/json")
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return rc, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxReceipt))
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
	case resp.StatusCode/100 == 2 && path != FactsPath:
		return rc, nil
	case resp.StatusCode/100 == 2:
		if err := json.Unmarshal(msg, &rc); err != nil {
			return rc, fmt.Errorf("receipt: %w", err)
		}
		return rc, nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		return rc, &Refused{Status: resp.StatusCode, Reason: truncate(reason, 4096)}
	}
	return rc, fmt.Errorf("server answered %s: %s", resp.Status, truncate(reason, 4096))
}

// maxReceipt bounds a receipt, which may carry a baseline document.
const maxReceipt = 2 << 20

// clean makes a string of at most n printable bytes, as the server takes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.ToValidUTF8(truncate(s, n), "")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Sender is a Poster that returns the receipt, whose baseline order the
// agent follows.
type Sender interface {
	Send(ctx context.Context, body []byte) (host.Receipt, error)
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
	// System is the host the baseline is evaluated on and the packages
	// read from at each collection; nil: neither.
	System baseline.System
}

// Agent collects and sends.
type Agent struct {
	c     Collector
	p     Poster
	q     *Queue
	opts  Options
	retry time.Duration
	// order is the baseline to evaluate, as the server last said.
	order host.Order
	doc   baseline.Document
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
	return &Agent{c: c, p: p, q: q, opts: opts, order: host.Order{Baseline: host.DefaultBaseline}, doc: baseline.Default()}
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

// Collect collects one report: the collector's facts, the packages and
// the baseline's results.
func (a *Agent) Collect(ctx context.Context) host.Report {
	r := a.c.Collect(ctx)
	a.configure(&r)
	return r
}

// Enqueue collects one report into the queue.
func (a *Agent) Enqueue(ctx context.Context) error {
	r := a.Collect(ctx)
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
		err = a.post(ctx, body)
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

// post sends a report and follows the receipt's baseline order.
func (a *Agent) post(ctx context.Context, body []byte) error {
	s, ok := a.p.(Sender)
	if !ok {
		return a.p.Post(ctx, body)
	}
	rc, err := s.Send(ctx, body)
	if err == nil && rc.Baseline != nil {
		a.follow(*rc.Baseline)
	}
	return err
}

// follow takes a new baseline to evaluate; a document that does not
// parse is logged and the current one kept.
func (a *Agent) follow(o host.Order) {
	doc := baseline.Default()
	if o.Document != "" {
		d, err := baseline.Parse(o.Baseline, []byte(o.Document))
		if err != nil {
			a.opts.Logger.Error("baseline from the server refused; the current one kept", "baseline", o.Baseline, "err", err)
			return
		}
		doc = d
	}
	if o.Baseline != a.order.Baseline {
		a.opts.Logger.Info("baseline to evaluate", "baseline", o.Baseline, "checks", len(doc.Checks))
	}
	a.order, a.doc = o, doc
}

// configure adds the installed packages and the baseline's results to a
// report; the packages are read once for both.
func (a *Agent) configure(r *host.Report) {
	if a.opts.System == nil {
		return
	}
	pkgs, err := a.opts.System.Packages()
	if err != nil {
		r.Errors = append(r.Errors, "packages: "+truncate(err.Error(), 900))
	} else {
		r.Packages = pkgs
	}
	sys := listed{System: a.opts.System, pkgs: pkgs, err: err}
	r.Baseline = &host.Evaluation{Baseline: a.order.Baseline,
		Results: baseline.Evaluate(a.doc, sys, baseline.EvalOptions{RetentionDays: a.order.RetentionDays})}
	for i := range r.Baseline.Results {
		res := &r.Baseline.Results[i]
		res.Detail = clean(res.Detail, 1000)
		for k, v := range res.Observed {
			res.Observed[k] = clean(v, 500)
		}
	}
}

// listed is a System whose packages were read already.
type listed struct {
	baseline.System
	pkgs []baseline.Package
	err  error
}

func (l listed) Packages() ([]baseline.Package, error) { return l.pkgs, l.err }

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
