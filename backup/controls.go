package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard/control"
)

// Controls returns the controls of BK-1 … BK-7.
func (s *Service) Controls() []control.Control {
	return []control.Control{
		s.perDataSet("BK-1", "fresh-backup", "The newest backup of every data set is younger than backup.max_age_hours and of its required type", freshProblem),
		s.perDataSet("BK-2", "retention-window", "Every data set's backups span backup.retention_days with no missing day", retentionProblem),
		s.perDataSet("BK-3", "offsite-copy", "Every data set has backup.offsite_copies fresh copies outside production", offsiteProblem),
		s.perDataSet("BK-4", "restore-drill", "Every data set has a passing restore drill younger than its interval (at most backup.restore_test_interval_days)", drillProblem),
		s.rcaControl(),
		s.exerciseControl(),
		s.perDataSet("BK-7", "procedure-documented", "Every data set documents its backup and restore procedure", documentedProblem),
	}
}

// perDataSet is a control that holds when problem finds nothing wrong
// with any data set; with no data set declared it fails, since nothing
// then proves that customer data is backed up.
func (s *Service) perDataSet(req, id, title string, problem func(st state, d DataSet, r Status) string) control.Control {
	return control.Control{ID: req + "." + id, Requirement: req, Title: title, Evaluate: func(ctx context.Context) (control.Outcome, error) {
		st, err := s.state(ctx)
		if err != nil {
			return control.Outcome{}, err
		}
		if len(st.sets) == 0 {
			return control.Outcome{Status: control.Fail, Summary: "No data set is declared: nothing proves that customer data is backed up (opsguard backup dataset add)."}, nil
		}
		var bad []string
		var refs []control.Ref
		for _, d := range st.sets {
			if p := problem(st, d, st.status(d)); p != "" {
				bad = append(bad, d.Name+": "+p)
				refs = append(refs, control.Ref{Kind: "dataset", ID: d.Name})
			}
		}
		if len(bad) > 0 {
			return control.Outcome{Status: control.Fail, Refs: refs,
				Summary: fmt.Sprintf("%d of %d data sets fail: %s.", len(bad), len(st.sets), control.Examples(bad, 5, "; "))}, nil
		}
		return control.Outcome{Status: control.Pass, Summary: passSummary(req, st)}, nil
	}}
}

func passSummary(req string, st state) string {
	n := len(st.sets)
	switch req {
	case "BK-1":
		return fmt.Sprintf("All %d data sets have a backup of their required type younger than %d hours.", n, int(st.maxAge.Hours()))
	case "BK-2":
		return fmt.Sprintf("All %d data sets have a backup in each of the last %d days.", n, st.window)
	case "BK-3":
		return fmt.Sprintf("All %d data sets have at least %d fresh copies outside production.", n, st.nOffsite)
	case "BK-4":
		return fmt.Sprintf("All %d data sets have a passing restore drill younger than their interval.", n)
	}
	return fmt.Sprintf("All %d data sets document their frequency, data covered, type, retention and restore instructions.", n)
}

func freshProblem(st state, d DataSet, r Status) string {
	switch {
	case r.Newest == nil && r.Copies == 0:
		return "no copy"
	case r.Newest == nil:
		return fmt.Sprintf("no %s backup on record%s", d.Type, collectNote(r))
	case !r.Fresh:
		return fmt.Sprintf("newest %s backup is %d hours old (at most %d)%s", d.Type, *r.AgeHours, int(st.maxAge.Hours()), collectNote(r))
	}
	return ""
}

func retentionProblem(st state, d DataSet, r Status) string {
	var p []string
	if d.RetentionDays < st.window {
		p = append(p, fmt.Sprintf("documents a retention of %d days, less than %d", d.RetentionDays, st.window))
	}
	if len(r.MissingDays) > 0 {
		p = append(p, fmt.Sprintf("no backup on %d of the last %d days (%s)", len(r.MissingDays), st.window, control.Examples(r.MissingDays, 3, ", ")))
	}
	return strings.Join(p, " and ")
}

func offsiteProblem(st state, _ DataSet, r Status) string {
	if r.OffsiteFresh >= st.nOffsite {
		return ""
	}
	return fmt.Sprintf("%d fresh copies outside production (of %d outside), needs %d", r.OffsiteFresh, r.Offsite, st.nOffsite)
}

func documentedProblem(_ state, d DataSet, _ Status) string {
	if miss := undocumented(d); len(miss) > 0 {
		return "lacks " + strings.Join(miss, " and ")
	}
	return ""
}

// collectNote adds why the collection may have missed backups.
func collectNote(r Status) string {
	if len(r.CollectErrors) == 0 {
		return ""
	}
	return " (collection failing: " + r.CollectErrors[0] + ")"
}

func drillProblem(st state, d DataSet, _ Status) string {
	iv := st.drillInterval(d)
	days := int(iv / (24 * time.Hour))
	last := st.drills[d.ID].LastPassed
	switch {
	case last == nil:
		return fmt.Sprintf("no passing restore drill on record (interval %d days)", days)
	case st.now.Sub(*last) > iv:
		return fmt.Sprintf("last passing restore drill %s, older than %d days", last.Format(time.DateOnly), days)
	}
	return ""
}

// rcaControl (BK-5) fails while a failed drill's root-cause analysis is
// open.
func (s *Service) rcaControl() control.Control {
	return control.Control{ID: "BK-5.root-cause-recorded", Requirement: "BK-5", Title: "Every failed restore drill has its root cause and corrective action recorded by someone other than its runner",
		Evaluate: func(ctx context.Context) (control.Outcome, error) {
			rs, err := s.RCAs(ctx)
			if err != nil {
				return control.Outcome{}, err
			}
			if sets, err := s.DataSets(ctx); err != nil || len(sets) == 0 {
				return control.Outcome{Status: control.Fail, Summary: "No data set is declared: no restore drill proves that customer data comes back (opsguard backup dataset add)."}, err
			}
			var open []string
			var refs []control.Ref
			for _, r := range rs {
				if r.Open() {
					open = append(open, fmt.Sprintf("%s (drill %s of %s, opened %s)", r.ID, r.DrillID, r.DataSet, r.OpenedAt.Format(time.DateOnly)))
					refs = append(refs, control.Ref{Kind: "backup-rca", ID: r.ID})
				}
			}
			if len(open) > 0 {
				return control.Outcome{Status: control.Fail, Refs: refs,
					Summary: fmt.Sprintf("%d root-cause analyses are open: %s (opsguard backup rca record).", len(open), control.Examples(open, 5, "; "))}, nil
			}
			return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("No root-cause analysis is open (%d recorded).", len(rs))}, nil
		}}
}

// exerciseControl (BK-6) fails when no tabletop exercise is younger than
// backup.tabletop_exercise_interval_days.
func (s *Service) exerciseControl() control.Control {
	return control.Control{ID: "BK-6.tabletop-exercise", Requirement: "BK-6", Title: "A disaster-recovery tabletop exercise was held within backup.tabletop_exercise_interval_days",
		Evaluate: func(ctx context.Context) (control.Outcome, error) {
			es, err := s.Exercises(ctx)
			if err != nil {
				return control.Outcome{}, err
			}
			days := s.opts.Policy.TabletopExerciseIntervalDays
			if days <= 0 {
				days = 365
			}
			if len(es) == 0 {
				return control.Outcome{Status: control.Fail, Summary: "No disaster-recovery tabletop exercise is on record (opsguard backup exercise add)."}, nil
			}
			held, _ := time.Parse(time.DateOnly, es[0].Date)
			age := int(s.now().Sub(held) / (24 * time.Hour))
			if age > days {
				return control.Outcome{Status: control.Fail, Refs: []control.Ref{{Kind: "backup-exercise", ID: es[0].ID}},
					Summary: fmt.Sprintf("The last tabletop exercise was held on %s, %d days ago: more than %d.", es[0].Date, age, days)}, nil
			}
			return control.Outcome{Status: control.Pass, Refs: []control.Ref{{Kind: "backup-exercise", ID: es[0].ID}},
				Summary: fmt.Sprintf("Tabletop exercise %q held on %s (%d days ago, at most %d).", es[0].Scenario, es[0].Date, age, days)}, nil
		}}
}
