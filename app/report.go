package app

import (
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/report"
	"github.com/opsguard/opsguard/store"
)

// reportModule plugs the audit bundle in: an export of a period that an
// auditor verifies offline. It has no controls or jobs of its own; it
// reads every module's results through the ledger.
var reportModule = module{
	name: "audit",
	open: func(a *App) {
		a.Report = report.NewService(store.Bind[report.Tx](a.DB), a.Log, report.ServiceOptions{
			Now:      a.Now,
			Controls: a.controlInfo,
			PDF:      report.ChromiumPDF(),
		})
	},
	controls: func(*App) []control.Control { return nil },
	jobs:     func(*App) []jobs.Job { return nil },
}

// controlInfo names the registered controls and their requirements.
func (a *App) controlInfo() []report.ControlInfo {
	cs := a.Controls.Controls()
	out := make([]report.ControlInfo, len(cs))
	for i, c := range cs {
		out[i] = report.ControlInfo{ID: c.ID, Requirement: c.Requirement, Title: c.Title}
	}
	return out
}
