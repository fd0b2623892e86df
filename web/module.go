package web

// module is what a domain module adds to the server: its routes (API and
// pages, each with the permission it needs) and the links to its pages in
// the navigation.
type module struct {
	name   string // as in app.Modules
	routes func(s *Server) []Route
	nav    []navLink
}

// modules are the domain modules the server serves, in the order of the
// navigation. New takes their routes and the layout their links from here.
var modules = []module{vulnModule, changeModule, backupModule, policyModule, reportModule, hostModule, eventsModule}

// navLink is one link of the navigation bar.
type navLink struct{ Label, Path string }

// navigation is the bar atop every signed-in page: the dashboard, the
// modules' pages, then the foundation's.
func navigation() []navLink {
	nav := []navLink{{"Compliance", "/"}}
	for _, m := range modules {
		nav = append(nav, m.nav...)
	}
	return append(nav,
		navLink{"Ledger", "/ledger"},
		navLink{"Notifications", "/notifications"},
		navLink{"Jobs", "/jobs"},
		navLink{"Users", "/users"},
		navLink{"API tokens", "/tokens"},
	)
}
