package main

import (
	"slices"
	"testing"

	"github.com/opsguard/opsguard/app"
)

// Every module the app wires has its command, under the same name, in the
// same order, and the root carries it.
func TestEveryModuleCommanded(t *testing.T) {
	var names []string
	for _, m := range modules {
		names = append(names, m.name)
	}
	if want := app.Modules(); !slices.Equal(names, want) {
		t.Errorf("the CLI has modules %v, the app wires %v", names, want)
	}
	root := newRoot()
	for _, name := range names {
		if c, _, err := root.Find([]string{name}); err != nil || c.Name() != name {
			t.Errorf("opsguard %s: not a command of the root (%v)", name, err)
		}
	}
}
