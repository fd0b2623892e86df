package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"time"

	"github.com/opsguard/opsguard/control"
)

//go:embed report.html.tmpl
var reportTemplate string

var reportPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"date":     func(t time.Time) string { return t.Format("2 January 2006") },
	"shown":    shownRuns,
	"more":     func(c ControlResult) int { return len(c.Runs) - len(shownRuns(c)) },
	"entries":  func() string { return EntriesName },
	"word":     statusWord,
	"lastDay":  func(t time.Time) time.Time { return t.Add(-time.Nanosecond) },
	"evidence": func(r control.Ref) bool { return r.Kind == "evidence" || r.Kind == "blob" },
}).Parse(reportTemplate))

// maxShown bounds the runs listed per control in the report: every
// failure and the first and last runs, up to this many; results.json
// holds them all.
const maxShown = 60

func shownRuns(c ControlResult) []RunResult {
	if len(c.Runs) <= maxShown {
		return c.Runs
	}
	var out []RunResult
	for i, r := range c.Runs {
		if i == 0 || i == len(c.Runs)-1 || (r.Status != control.Pass && r.Status != control.NotApplicable && len(out) < maxShown-1) {
			out = append(out, r)
		}
	}
	return out
}

func statusWord(s control.Status) string {
	switch s {
	case control.Pass:
		return "satisfied"
	case control.Fail, control.Error:
		return "not satisfied"
	case control.NotApplicable:
		return "not applicable"
	}
	return "not assessed automatically"
}

type reportData struct {
	M                                  *Manifest
	R                                  Results
	Satisfied, NotSatisfied, NotTested int
	Failing                            []string
}

func renderHTML(m *Manifest, res Results) ([]byte, error) {
	d := reportData{M: m, R: res}
	for _, r := range res.Requirements {
		switch r.Status {
		case control.Pass:
			d.Satisfied++
		case control.Fail:
			d.NotSatisfied++
			d.Failing = append(d.Failing, r.ID)
		default:
			d.NotTested++
		}
	}
	var b bytes.Buffer
	if err := reportPage.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("render the report: %w", err)
	}
	return b.Bytes(), nil
}
