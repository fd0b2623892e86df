package web

import (
	"context"
	"net/http"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/jobs"
)

// jobStatus is one scheduled job on /readyz. It leaves out the error text
// of a failed run: /readyz answers anyone, and an error may name a
// repository or a host. The /jobs page shows it to signed-in users.
type jobStatus struct {
	Name            string     `json:"name"`
	IntervalSeconds int64      `json:"interval_seconds"`
	LastStartedAt   *time.Time `json:"last_started_at,omitempty"`
	LastEndedAt     *time.Time `json:"last_ended_at,omitempty"`
	LastOutcome     string     `json:"last_outcome,omitempty"`
	LastHost        string     `json:"last_host,omitempty"`
	NextDueAt       time.Time  `json:"next_due_at"`
}

func toJobStatus(st jobs.Status) jobStatus {
	j := jobStatus{Name: st.Name, IntervalSeconds: int64(st.Interval / time.Second), NextDueAt: st.NextDue.UTC()}
	if l := st.Last; l != nil {
		started := l.StartedAt.UTC()
		j.LastStartedAt, j.LastEndedAt, j.LastOutcome, j.LastHost = &started, l.EndedAt, string(l.Outcome), l.Host
	}
	return j
}

// readyJobs is the jobs part of /readyz: the scheduler's standing, or
// nil when it cannot be read (readiness is the database's answer alone).
func (s *Server) readyJobs(ctx context.Context) []jobStatus {
	sts, err := s.app.Jobs.Status(ctx)
	if err != nil {
		s.logger.Warn("readyz: job status", "err", err)
		return nil
	}
	out := make([]jobStatus, 0, len(sts))
	for _, st := range sts {
		out = append(out, toJobStatus(st))
	}
	return out
}

// jobsView is the /jobs page: each job's standing and its newest runs.
type jobsView struct {
	Host string
	Jobs []jobRow
	Now  time.Time
}

type jobRow struct {
	jobs.Status
	Runs []jobs.Run
}

// recentRuns is how many runs of each job the page shows.
const recentRuns = 10

func (s *Server) uiJobs(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	sts, err := s.app.Jobs.Status(r.Context())
	if err != nil {
		return err
	}
	v := jobsView{Host: s.app.Jobs.Host(), Now: s.app.Now()}
	for _, st := range sts {
		runs, err := s.app.DB.JobRuns(r.Context(), st.Name, recentRuns)
		if err != nil {
			return err
		}
		v.Jobs = append(v.Jobs, jobRow{Status: st, Runs: runs})
	}
	s.render(w, http.StatusOK, "jobs.html", page{Title: "Jobs", Me: &p, CSRF: p.CSRFToken, Data: v})
	return nil
}
