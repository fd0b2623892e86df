package backup

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsguard/opsguard/control"
)

// Controls returns the controls of BK-1, BK-2, BK-3 and BK-7.
func (s *Service) Controls() []control.Control {
	return []control.Control{
		s.perDataSet("BK-1", "fresh-backup", "The newest backup of every data set is younger than backup.max_age_hours and of its required type", freshProblem),
		s.perDataSet("BK-2", "retention-window", "Every data set's backups span backup.retention_days with no missing day", retentionProblem),
		s.perDataSet("BK-3", "offsite-copy", "Every data set has backup.offsite_copies fresh copies outside production", offsiteProblem),
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
