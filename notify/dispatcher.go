package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultRoute is the route key for kinds without a route of their own.
const DefaultRoute = "*"

// Options tune a Dispatcher. Zero values take the defaults.
type Options struct {
	MaxAttempts    int           // per channel; default 5
	InitialBackoff time.Duration // wait after the first failure, doubled after each; default 1s
	MaxBackoff     time.Duration // cap on the wait; default 5m
	Now            func() time.Time
	// Sleep waits d or until ctx is done; tests inject one that returns at
	// once. Default: a timer honoring ctx.
	Sleep  func(ctx context.Context, d time.Duration) error
	NewID  func() string // message ids when Message.ID is empty; default NewID
	Logger *slog.Logger  // default: discard
}

func (o Options) withDefaults() Options {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.NewID == nil {
		o.NewID = NewID
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Dispatcher routes messages by kind to channels and retries each channel
// with exponential backoff. It is safe for concurrent use.
type Dispatcher struct {
	routes map[string][]Channel
	rec    Recorder
	opts   Options
}

// NewDispatcher returns a Dispatcher sending kind k to the channels named in
// routes[k], or in routes[DefaultRoute] when k has no route; an empty
// routes[k] silences k. It fails if a route names an unknown channel, so a
// typo in the config is caught at start rather than when the first alert
// silently goes nowhere.
func NewDispatcher(channels []Channel, routes map[string][]string, rec Recorder, opts Options) (*Dispatcher, error) {
	if rec == nil {
		return nil, fmt.Errorf("dispatcher: a Recorder is required: %w", ErrInvalidConfig)
	}
	byName := make(map[string]Channel, len(channels))
	for i, ch := range channels {
		if ch == nil || ch.Name() == "" {
			return nil, fmt.Errorf("dispatcher: channel %d has no name: %w", i, ErrInvalidConfig)
		}
		if _, dup := byName[ch.Name()]; dup {
			return nil, fmt.Errorf("dispatcher: channel %q defined twice: %w", ch.Name(), ErrInvalidConfig)
		}
		byName[ch.Name()] = ch
	}
	d := &Dispatcher{routes: make(map[string][]Channel, len(routes)), rec: rec, opts: opts.withDefaults()}
	for kind, names := range routes {
		// Keep the key even for an empty list: it silences the kind
		// instead of sending it to the default route.
		d.routes[kind] = make([]Channel, 0, len(names))
		for _, name := range names {
			ch, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("dispatcher: route %q: unknown channel %q: %w", kind, name, ErrInvalidConfig)
			}
			d.routes[kind] = append(d.routes[kind], ch)
		}
	}
	return d, nil
}

// Notify delivers m to every channel routed for m.Kind, retrying each
// channel independently and concurrently, so a dead webhook does not delay
// the email. It records every attempt via the Recorder and returns an error
// joining the channels that finally failed. A kind with no route and no
// DefaultRoute is a no-op.
func (d *Dispatcher) Notify(ctx context.Context, m Message) error {
	channels, ok := d.routes[m.Kind]
	if !ok {
		channels = d.routes[DefaultRoute]
	}
	m = complete(m, d.opts.Now, d.opts.NewID)
	errs := make([]error, len(channels))
	var wg sync.WaitGroup
	for i, ch := range channels {
		wg.Go(func() { errs[i] = d.deliver(ctx, ch, m) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deliver sends m through ch until it succeeds, fails permanently, runs out
// of attempts or ctx ends.
func (d *Dispatcher) deliver(ctx context.Context, ch Channel, m Message) error {
	log := d.opts.Logger.With("message_id", m.ID, "kind", m.Kind, "channel", ch.Name())
	var recErrs []error
	for n := 1; ; n++ {
		at := d.opts.Now()
		err := ch.Send(ctx, m)
		if rerr := d.record(ctx, m, ch, n, at, err); rerr != nil {
			// The message may have gone out; the caller must still learn
			// that its audit trail has a hole.
			log.Error("record notification attempt", "attempt", n, "err", rerr)
			recErrs = append(recErrs, rerr)
		}
		if err == nil {
			log.Info("notification delivered", "attempt", n)
			return errors.Join(recErrs...)
		}
		log.Warn("notification attempt failed", "attempt", n, "err", err)
		if n >= d.opts.MaxAttempts || errors.Is(err, ErrPermanent) {
			return d.giveUp(ch, n, err, recErrs)
		}
		if serr := d.opts.Sleep(ctx, d.backoff(n)); serr != nil {
			return d.giveUp(ch, n, errors.Join(err, serr), recErrs)
		}
	}
}

func (d *Dispatcher) giveUp(ch Channel, n int, err error, recErrs []error) error {
	err = fmt.Errorf("notify via %s: gave up after %d attempt(s): %w", ch.Name(), n, err)
	d.opts.Logger.Error("notification failed", "channel", ch.Name(), "attempts", n, "err", err)
	return errors.Join(append([]error{err}, recErrs...)...)
}

func (d *Dispatcher) record(ctx context.Context, m Message, ch Channel, n int, at time.Time, err error) error {
	a := Attempt{MessageID: m.ID, Kind: m.Kind, Channel: ch.Name(), Number: n, Time: at, OK: err == nil}
	if err != nil {
		a.Error = err.Error()
	}
	// Record even when ctx is cancelled: the attempt happened.
	if rerr := d.rec.RecordAttempt(context.WithoutCancel(ctx), a); rerr != nil {
		return fmt.Errorf("record attempt %d of message %s via %s: %w", n, m.ID, ch.Name(), rerr)
	}
	return nil
}

// backoff returns the wait after failed attempt n (1-based):
// InitialBackoff·2^(n-1), capped at MaxBackoff.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.opts.InitialBackoff
	for i := 1; i < n && b < d.opts.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, d.opts.MaxBackoff)
}
