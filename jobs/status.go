package jobs

import (
	"context"
	"time"
)

// Status is where a job stands: its newest run and when it is next due.
type Status struct {
	Name     string
	Interval time.Duration
	Last     *Run // nil: it never ran
	NextDue  time.Time
}

// Status returns every registered job's standing, in the order of names.
func (s *Scheduler) Status(ctx context.Context) ([]Status, error) {
	runs, err := s.store.LastJobRuns(ctx)
	if err != nil {
		return nil, err
	}
	last := map[string]Run{}
	for _, r := range runs {
		last[r.Job] = r
	}
	now := s.opts.Now()
	var out []Status
	for _, j := range s.Jobs() {
		st := Status{Name: j.Name, Interval: j.Interval, NextDue: now}
		if r, ok := last[j.Name]; ok {
			st.Last = &r
			st.NextDue = dueAt(j, &r, now)
			if r.Outcome == Running {
				st.NextDue = r.StartedAt.Add(j.Interval) // once this run is over
			}
		}
		out = append(out, st)
	}
	return out, nil
}
