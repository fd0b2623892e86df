package jobs_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

var ctx = context.Background()

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// counter is a job that counts its runs.
type counter struct{ n atomic.Int32 }

func (c *counter) job(name string, every time.Duration) jobs.Job {
	return jobs.Job{Name: name, Interval: every, Run: func(context.Context) error { c.n.Add(1); return nil }}
}

// record stores a finished run of job started at t, as an earlier server
// would have.
func record(t *testing.T, db *store.DB, job string, at time.Time) {
	t.Helper()
	r := jobs.Run{ID: "job_" + job + at.Format("150405"), Job: job, Host: "earlier", StartedAt: at, Outcome: jobs.Running}
	if err := db.BeginJobRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	end := at.Add(time.Second)
	r.EndedAt, r.Outcome = &end, jobs.OK
	if err := db.EndJobRun(ctx, r, 100); err != nil {
		t.Fatal(err)
	}
}

func names(runs []jobs.Run) map[string]jobs.Outcome {
	out := map[string]jobs.Outcome{}
	for _, r := range runs {
		out[r.Job] = r.Outcome
	}
	return out
}

// A restarted scheduler runs at once the jobs whose last run is an
// interval old or more, and waits out the interval of those that ran
// recently: the last runs are in the store.
func TestCatchUpAtStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const every = time.Hour
		c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
		record(t, db, "old", c.now().Add(-2*every))
		record(t, db, "recent", c.now().Add(-every/2))
		var old, recent, never counter
		s := jobs.New(db, jobs.Options{Now: c.now, Host: "r1"})
		if err := s.Register(old.job("old", every), recent.job("recent", every), never.job("never", every)); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name               string
			advance            time.Duration
			old, recent, never int32
			ran                []string
		}{
			{"at start", 0, 1, 0, 1, []string{"old", "never"}},
			{"a minute on", time.Minute, 1, 0, 1, nil},
			{"just before recent is due", every/2 - time.Minute - time.Second, 1, 0, 1, nil},
			{"recent due", time.Second, 1, 1, 1, []string{"recent"}},
			{"an interval after start", every / 2, 2, 1, 2, []string{"old", "never"}},
		}
		for _, st := range steps {
			c.add(st.advance)
			runs, err := s.RunDue(ctx)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if old.n.Load() != st.old || recent.n.Load() != st.recent || never.n.Load() != st.never {
				t.Fatalf("%s: runs old=%d recent=%d never=%d, want %d %d %d", st.name,
					old.n.Load(), recent.n.Load(), never.n.Load(), st.old, st.recent, st.never)
			}
			got := names(runs)
			if len(got) != len(st.ran) {
				t.Errorf("%s: RunDue returned %v, want %v", st.name, got, st.ran)
			}
			for _, n := range st.ran {
				if got[n] != jobs.OK {
					t.Errorf("%s: %s: %q, want ok", st.name, n, got[n])
				}
			}
		}
		status, err := s.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range status {
			if st.Last == nil || st.Last.Host != "r1" || st.Last.Outcome != jobs.OK || st.Last.EndedAt == nil {
				t.Fatalf("status of %s: last %+v", st.Name, st.Last)
			}
			if want := st.Last.StartedAt.Add(every); !st.NextDue.Equal(want) {
				t.Errorf("status of %s: next due %s, want %s", st.Name, st.NextDue, want)
			}
		}
	})
}

// A failing job is recorded with its error, and tried again at its next
// interval, not before.
func TestFailedJobIsRecordedAndRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
		var calls atomic.Int32
		s := jobs.New(db, jobs.Options{Now: c.now})
		s.Register(jobs.Job{Name: "flaky", Interval: time.Hour, Run: func(context.Context) error {
			if calls.Add(1) == 1 {
				return errors.New("forge answered 503")
			}
			return nil
		}}, jobs.Job{Name: "panics", Interval: time.Hour, Run: func(context.Context) error { panic("nil map") }})
		runs, err := s.RunDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]jobs.Run{}
		for _, r := range runs {
			got[r.Job] = r
		}
		if r := got["flaky"]; r.Outcome != jobs.Failed || r.Error != "forge answered 503" {
			t.Errorf("flaky run = %+v", r)
		}
		if r := got["panics"]; r.Outcome != jobs.Failed || r.Error != "panic: nil map" {
			t.Errorf("panicking run = %+v", r)
		}
		stored, err := db.JobRuns(ctx, "flaky", 10)
		if err != nil || len(stored) != 1 || stored[0].Outcome != jobs.Failed || stored[0].Error != "forge answered 503" || stored[0].EndedAt == nil {
			t.Fatalf("stored runs of flaky = %+v, %v", stored, err)
		}
		c.add(59 * time.Minute)
		if runs, _ := s.RunDue(ctx); len(runs) != 0 || calls.Load() != 1 {
			t.Fatalf("retried before its interval: %+v", runs)
		}
		c.add(time.Minute)
		runs, _ = s.RunDue(ctx)
		if calls.Load() != 2 || names(runs)["flaky"] != jobs.OK {
			t.Fatalf("at its next interval: %d calls, runs %+v", calls.Load(), runs)
		}
	})
}

// Only the newest Keep runs of a job are kept.
func TestRunsAreBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
		var n counter
		s := jobs.New(db, jobs.Options{Now: c.now, Keep: 3})
		s.Register(n.job("often", time.Minute))
		for range 5 {
			if _, err := s.RunDue(ctx); err != nil {
				t.Fatal(err)
			}
			c.add(time.Minute)
		}
		runs, err := db.JobRuns(ctx, "often", 100)
		if err != nil || n.n.Load() != 5 || len(runs) != 3 {
			t.Fatalf("%d runs made, %d kept (%v), want 5 and 3", n.n.Load(), len(runs), err)
		}
		if want := c.now().Add(-time.Minute); !runs[0].StartedAt.Equal(want) {
			t.Errorf("newest kept run started %s, want %s", runs[0].StartedAt, want)
		}
	})
}

func TestRegisterRefuses(t *testing.T) {
	s := jobs.New(nil, jobs.Options{})
	ok := func(context.Context) error { return nil }
	if err := s.Register(jobs.Job{Name: "a", Interval: time.Hour, Run: ok}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		job  jobs.Job
	}{
		{"twice", jobs.Job{Name: "a", Interval: time.Hour, Run: ok}},
		{"bad name", jobs.Job{Name: "A b", Interval: time.Hour, Run: ok}},
		{"no run", jobs.Job{Name: "b", Interval: time.Hour}},
		{"no interval", jobs.Job{Name: "c", Run: ok}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Register(tc.job); err == nil {
				t.Errorf("registered %+v", tc.job)
			}
		})
	}
}

// blocker is a job that blocks until released and counts how many of its
// runs are under way at once, over every replica.
type blocker struct {
	started chan string
	release chan struct{}
	now     atomic.Int32
	most    atomic.Int32
	runs    atomic.Int32
}

func newBlocker() *blocker {
	return &blocker{started: make(chan string, 8), release: make(chan struct{})}
}

func (b *blocker) job(replica string) jobs.Job {
	return jobs.Job{Name: "sync", Interval: time.Hour, Run: func(ctx context.Context) error {
		n := b.now.Add(1)
		defer b.now.Add(-1)
		for m := b.most.Load(); n > m && !b.most.CompareAndSwap(m, n); m = b.most.Load() {
		}
		b.runs.Add(1)
		b.started <- replica
		select {
		case <-b.release:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}}
}

// replica opens the PostgreSQL database at dsn as one replica would, with
// its connections named app so that a test can cut them.
func replica(t *testing.T, dsn, app string, c *clock, b *blocker) (*store.DB, *jobs.Scheduler) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	db, err := store.OpenWith(ctx, u.String(), store.Options{JobLockCheck: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := jobs.New(db, jobs.Options{Now: c.now, Host: app})
	if err := s.Register(b.job(app)); err != nil {
		t.Fatal(err)
	}
	return db, s
}

func appName(prefix string) string {
	var r [4]byte
	rand.Read(r[:])
	return prefix + "-" + hex.EncodeToString(r[:])
}

// Two replicas on one PostgreSQL database never run the same job at once.
func TestReplicasNeverRunAJobTwice(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	b := newBlocker()
	_, r1 := replica(t, dsn, appName("r1"), c, b)
	_, r2 := replica(t, dsn, appName("r2"), c, b)
	returned := make(chan int, 4)
	for _, s := range []*jobs.Scheduler{r1, r2, r1, r2} {
		go func() {
			runs, err := s.RunDue(ctx)
			if err != nil {
				t.Error(err)
			}
			returned <- len(runs)
		}()
	}
	<-b.started
	// The three others give up while the first runs.
	for range 3 {
		select {
		case n := <-returned:
			if n != 0 {
				t.Errorf("a second call ran %d jobs", n)
			}
		case <-time.After(10 * time.Second):
			close(b.release)
			t.Fatalf("a second call is still busy: %d runs under way at once", b.most.Load())
		}
	}
	close(b.release)
	if n := <-returned; n != 1 {
		t.Errorf("the running call returned %d runs", n)
	}
	if b.runs.Load() != 1 || b.most.Load() != 1 {
		t.Fatalf("%d runs, %d at once; want 1 and 1", b.runs.Load(), b.most.Load())
	}
	// The run is recorded: neither replica runs it again within the hour.
	c.add(30 * time.Minute)
	r1.RunDue(ctx)
	r2.RunDue(ctx)
	if b.runs.Load() != 1 {
		t.Errorf("%d runs within the interval, want 1", b.runs.Load())
	}
}

// When the replica running a job dies (its connections cut), another
// takes the job over at once, records the dead one's run as abandoned,
// and the dead replica's job is told to stop.
func TestAnotherReplicaTakesOverADeadOnesJob(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	b := newBlocker()
	name1 := appName("r1")
	_, r1 := replica(t, dsn, name1, c, b)
	db2, r2 := replica(t, dsn, appName("r2"), c, b)
	first := make(chan []jobs.Run, 1)
	go func() { runs, _ := r1.RunDue(ctx); first <- runs }()
	if who := <-b.started; who != name1 {
		t.Fatalf("%s started", who)
	}
	tried := make(chan []jobs.Run, 1)
	go func() { runs, _ := r2.RunDue(ctx); tried <- runs }()
	select {
	case runs := <-tried:
		if len(runs) != 0 {
			t.Fatalf("r2 ran while r1 held the lock: %+v", runs)
		}
	case <-time.After(10 * time.Second):
		close(b.release)
		t.Fatal("r2 ran the job while r1 held the lock")
	}

	// r1 dies: the server cuts every connection of it.
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", name1); err != nil {
		t.Fatal(err)
	}
	// The dead replica's job notices it lost its lock and stops.
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("r1's job kept running after its lock's connection died")
	}

	done := make(chan []jobs.Run, 1)
	go func() { runs, _ := r2.RunDue(ctx); done <- runs }()
	select {
	case who := <-b.started:
		if who == name1 {
			t.Fatalf("r1 ran again")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("r2 did not take the job over")
	}
	close(b.release)
	if runs := <-done; len(runs) != 1 || runs[0].Outcome != jobs.OK {
		t.Fatalf("r2's runs = %+v", runs)
	}
	runs, err := db2.JobRuns(ctx, "sync", 10)
	if err != nil || len(runs) != 2 {
		t.Fatalf("recorded runs = %+v, %v", runs, err)
	}
	if runs[1].Host != name1 || runs[1].Outcome == jobs.OK || runs[1].Outcome == jobs.Running {
		t.Errorf("the dead replica's run is recorded as %+v", runs[1])
	}
}

// A run left running by a process that crashed (it could not record its
// end) did not do the work: at the next start the job runs at once, and
// the crashed run is recorded as abandoned.
func TestCrashedRunIsAbandonedAndRunAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
		crashed := jobs.Run{ID: "job_crashed", Job: "sync", Host: "gone/1", StartedAt: c.now().Add(-10 * time.Minute), Outcome: jobs.Running}
		if err := db.BeginJobRun(ctx, crashed); err != nil {
			t.Fatal(err)
		}
		var n counter
		s := jobs.New(db, jobs.Options{Now: c.now, Host: "new/2"})
		s.Register(n.job("sync", time.Hour))
		if runs, err := s.RunDue(ctx); err != nil || len(runs) != 1 || n.n.Load() != 1 {
			t.Fatalf("after a crash: %d runs %+v, %v", n.n.Load(), runs, err)
		}
		runs, err := db.JobRuns(ctx, "sync", 10)
		if err != nil || len(runs) != 2 {
			t.Fatalf("runs = %+v, %v", runs, err)
		}
		if old := runs[1]; old.ID != crashed.ID || old.Outcome != jobs.Abandoned || old.EndedAt == nil || !strings.Contains(old.Error, "new/2") {
			t.Errorf("the crashed run is recorded as %+v", old)
		}
	})
}
