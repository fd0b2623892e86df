package web

import (
	"slices"
	"testing"

	"github.com/opsguard/opsguard/app"
)

// Every module the app wires is served, under the same name, in the same
// order: a module missing from this face fails here, not in production.
func TestEveryModuleServed(t *testing.T) {
	var names []string
	for _, m := range modules {
		names = append(names, m.name)
		if m.routes == nil {
			t.Errorf("module %s: no routes", m.name)
		}
	}
	if want := app.Modules(); !slices.Equal(names, want) {
		t.Errorf("web serves modules %v, the app wires %v", names, want)
	}
}
