package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup/drill"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Drills lists the drills of a data set (of every one for ""), newest
// first, at most limit (0 for 1000).
func (s *Service) Drills(ctx context.Context, dataSet string, limit int) ([]Drill, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	out := []Drill{}
	err := s.store.View(ctx, func(tx Tx) error {
		dsID := ""
		if dataSet != "" {
			d, err := tx.DataSetByName(ctx, dataSet)
			if err != nil {
				return err
			}
			dsID = d.ID
		}
		ds, err := tx.ListDrills(ctx, dsID, limit)
		if ds != nil {
			out = ds
		}
		return err
	})
	return out, err
}

// DrillByID returns a drill's record.
func (s *Service) DrillByID(ctx context.Context, drillID string) (Drill, error) {
	var d Drill
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		d, err = tx.DrillByID(ctx, drillID)
		return err
	})
	return d, err
}

// ApproveDrill records the security officer who witnessed or approved a
// finished drill; never its runner.
func (s *Service) ApproveDrill(ctx context.Context, by Actor, drillID string) (Drill, error) {
	var d Drill
	if by.Role != auth.SecurityOfficer {
		return d, opsguard.Errorf(opsguard.EForbidden, "only a security officer approves a restore drill; %s is not one", by.user())
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if d, err = tx.DrillByID(ctx, drillID); err != nil {
			return err
		}
		switch {
		case d.State == DrillRunning:
			return opsguard.Errorf(opsguard.EConflict, "drill %s is still running: approve it once it ended", d.ID)
		case d.ApprovedAt != nil:
			return opsguard.Errorf(opsguard.EConflict, "drill %s was approved by %s at %s", d.ID, d.ApprovedBy, d.ApprovedAt.Format(time.RFC3339))
		case d.RunByUser == by.user():
			return opsguard.Errorf(opsguard.EForbidden, "%s ran drill %s and may not approve it: segregation of duties", by.user(), d.ID)
		}
		now := s.now()
		d.ApprovedBy, d.ApprovedAt = by.user(), &now
		if err := tx.UpdateDrill(ctx, d); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "backup.drill_approved", Subject: d.subject(),
			Payload: map[string]any{"dataset": d.DataSet, "state": d.State, "approved_by": d.ApprovedBy, "run_by": d.RunBy}})
		return err
	})
	return d, err
}

// RCAs lists the root-cause analyses, open ones first.
func (s *Service) RCAs(ctx context.Context) ([]RCA, error) {
	out := []RCA{}
	err := s.store.View(ctx, func(tx Tx) error {
		rs, err := tx.ListRCAs(ctx)
		if rs != nil {
			out = rs
		}
		return err
	})
	return out, err
}

// Bounds of the texts of an analysis and an exercise.
const (
	maxRCAText      = 16 << 10
	maxParticipants = 100
	maxActions      = 100
)

// RecordRCA records the cause and corrective action of a failed drill.
// Only someone other than the drill's runner may (segregation of duties),
// and only once.
func (s *Service) RecordRCA(ctx context.Context, by Actor, rcaID, cause, action string) (RCA, error) {
	cause, action = strings.TrimSpace(cause), strings.TrimSpace(action)
	var r RCA
	switch {
	case cause == "" || len(cause) > maxRCAText:
		return r, invalid("cause", "cause: 1 to %d bytes", maxRCAText)
	case action == "" || len(action) > maxRCAText:
		return r, invalid("action", "action: the corrective action, 1 to %d bytes", maxRCAText)
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if r, err = tx.RCAByID(ctx, rcaID); err != nil {
			return err
		}
		d, err := tx.DrillByID(ctx, r.DrillID)
		if err != nil {
			return err
		}
		switch {
		case !r.Open():
			return opsguard.Errorf(opsguard.EConflict, "root-cause analysis %s was recorded by %s at %s", r.ID, r.RecordedBy, r.RecordedAt.Format(time.RFC3339))
		case d.RunByUser == by.user():
			return opsguard.Errorf(opsguard.EForbidden, "%s ran drill %s and may not record its root-cause analysis: someone else must (segregation of duties)", by.user(), d.ID)
		}
		now := s.now()
		r.Cause, r.Action, r.RecordedBy, r.RecordedAt = cause, action, by.user(), &now
		if err := tx.UpdateRCA(ctx, r); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "backup.rca_recorded", Subject: "backup-rca/" + r.ID, Payload: r})
		return err
	})
	return r, err
}

// AddExercise records a disaster-recovery tabletop exercise (BK-6). Its
// participants include an engineering head and a security officer, each
// checked against the users' roles; each action's owner is a user.
func (s *Service) AddExercise(ctx context.Context, by Actor, e Exercise) (Exercise, error) {
	if err := e.normalize(s.now()); err != nil {
		return e, err
	}
	e.ID, e.CreatedAt, e.CreatedBy = id.New("drx"), s.now(), by.Name
	err := s.store.Update(ctx, func(tx Tx) error {
		roles := map[auth.Role]bool{}
		for _, p := range e.Participants {
			u, _, err := tx.UserByName(ctx, p)
			if opsguard.ErrorCode(err) == opsguard.ENotFound {
				return invalid("participants", "participant %q is not a user", p)
			} else if err != nil {
				return err
			}
			roles[u.Role] = true
		}
		var miss []string
		for _, r := range []auth.Role{auth.EngineeringHead, auth.SecurityOfficer} {
			if !roles[r] {
				miss = append(miss, "a "+string(r))
			}
		}
		if len(miss) > 0 {
			return invalid("participants", "participants %s: an exercise needs %s among them", strings.Join(e.Participants, ", "), strings.Join(miss, " and "))
		}
		for i, a := range e.Actions {
			if _, _, err := tx.UserByName(ctx, a.Owner); opsguard.ErrorCode(err) == opsguard.ENotFound {
				return invalid(fmt.Sprintf("actions[%d].owner", i), "action %d: owner %q is not a user", i+1, a.Owner)
			} else if err != nil {
				return err
			}
		}
		if err := tx.InsertExercise(ctx, e); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "backup.exercise_recorded", Subject: "backup-exercise/" + e.ID, Payload: e})
		return err
	})
	return e, err
}

func (e *Exercise) normalize(now time.Time) error {
	e.Scenario, e.Findings, e.Date = strings.TrimSpace(e.Scenario), strings.TrimSpace(e.Findings), strings.TrimSpace(e.Date)
	var ps []string
	for _, p := range e.Participants {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	e.Participants = ps
	if e.Actions == nil {
		e.Actions = []ExerciseAction{}
	}
	day, err := time.Parse(time.DateOnly, e.Date)
	switch {
	case e.Scenario == "" || len(e.Scenario) > maxRCAText:
		return invalid("scenario", "scenario: 1 to %d bytes", maxRCAText)
	case err != nil:
		return invalid("date", "date %q: the day it was held, YYYY-MM-DD", e.Date)
	case day.After(now):
		return invalid("date", "date %s: in the future", e.Date)
	case len(ps) == 0 || len(ps) > maxParticipants:
		return invalid("participants", "participants: 1 to %d user names", maxParticipants)
	case len(e.Findings) > maxRCAText:
		return invalid("findings", "findings: at most %d bytes", maxRCAText)
	case len(e.Actions) > maxActions:
		return invalid("actions", "actions: at most %d", maxActions)
	}
	for i := range e.Actions {
		a := &e.Actions[i]
		a.Text, a.Owner = strings.TrimSpace(a.Text), strings.TrimSpace(a.Owner)
		if a.Text == "" || a.Owner == "" || len(a.Text) > maxRCAText {
			return invalid(fmt.Sprintf("actions[%d]", i), "action %d: a text and its owner (\"text;owner\")", i+1)
		}
	}
	return nil
}

// Exercises lists the tabletop exercises, newest first.
func (s *Service) Exercises(ctx context.Context) ([]Exercise, error) {
	out := []Exercise{}
	err := s.store.View(ctx, func(tx Tx) error {
		es, err := tx.ListExercises(ctx)
		if es != nil {
			out = es
		}
		return err
	})
	return out, err
}

// failAbandoned records as failed the drills still marked running long
// after their time limit: their process died mid-drill (its scratch is
// removed at the next start).
func (s *Service) failAbandoned(ctx context.Context, by Actor) ([]DrillResult, []error) {
	out := []DrillResult{}
	var running []Drill
	var sets map[string]DataSet
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if running, err = tx.RunningDrills(ctx); err != nil {
			return err
		}
		ds, err := tx.ListDataSets(ctx)
		sets = map[string]DataSet{}
		for _, d := range ds {
			sets[d.ID] = d
		}
		return err
	})
	if err != nil {
		return out, []error{err}
	}
	var errs []error
	for _, d := range running {
		plan, _ := ParseDrillPlan(sets[d.DataSetID].Drill)
		limit := abandonAfter(plan)
		if _, busy := s.drilling.Load(d.DataSetID); busy || s.now().Sub(d.StartedAt) <= limit {
			continue
		}
		rep := &drill.Report{Checks: []drill.Check{{Name: "completed", Expected: "the drill ends within " + limit.String(), Actual: "abandoned: its process ended before it finished"}}}
		d, err := s.finishDrill(ctx, by, d, rep)
		out = append(out, DrillResult{DataSet: d.DataSet, Drill: d.ID, State: d.State})
		if err != nil {
			errs = append(errs, fmt.Errorf("drill %s: %w", d.ID, err))
		}
	}
	return out, errs
}

// DrillResult is what the scheduled drills did for one data set.
type DrillResult struct {
	DataSet string `json:"dataset"`
	Drill   string `json:"drill,omitempty"`
	State   string `json:"state,omitempty"`
	Error   string `json:"error,omitempty"`
}

// DueDrills names the data sets whose last drill is older than their
// interval (or that have none), by name. A failed drill is not retried
// at once: it waits for its root-cause analysis, or a drill run by hand.
func (s *Service) DueDrills(ctx context.Context) ([]string, error) {
	st, err := s.state(ctx)
	if err != nil {
		return nil, err
	}
	var due []string
	for _, d := range st.sets {
		if st.drillDue(d) {
			due = append(due, d.Name)
		}
	}
	return due, nil
}

// DrillDue drills, one after the other, every data set that is due (the
// job backup-drills). A data set that cannot be drilled is named in the
// error and does not stop the others.
func (s *Service) DrillDue(ctx context.Context, by Actor) ([]DrillResult, error) {
	out, errs := s.failAbandoned(ctx, by)
	due, err := s.DueDrills(ctx)
	if err != nil {
		return out, errors.Join(append(errs, err)...)
	}
	for _, name := range due {
		d, err := s.Drill(ctx, by, name, DrillRequest{})
		r := DrillResult{DataSet: name, Drill: d.ID, State: d.State}
		if err != nil {
			r.Error = err.Error()
			errs = append(errs, fmt.Errorf("data set %s: %w", name, err))
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}
