package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/id"
)

// Job is one piece of periodic work.
type Job struct {
	// Name identifies the job in the record and in its lock: lower case,
	// digits and dashes, e.g. "change-sync".
	Name     string
	Interval time.Duration
	// Run does the work. Its error is recorded as the run's; a panic is
	// recorded as a failure too.
	Run func(ctx context.Context) error
}

// Outcome is how a run ended.
type Outcome string

// The outcomes of a run.
const (
	Running   Outcome = "running"   // started, not ended yet
	OK        Outcome = "ok"        // Run returned nil
	Failed    Outcome = "failed"    // Run returned an error (or panicked)
	Abandoned Outcome = "abandoned" // its replica stopped before it ended
)

// Run is the record of one run of a job.
type Run struct {
	ID        string
	Job       string
	Host      string // the replica that ran it (Options.Host)
	StartedAt time.Time
	EndedAt   *time.Time
	Outcome   Outcome
	Error     string
}

// MaxError bounds the error text a run records.
const MaxError = 2000

// Store keeps the runs and the jobs' locks.
type Store interface {
	// LastJobRuns returns the newest run of each job that has run.
	LastJobRuns(ctx context.Context) ([]Run, error)
	// LastJobRun returns the newest run of job.
	LastJobRun(ctx context.Context, job string) (Run, bool, error)
	// BeginJobRun records r (Running). The caller holds the job's lock, so
	// the job's other runs still Running have lost their replica: it marks
	// them Abandoned.
	BeginJobRun(ctx context.Context, r Run) error
	// EndJobRun records how r ended, if it is still Running, and deletes
	// the job's runs but the newest keep.
	EndJobRun(ctx context.Context, r Run, keep int) error
	// TryJobLock runs fn holding the job's lock if nobody holds it, and
	// reports whether it did.
	TryJobLock(ctx context.Context, job string, fn func(context.Context) error) (bool, error)
}

// Options tune a Scheduler. The zero value gives the defaults.
type Options struct {
	// Host names this replica in the record. Default: hostname/pid.
	Host   string
	Now    func() time.Time
	Logger *slog.Logger
	// Keep is how many runs of each job are kept. Default 100.
	Keep int
	// Retry is how soon the loop looks again at a job that another
	// replica is running, or whose record could not be read. Default 1m.
	Retry time.Duration
}

// Scheduler runs the registered jobs when they are due.
type Scheduler struct {
	store Store
	opts  Options

	mu   sync.Mutex
	jobs []Job
	busy map[string]bool // jobs running in this process
}

// New returns a scheduler keeping its record in st.
func New(st Store, opts Options) *Scheduler {
	if opts.Host == "" {
		h, _ := os.Hostname()
		opts.Host = fmt.Sprintf("%s/%d", h, os.Getpid())
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Keep <= 0 {
		opts.Keep = 100
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Minute
	}
	return &Scheduler{store: st, opts: opts, busy: map[string]bool{}}
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Register adds jobs. A name already registered, an invalid name, a
// missing Run or an interval under a second is refused.
func (s *Scheduler) Register(jobs ...Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jobs {
		switch {
		case !validName.MatchString(j.Name):
			return opsguard.Errorf(opsguard.EInvalid, "job %q: a name is 1 to 63 lower-case letters, digits and dashes", j.Name)
		case j.Run == nil:
			return opsguard.Errorf(opsguard.EInvalid, "job %s: no Run function", j.Name)
		case j.Interval < time.Second:
			return opsguard.Errorf(opsguard.EInvalid, "job %s: interval %s is under a second", j.Name, j.Interval)
		}
		for _, o := range s.jobs {
			if o.Name == j.Name {
				return opsguard.Errorf(opsguard.EConflict, "job %s is registered twice", j.Name)
			}
		}
		s.jobs = append(s.jobs, j)
	}
	return nil
}

// Jobs returns the registered jobs in the order of their names.
func (s *Scheduler) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Job(nil), s.jobs...)
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out
}

// Host is the name this replica records its runs under.
func (s *Scheduler) Host() string { return s.opts.Host }

// dueAt is when j is next due after its newest run last (nil: never ran).
// A run that never ended (Running without its lock, or Abandoned) did not
// do the work: the job is due at once.
func dueAt(j Job, last *Run, now time.Time) time.Time {
	if last == nil || last.Outcome == Running || last.Outcome == Abandoned {
		return now
	}
	return last.StartedAt.Add(j.Interval)
}

// RunDue runs, side by side, every job that is due now and that no other
// replica is running, and returns the runs it made. Jobs that fail are
// in the runs; the error reports a record that could not be read or
// written. The loop of Start calls it per job; tests call it directly,
// with a clock of their own, instead of waiting.
func (s *Scheduler) RunDue(ctx context.Context) ([]Run, error) {
	jobs := s.Jobs()
	runs := make([]*Run, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { runs[i], _, errs[i] = s.runIfDue(ctx, j) })
	}
	wg.Wait()
	var out []Run
	for _, r := range runs {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, errors.Join(errs...)
}

// runIfDue runs j if it is due and returns its run (nil when it did not
// run) and when to look at it again.
func (s *Scheduler) runIfDue(ctx context.Context, j Job) (*Run, time.Time, error) {
	retry := s.opts.Now().Add(min(s.opts.Retry, j.Interval))
	next, err := s.due(ctx, j)
	if err != nil || next.After(s.opts.Now()) {
		return nil, next, err
	}
	if !s.claim(j.Name) {
		return nil, retry, nil // running here already
	}
	defer s.unclaim(j.Name)
	var run *Run
	got, err := s.store.TryJobLock(ctx, j.Name, func(ctx context.Context) error {
		// Another replica may have run it while this one looked.
		if next, err = s.due(ctx, j); err != nil || next.After(s.opts.Now()) {
			return err
		}
		run, err = s.run(ctx, j)
		if run != nil {
			next = run.StartedAt.Add(j.Interval)
		}
		return err
	})
	if err != nil {
		return run, retry, fmt.Errorf("job %s: %w", j.Name, err)
	}
	if !got {
		return nil, retry, nil // another replica runs it
	}
	return run, next, nil
}

func (s *Scheduler) due(ctx context.Context, j Job) (time.Time, error) {
	last, ok, err := s.store.LastJobRun(ctx, j.Name)
	if err != nil {
		return s.opts.Now().Add(min(s.opts.Retry, j.Interval)), fmt.Errorf("job %s: last run: %w", j.Name, err)
	}
	if !ok {
		return dueAt(j, nil, s.opts.Now()), nil
	}
	return dueAt(j, &last, s.opts.Now()), nil
}

// run runs j once and records it; the caller holds its lock.
func (s *Scheduler) run(ctx context.Context, j Job) (*Run, error) {
	r := Run{ID: id.New("job"), Job: j.Name, Host: s.opts.Host, StartedAt: s.opts.Now().UTC(), Outcome: Running}
	if err := s.store.BeginJobRun(ctx, r); err != nil {
		return nil, fmt.Errorf("record start: %w", err)
	}
	err := call(ctx, j)
	end := s.opts.Now().UTC()
	r.EndedAt, r.Outcome = &end, OK
	switch {
	case err != nil && ctx.Err() != nil:
		// Cut short (shutdown, or the lock was lost): the work is not
		// done, so the job is due again at once, here or elsewhere.
		r.Outcome, r.Error = Abandoned, cut(fmt.Sprintf("stopped: %v (%v)", context.Cause(ctx), err), MaxError)
		s.opts.Logger.Warn("job stopped before it ended", "job", j.Name, "err", err)
	case err != nil:
		r.Outcome, r.Error = Failed, cut(err.Error(), MaxError)
		s.opts.Logger.Error("job failed", "job", j.Name, "err", err)
	}
	// Record the end even when ctx ended (shutdown): the run did end.
	if err := s.store.EndJobRun(context.WithoutCancel(ctx), r, s.opts.Keep); err != nil {
		return &r, fmt.Errorf("record end: %w", err)
	}
	return &r, nil
}

// call runs j, turning a panic into an error so that one bad job neither
// stops the scheduler nor stays Running.
func call(ctx context.Context, j Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return j.Run(ctx)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 { // not inside a UTF-8 sequence
		n--
	}
	return s[:n] + "…"
}

func (s *Scheduler) claim(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[name] {
		return false
	}
	s.busy[name] = true
	return true
}

func (s *Scheduler) unclaim(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, name)
}

// Start runs every registered job when it is due until ctx ends, each in
// a loop of its own so that a long job does not hold up the others. It
// returns when ctx has ended and the runs under way have returned.
func (s *Scheduler) Start(ctx context.Context) {
	var wg sync.WaitGroup
	for _, j := range s.Jobs() {
		wg.Go(func() { s.loop(ctx, j) })
	}
	wg.Wait()
}

func (s *Scheduler) loop(ctx context.Context, j Job) {
	for {
		_, next, err := s.runIfDue(ctx, j)
		if err != nil && ctx.Err() == nil {
			s.opts.Logger.Error("scheduler", "job", j.Name, "err", err)
		}
		// The clock may be a test's: wait at least a second, at most an
		// interval, whatever it says.
		wait := min(max(next.Sub(s.opts.Now()), time.Second), j.Interval)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
