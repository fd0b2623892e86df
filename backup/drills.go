package backup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard/backup/drill"
)

// The states of a restore drill.
const (
	DrillRunning = "running"
	DrillPassed  = "passed"
	DrillFailed  = "failed"
)

// DefaultDrillIntervalDays is how often a data set is drilled when its
// specification says nothing (never more than the policy's
// backup.restore_test_interval_days).
const DefaultDrillIntervalDays = 90

// Drill is the record of one restore drill (BK-4): what was restored, by
// whom, every check with what was expected and found, and the measured
// RTO and RPO. The tool's log is a ledger evidence blob (LogRef).
type Drill struct {
	ID            string        `json:"id"`
	DataSetID     string        `json:"dataset_id"`
	DataSet       string        `json:"dataset"`
	CopyID        string        `json:"copy_id"`
	Copy          string        `json:"copy"`
	Kind          string        `json:"kind"`
	State         string        `json:"state"`
	Selector      string        `json:"selector"` // the snapshot asked for
	SnapshotID    string        `json:"snapshot_id"`
	SnapshotTime  *time.Time    `json:"snapshot_time,omitempty"`
	RunBy         string        `json:"run_by"`
	RunByUser     string        `json:"run_by_user"`
	StartedAt     time.Time     `json:"started_at"`
	FinishedAt    *time.Time    `json:"finished_at,omitempty"`
	DurationMS    int64         `json:"duration_ms"` // RTO
	RPOSeconds    int64         `json:"rpo_seconds"`
	BytesRestored int64         `json:"bytes_restored"`
	Files         int64         `json:"files"`
	Checks        []drill.Check `json:"checks"`
	Notes         []string      `json:"notes"`
	LogRef        string        `json:"log_ref"`
	ApprovedBy    string        `json:"approved_by,omitempty"`
	ApprovedAt    *time.Time    `json:"approved_at,omitempty"`
}

// DrillRequest asks for a drill of a data set now.
type DrillRequest struct {
	// Snapshot is latest (default), random, or a snapshot's ID.
	Snapshot string `json:"snapshot,omitempty"`
	// Copy names the copy to restore from (default: the specification's,
	// else the first restic or pg_dump copy).
	Copy string `json:"copy,omitempty"`
	// Wait answers with the finished drill; otherwise the running one.
	Wait bool `json:"wait,omitempty"`
}

// DrillPlan is a data set's drill specification (DataSet.Drill): what a
// drill restores and checks. Where it restores (the scratch space), the
// repository and its password come from the server and the copy, never
// from here.
type DrillPlan struct {
	Copy          string            `json:"copy,omitempty"`
	IntervalDays  int               `json:"interval_days,omitempty"`
	Snapshot      string            `json:"snapshot,omitempty"`
	MaxBytes      int64             `json:"max_bytes,omitempty"`
	MaxMinutes    int               `json:"max_minutes,omitempty"`
	ExpectedPaths []string          `json:"expected_paths,omitempty"`
	Assertions    []drill.Assertion `json:"assertions,omitempty"`
	// Database is where a pgBackRest drill's assertions run (default
	// postgres): a restored cluster holds several.
	Database string `json:"database,omitempty"`
}

// ParseDrillPlan reads a data set's drill specification, naming the
// field that is wrong.
func ParseDrillPlan(raw json.RawMessage) (DrillPlan, error) {
	var p DrillPlan
	if len(raw) == 0 {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, invalid("drill", "drill: %v (fields: copy, interval_days, snapshot, max_bytes, max_minutes, expected_paths, assertions, database)", err)
	}
	switch {
	case p.IntervalDays < 0 || p.IntervalDays > 3650:
		return p, invalid("drill.interval_days", "drill.interval_days %d: 0 (default %d) to 3650", p.IntervalDays, DefaultDrillIntervalDays)
	case p.MaxBytes < 0 || p.MaxMinutes < 0 || p.MaxMinutes > 7*24*60:
		return p, invalid("drill.max_bytes", "drill.max_bytes and drill.max_minutes: not negative, at most a week")
	}
	if len(p.Database) > 63 || strings.ContainsAny(p.Database, "/?&=\x00") {
		return p, invalid("drill.database", "drill.database %q: a PostgreSQL database name", p.Database)
	}
	spec := drill.Spec{Kind: drill.Restic, Location: "x", ScratchRoot: "x", PasswordFile: "x", ExpectedPaths: p.ExpectedPaths, Assertions: p.Assertions}
	if err := spec.Validate(); err != nil {
		return p, invalid("drill", "%v", err)
	}
	return p, nil
}

// interval is how old a data set's last passing drill may be.
func (p DrillPlan) interval(maxDays int) time.Duration {
	days := p.IntervalDays
	if days == 0 {
		days = DefaultDrillIntervalDays
	}
	if maxDays > 0 && days > maxDays {
		days = maxDays
	}
	return time.Duration(days) * 24 * time.Hour
}

// DrillSummary is what the status and BK-4 need of a data set's drills.
type DrillSummary struct {
	DataSetID  string
	LastAt     *time.Time // the newest drill that ended
	LastState  string
	LastID     string
	LastPassed *time.Time // the newest drill that passed
	OpenRCAs   int
}

// RCA is the root-cause analysis of a failed drill (BK-5): open until
// someone other than the drill's runner records its cause and action.
type RCA struct {
	ID         string     `json:"id"`
	DrillID    string     `json:"drill_id"`
	DataSetID  string     `json:"dataset_id"`
	DataSet    string     `json:"dataset"`
	DrillRunBy string     `json:"drill_run_by"`
	OpenedAt   time.Time  `json:"opened_at"`
	Cause      string     `json:"cause"`
	Action     string     `json:"action"`
	RecordedBy string     `json:"recorded_by,omitempty"`
	RecordedAt *time.Time `json:"recorded_at,omitempty"`
}

// Open reports whether the analysis still waits for its cause.
func (r RCA) Open() bool { return r.RecordedAt == nil }

// Exercise is a disaster-recovery tabletop exercise (BK-6).
type Exercise struct {
	ID           string           `json:"id"`
	Scenario     string           `json:"scenario"`
	Date         string           `json:"date"` // YYYY-MM-DD
	Participants []string         `json:"participants"`
	Findings     string           `json:"findings"`
	Actions      []ExerciseAction `json:"actions"`
	CreatedAt    time.Time        `json:"created_at"`
	CreatedBy    string           `json:"created_by"`
}

// ExerciseAction is a follow-up action of an exercise, with its owner.
type ExerciseAction struct {
	Text  string `json:"text"`
	Owner string `json:"owner"`
}

func (d Drill) subject() string { return "backup-drill/" + d.ID }

func verdict(passed bool) string {
	if passed {
		return DrillPassed
	}
	return DrillFailed
}

func summarize(d Drill) string {
	var failed []string
	for _, c := range d.Checks {
		if !c.OK {
			failed = append(failed, fmt.Sprintf("%s: expected %s, got %s", c.Name, c.Expected, c.Actual))
		}
	}
	if len(failed) == 0 {
		return ""
	}
	if len(failed) > 3 {
		failed = append(failed[:3], fmt.Sprintf("and %d more", len(failed)-3))
	}
	return fmt.Sprint(failed)
}
