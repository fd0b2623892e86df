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

// Status is where a delivery stands in the outbox.
type Status string

// The states of a delivery: pending until a channel accepts it (sent) or
// the dispatcher gives up on it (dead).
const (
	Pending Status = "pending"
	Sent    Status = "sent"
	Dead    Status = "dead"
)

// ParseStatus checks a status named by a caller (a query parameter).
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case Pending, Sent, Dead:
		return st, nil
	}
	return "", fmt.Errorf("unknown notification status %q (want pending, sent or dead)", s)
}

// Delivery is one message bound for one channel: a row of the outbox. Each
// channel of a message is retried on its own, so a dead webhook neither
// delays the e-mail nor has it sent twice.
type Delivery struct {
	ID            string    `json:"id"`
	Message       Message   `json:"message"`
	Channel       string    `json:"channel"`
	Status        Status    `json:"status"`
	Attempts      int       `json:"attempts"`
	CreatedAt     time.Time `json:"created_at"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	// DoneAt is when it was sent or declared dead.
	DoneAt    *time.Time `json:"done_at,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// Queue is the durable outbox the dispatcher works from; the app wires it
// to the database and the ledger.
type Queue interface {
	// Claim leases up to limit pending deliveries due at now, so that no
	// other dispatcher (another replica) takes them before the lease ends.
	Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// Record stores attempt a and the new state of d (its status, next
	// attempt, error) together, ledgered, and ends the lease.
	Record(ctx context.Context, d Delivery, a Attempt) error
}

// Options tune a Dispatcher. Zero values take the defaults.
type Options struct {
	InitialBackoff time.Duration // wait after the first failure, doubled after each; default 1s
	MaxBackoff     time.Duration // cap on the wait; default 15m
	// DeadAfter is how long a delivery is retried before it is declared
	// dead (notifications.dead_after_days); default 3 days.
	DeadAfter time.Duration
	// Lease is how long a claimed delivery stays with its claimer; after a
	// crash mid-send another claimer takes it then. Default 2m, well above
	// a channel's own timeout.
	Lease time.Duration
	Batch int           // deliveries claimed at once; default 16
	Poll  time.Duration // how often Run looks for due deliveries; default 2s
	Now   func() time.Time
	NewID func() string // message ids when Message.ID is empty; default NewID
	// Logger; default: discard.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 15 * time.Minute
	}
	if o.DeadAfter <= 0 {
		o.DeadAfter = 3 * 24 * time.Hour
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = NewID
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Dispatcher routes messages by kind to channels and delivers them from the
// durable outbox: it claims due deliveries, sends each once, and records
// every attempt with the delivery's next state. It is safe for concurrent
// use, and several dispatchers (replicas) may share one outbox.
type Dispatcher struct {
	channels map[string]Channel
	routes   map[string][]string
	q        Queue
	opts     Options
	wake     chan struct{}
}

// NewDispatcher returns a Dispatcher sending kind k to the channels named in
// routes[k], or in routes[DefaultRoute] when k has no route; an empty
// routes[k] silences k. It fails if a route names an unknown channel, so a
// typo in the config is caught at start rather than when the first alert
// silently goes nowhere.
func NewDispatcher(channels []Channel, routes map[string][]string, q Queue, opts Options) (*Dispatcher, error) {
	if q == nil {
		return nil, fmt.Errorf("dispatcher: a Queue is required: %w", ErrInvalidConfig)
	}
	d := &Dispatcher{channels: make(map[string]Channel, len(channels)), routes: make(map[string][]string, len(routes)),
		q: q, opts: opts.withDefaults(), wake: make(chan struct{}, 1)}
	for i, ch := range channels {
		if ch == nil || ch.Name() == "" {
			return nil, fmt.Errorf("dispatcher: channel %d has no name: %w", i, ErrInvalidConfig)
		}
		if _, dup := d.channels[ch.Name()]; dup {
			return nil, fmt.Errorf("dispatcher: channel %q defined twice: %w", ch.Name(), ErrInvalidConfig)
		}
		d.channels[ch.Name()] = ch
	}
	for kind, names := range routes {
		// Keep the key even for an empty list: it silences the kind
		// instead of sending it to the default route.
		d.routes[kind] = []string{}
		for _, name := range names {
			if _, ok := d.channels[name]; !ok {
				return nil, fmt.Errorf("dispatcher: route %q: unknown channel %q: %w", kind, name, ErrInvalidConfig)
			}
			d.routes[kind] = append(d.routes[kind], name)
		}
	}
	return d, nil
}

// Route returns the deliveries of m, one per channel routed for its kind,
// due at once; the caller writes them to the outbox in the transaction of
// the event they tell of. A kind with no route and no DefaultRoute has none.
func (d *Dispatcher) Route(m Message) []Delivery {
	names, ok := d.routes[m.Kind]
	if !ok {
		names = d.routes[DefaultRoute]
	}
	m = complete(m, d.opts.Now, d.opts.NewID)
	now := d.opts.Now().UTC()
	out := make([]Delivery, 0, len(names))
	for _, name := range names {
		out = append(out, Delivery{ID: "dlv_" + NewID(), Message: m, Channel: name, Status: Pending, CreatedAt: now, NextAttemptAt: now})
	}
	return out
}

// Wake makes Run look for due deliveries now rather than at its next poll
// (the app calls it when an outbox write commits).
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers due deliveries until ctx ends, looking every Poll and
// whenever woken.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.opts.Poll)
	defer t.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.opts.Logger.Error("deliver notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// RunOnce claims the deliveries due now and sends each once, concurrently,
// and returns how many it attempted. Failed deliveries are rescheduled with
// exponential backoff, or declared dead once DeadAfter has passed since
// they were written or the channel refused them for good.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	ds, err := d.q.Claim(ctx, d.opts.Now().UTC(), d.opts.Lease, d.opts.Batch)
	if err != nil {
		return 0, fmt.Errorf("claim notifications: %w", err)
	}
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, dl := range ds {
		wg.Go(func() { errs[i] = d.deliver(ctx, dl) })
	}
	wg.Wait()
	return len(ds), errors.Join(errs...)
}

// deliver sends dl once and records the attempt and the next state.
func (d *Dispatcher) deliver(ctx context.Context, dl Delivery) error {
	log := d.opts.Logger.With("message_id", dl.Message.ID, "kind", dl.Message.Kind, "channel", dl.Channel)
	at := d.opts.Now().UTC()
	err := fmt.Errorf("channel %q is no longer configured: %w", dl.Channel, ErrPermanent)
	if ch, ok := d.channels[dl.Channel]; ok {
		err = ch.Send(ctx, dl.Message)
	}
	dl.Attempts++
	a := Attempt{MessageID: dl.Message.ID, Kind: dl.Message.Kind, Channel: dl.Channel, Number: dl.Attempts, Time: at, OK: err == nil}
	d.next(&dl, at, err)
	if err != nil {
		a.Error = err.Error()
		log.Warn("notification attempt failed", "attempt", dl.Attempts, "status", dl.Status, "err", err)
	} else {
		log.Info("notification delivered", "attempt", dl.Attempts)
	}
	// Record even when ctx is cancelled: the attempt happened.
	if rerr := d.q.Record(context.WithoutCancel(ctx), dl, a); rerr != nil {
		// The message may have gone out; the caller must still learn that
		// its audit trail has a hole. The lease ends and it goes again:
		// receivers drop the duplicate by its delivery id.
		return fmt.Errorf("record attempt %d of message %s via %s: %w", a.Number, dl.Message.ID, dl.Channel, rerr)
	}
	return nil
}

// next sets the state of dl after an attempt at time at that ended in err.
func (d *Dispatcher) next(dl *Delivery, at time.Time, err error) {
	if err == nil {
		dl.Status, dl.DoneAt, dl.LastError = Sent, &at, ""
		return
	}
	dl.LastError = err.Error()
	retry := at.Add(d.backoff(dl.Attempts))
	if errors.Is(err, ErrPermanent) || retry.Sub(dl.CreatedAt) > d.opts.DeadAfter {
		dl.Status, dl.DoneAt = Dead, &at
		return
	}
	dl.NextAttemptAt = retry
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
