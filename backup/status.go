package backup

import (
	"context"
	"time"
)

// Status is a data set's state at a glance: one row of `backup status`.
type Status struct {
	DataSet string `json:"dataset"`
	Owner   string `json:"owner"`
	Type    string `json:"type"`
	// Newest is the newest live backup of the required type and the copy
	// that holds it; AgeHours its age in whole hours.
	Newest     *time.Time `json:"newest_at"`
	NewestCopy string     `json:"newest_copy"`
	AgeHours   *int       `json:"age_hours"`
	Fresh      bool       `json:"fresh"` // younger than backup.max_age_hours (BK-1)
	// Oldest is the oldest live backup; the retention window is the last
	// RetentionDays days, of which DaysCovered hold a backup.
	Oldest        *time.Time `json:"oldest_at"`
	RetentionDays int        `json:"retention_days"`
	DaysCovered   int        `json:"retention_days_covered"`
	MissingDays   []string   `json:"missing_days"` // the days without a backup, as dates
	Snapshots     int        `json:"snapshots"`
	Copies        int        `json:"copies"`
	Offsite       int        `json:"copies_offsite"`
	OffsiteFresh  int        `json:"copies_offsite_fresh"` // BK-3
	Documented    bool       `json:"documented"`           // BK-7
	// LastDrill, DrillVerdict and OpenRCAs are the restore drills' (BK-4,
	// BK-5): empty until drills are recorded.
	LastDrill     *time.Time `json:"last_drill_at"`
	DrillVerdict  string     `json:"last_drill_verdict"`
	LastDrillID   string     `json:"last_drill_id"`
	OpenRCAs      int        `json:"open_rcas"`
	CollectErrors []string   `json:"collect_errors"`
}

// state is what the status and the controls read, in one snapshot.
type state struct {
	now      time.Time
	sets     []DataSet
	copies   map[string][]Copy // by data set id
	sums     map[string]CopySummary
	window   int
	maxAge   time.Duration
	nOffsite int
	drills   map[string]DrillSummary // by data set id
	maxDrill int                     // backup.restore_test_interval_days
}

func (s *Service) state(ctx context.Context) (state, error) {
	st := state{now: s.now(), copies: map[string][]Copy{}, sums: map[string]CopySummary{}, window: s.opts.Policy.RetentionDays,
		drills: map[string]DrillSummary{}, maxDrill: s.opts.Policy.RestoreTestIntervalDays,
		maxAge: time.Duration(s.opts.Policy.MaxAgeHours) * time.Hour, nOffsite: s.opts.Policy.OffsiteCopies}
	if st.window <= 0 {
		st.window = 7
	}
	if st.maxAge <= 0 {
		st.maxAge = 26 * time.Hour
	}
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if st.sets, err = tx.ListDataSets(ctx); err != nil {
			return err
		}
		cs, err := tx.ListCopies(ctx, "")
		if err != nil {
			return err
		}
		for _, c := range cs {
			st.copies[c.DataSetID] = append(st.copies[c.DataSetID], c)
		}
		sums, err := tx.CopySummaries(ctx, st.now, st.window)
		for _, x := range sums {
			st.sums[x.CopyID] = x
		}
		if err != nil {
			return err
		}
		drills, err := tx.DrillSummaries(ctx)
		for _, x := range drills {
			st.drills[x.DataSetID] = x
		}
		return err
	})
	return st, err
}

// Status returns every data set's state, by name.
func (s *Service) Status(ctx context.Context) ([]Status, error) {
	st, err := s.state(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(st.sets))
	for i, d := range st.sets {
		out[i] = st.status(d)
	}
	return out, nil
}

func (st state) status(d DataSet) Status {
	r := Status{DataSet: d.Name, Owner: d.Owner, Type: d.Type, RetentionDays: st.window, MissingDays: []string{}, CollectErrors: []string{},
		Documented: len(undocumented(d)) == 0}
	covered := make([]bool, st.window)
	for _, c := range st.copies[d.ID] {
		r.Copies++
		if c.CollectError != "" {
			r.CollectErrors = append(r.CollectErrors, c.Name+": "+c.CollectError)
		}
		sum := st.sums[c.ID]
		r.Snapshots += sum.Count
		if sum.Count > 0 && (r.Oldest == nil || sum.Oldest.Before(*r.Oldest)) {
			t := sum.Oldest
			r.Oldest = &t
		}
		newest, ok := newestOf(sum, d.Type)
		if ok && (r.Newest == nil || newest.After(*r.Newest)) {
			r.Newest, r.NewestCopy = &newest, c.Name
		}
		if c.Offsite {
			r.Offsite++
			if ok && st.now.Sub(newest) <= st.maxAge && c.CollectError == "" {
				r.OffsiteFresh++
			}
		}
		for _, day := range sum.Days {
			if day >= 0 && day < st.window {
				covered[day] = true
			}
		}
	}
	dr := st.drills[d.ID]
	r.LastDrill, r.DrillVerdict, r.LastDrillID, r.OpenRCAs = dr.LastAt, dr.LastState, dr.LastID, dr.OpenRCAs
	if r.Newest != nil {
		age := int(st.now.Sub(*r.Newest) / time.Hour)
		r.AgeHours, r.Fresh = &age, st.now.Sub(*r.Newest) <= st.maxAge
	}
	for day, ok := range covered {
		if ok {
			r.DaysCovered++
		} else {
			r.MissingDays = append(r.MissingDays, st.now.Add(-time.Duration(day)*24*time.Hour-12*time.Hour).Format(time.DateOnly))
		}
	}
	return r
}

// newestOf is a copy's newest live backup that meets the type want.
func newestOf(sum CopySummary, want string) (time.Time, bool) {
	var best time.Time
	for typ, t := range sum.Newest {
		if Satisfies(typ, want) && t.After(best) {
			best = t
		}
	}
	return best, !best.IsZero()
}

// undocumented names what a data set's documented procedure lacks (BK-7).
func undocumented(d DataSet) []string {
	var miss []string
	if d.Description == "" {
		miss = append(miss, "the data covered (description)")
	}
	if d.Instructions == "" {
		miss = append(miss, "restore instructions")
	}
	if d.Frequency == "" || d.Type == "" || d.RetentionDays <= 0 {
		miss = append(miss, "frequency, type or retention")
	}
	return miss
}

// drillInterval is how old a data set's last passing drill may be.
func (st state) drillInterval(d DataSet) time.Duration {
	plan, _ := ParseDrillPlan(d.Drill)
	return plan.interval(st.maxDrill)
}

// drillDue reports whether a data set's last drill, passed or failed, is
// older than its interval (or it has none).
func (st state) drillDue(d DataSet) bool {
	last := st.drills[d.ID].LastAt
	return last == nil || st.now.Sub(*last) > st.drillInterval(d)
}
