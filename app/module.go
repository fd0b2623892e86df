package app

import (
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/jobs"
)

// module is what a domain module plugs into the app: its services, its
// controls and its periodic work. Open, registerControls and registerJobs
// walk modules, so a module is named once here; the faces keep a list of
// their own (web's modules, the CLI's moduleCmds) under the same names.
type module struct {
	name string
	// open builds the module's services onto their fields of App; the
	// store, the ledger, Auth and Notify are ready.
	open     func(a *App)
	controls func(a *App) []control.Control
	jobs     func(a *App) []jobs.Job
}

// modules are the domain modules of every instance, in the order of their
// controls.
var modules = []module{vulnModule, changeModule, backupModule, policyModule, reportModule, hostModule, eventsModule}

// Modules names the domain modules, for the faces' tests to check that each
// face plugs in every one.
func Modules() []string {
	names := make([]string, len(modules))
	for i, m := range modules {
		names[i] = m.name
	}
	return names
}
