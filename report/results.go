package report

import (
	"encoding/json"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/opsguard/opsguard/control"
)

// ResultsFormat names results.json's layout.
const ResultsFormat = "opsguard-results/v1"

// KindRun is the kind of the ledger entry of a control run.
const KindRun = "controls.run"

// Results is results.json: every requirement selected, its controls and
// their results in the period, each citing the ledger entry of its run.
type Results struct {
	Format       string              `json:"format"`
	From         time.Time           `json:"from"`
	To           time.Time           `json:"to"`
	Requirements []RequirementResult `json:"requirements"`
	Exceptions   []Exception         `json:"exceptions"`
}

// RequirementResult is one requirement over the period. Status is fail
// when any of its controls failed (or could not be evaluated) in any run
// of the period, pass when all passed, not_applicable when none applied,
// not_automated when no control result was recorded.
type RequirementResult struct {
	ID       string          `json:"id"`
	Area     string          `json:"area"`
	Text     string          `json:"text"`
	Status   control.Status  `json:"status"`
	Controls []ControlResult `json:"controls"`
}

// ControlResult is one control's timeline in the period.
type ControlResult struct {
	ID     string         `json:"id"`
	Title  string         `json:"title"`
	Status control.Status `json:"status"`
	Latest control.Status `json:"latest,omitempty"`
	Passed int            `json:"passed"`
	Failed int            `json:"failed"`
	Runs   []RunResult    `json:"runs"`
}

// RunResult is a control's result in one run, recorded by ledger entry Seq.
type RunResult struct {
	Seq     int64          `json:"seq"`
	Time    string         `json:"time"`
	Run     string         `json:"run"`
	Status  control.Status `json:"status"`
	Summary string         `json:"summary"`
	Refs    []control.Ref  `json:"refs,omitempty"`
}

// Exception is a decision that departs from a rule (an exception
// granted, a risk accepted) or attests to something, as ledgered.
type Exception struct {
	Seq           int64  `json:"seq"`
	Time          string `json:"time"`
	Kind          string `json:"kind"`
	Subject       string `json:"subject"`
	Actor         string `json:"actor"`
	Justification string `json:"justification,omitempty"`
}

// ControlInfo names a control and its requirement.
type ControlInfo struct {
	ID          string `json:"id"`
	Requirement string `json:"requirement"`
	Title       string `json:"title"`
}

// runPayload is the payload of a controls.run entry (control.Engine.Run).
type runPayload struct {
	Run     string `json:"run"`
	Results []struct {
		Control string         `json:"control"`
		Status  control.Status `json:"status"`
		Summary string         `json:"summary"`
		Refs    []control.Ref  `json:"refs"`
	} `json:"results"`
}

// collector builds Results from the entries of the period, one at a time.
type collector struct {
	controls map[string]ControlInfo
	runs     map[string][]RunResult
	strs     map[string]string // summaries repeat run after run: keep one copy
	except   []Exception
}

func newCollector(cs []ControlInfo) *collector {
	c := &collector{controls: map[string]ControlInfo{}, runs: map[string][]RunResult{}, strs: map[string]string{}}
	for _, ci := range cs {
		c.controls[ci.ID] = ci
	}
	return c
}

func (c *collector) intern(s string) string {
	if v, ok := c.strs[s]; ok {
		return v
	}
	c.strs[s] = s
	return s
}

// add takes one entry; it reports a controls.run whose payload does not
// parse as a problem.
func (c *collector) add(e *Entry) string {
	switch {
	case e.Kind == KindRun:
		var p runPayload
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			return "its payload is not a control run: " + err.Error()
		}
		for _, r := range p.Results {
			if _, ok := c.controls[r.Control]; !ok {
				req, _, _ := strings.Cut(r.Control, ".")
				c.controls[r.Control] = ControlInfo{ID: r.Control, Requirement: req, Title: r.Control}
			}
			c.runs[r.Control] = append(c.runs[r.Control], RunResult{Seq: e.Seq, Time: e.Time, Run: c.intern(p.Run),
				Status: r.Status, Summary: c.intern(r.Summary), Refs: r.Refs})
		}
	case isException(e.Kind):
		var p struct {
			Justification string `json:"justification"`
			Reason        string `json:"reason"`
		}
		json.Unmarshal(e.Payload, &p)
		if p.Justification == "" {
			p.Justification = p.Reason
		}
		c.except = append(c.except, Exception{Seq: e.Seq, Time: e.Time, Kind: e.Kind, Subject: e.Subject, Actor: e.Actor, Justification: p.Justification})
	}
	return ""
}

// isException: the kinds of decisions that grant an exception, accept a
// risk or attest.
func isException(kind string) bool {
	for _, w := range []string{"exception", "accept", "attest", "waive"} {
		if strings.Contains(kind, w) {
			return true
		}
	}
	return false
}

// results rolls the collected runs up by requirement, for the selected
// requirements (patterns such as "CM-*"; none: all).
func (c *collector) results(from, to time.Time, selected []string) Results {
	res := Results{Format: ResultsFormat, From: from, To: to, Requirements: []RequirementResult{}, Exceptions: c.except}
	if res.Exceptions == nil {
		res.Exceptions = []Exception{}
	}
	byReq := map[string][]string{}
	for id, ci := range c.controls {
		byReq[ci.Requirement] = append(byReq[ci.Requirement], id)
	}
	for _, req := range control.Requirements {
		if !Selected(req.ID, selected) {
			continue
		}
		rr := RequirementResult{ID: req.ID, Area: req.Area, Text: req.Text, Controls: []ControlResult{}}
		ids := byReq[req.ID]
		sort.Strings(ids)
		for _, id := range ids {
			rr.Controls = append(rr.Controls, c.control(id))
		}
		rr.Status = rollUp(rr.Controls)
		res.Requirements = append(res.Requirements, rr)
	}
	return res
}

func (c *collector) control(id string) ControlResult {
	cr := ControlResult{ID: id, Title: c.controls[id].Title, Runs: c.runs[id]}
	if cr.Runs == nil {
		cr.Runs = []RunResult{}
	}
	sort.SliceStable(cr.Runs, func(i, j int) bool { return cr.Runs[i].Seq < cr.Runs[j].Seq })
	cr.Status = control.NotAutomated
	for _, r := range cr.Runs {
		switch r.Status {
		case control.Pass:
			cr.Passed++
		case control.Fail, control.Error:
			cr.Failed++
		}
		cr.Latest = r.Status
	}
	switch {
	case cr.Failed > 0:
		cr.Status = control.Fail
	case cr.Passed > 0:
		cr.Status = control.Pass
	case len(cr.Runs) > 0:
		cr.Status = control.NotApplicable
	}
	return cr
}

func rollUp(cs []ControlResult) control.Status {
	st := control.NotAutomated
	for _, c := range cs {
		switch {
		case c.Status == control.Fail:
			return control.Fail
		case c.Status == control.Pass:
			st = control.Pass
		case c.Status == control.NotApplicable && st == control.NotAutomated:
			st = control.NotApplicable
		}
	}
	return st
}

// Selected reports whether requirement id matches one of the patterns
// ("CM-*", "LG-3"); no pattern selects all.
func Selected(id string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, id); ok {
			return true
		}
	}
	return false
}
