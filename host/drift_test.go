package host_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/baseline"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

func configService(t *testing.T, db *store.DB, c *clock, n host.Notifier, tickets *[]host.Ticket) *host.Service {
	key, err := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
	if err != nil {
		t.Fatal(err)
	}
	log := ledger.New(key, ledger.Options{Now: c.Now})
	return host.NewService(store.Bind[host.Tx](db), log, host.Options{Now: c.Now, Notifier: n, BatchWait: time.Millisecond, RetentionDays: 365,
		Tickets: func(context.Context) ([]host.Ticket, error) { return *tickets, nil }})
}

const webBaseline = `name: web
checks:
  - {id: ssh-root, kind: setting, path: /etc/ssh/sshd_config, key: PermitRootLogin, value: "no"}
software: ["a", "lib*"]
`

// configReport is host id's report at at, with one result of ssh-root
// under baseline bl.
func configReport(id string, at time.Time, bl string, pass bool, value string) host.Report {
	r := report(at, 100)
	r.HostID, r.Hostname, r.Groups = id, "host-"+id, []string{"web"}
	r.Baseline = &host.Evaluation{Baseline: bl, Results: []baseline.Result{
		{Check: "ssh-root", Kind: "setting", Pass: pass, Observed: map[string]string{"value": value}}}}
	return r
}

func approvedBaseline(t *testing.T, s *host.Service, doc string) host.Baseline {
	t.Helper()
	b, err := s.AddBaseline(t.Context(), "alice", "web", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DecideBaseline(t.Context(), "alice", b.ID, true, ""); opsguard.ErrorCode(err) != opsguard.EForbidden {
		t.Fatalf("the author approved her own baseline: %v", err)
	}
	if b, err = s.DecideBaseline(t.Context(), "bob", b.ID, true, "ok"); err != nil || b.State != host.BaselineApproved {
		t.Fatalf("approve: %+v %v", b, err)
	}
	return b
}

// A check going from pass to fail is drift: approved when an approved or
// implemented ticket names the host (or its group) and the check and the
// drift fell in its window; otherwise a violation, notified.
func TestDriftReconciledWithTickets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		c := &clock{t: t0}
		n := &notes{}
		var tickets []host.Ticket
		s := configService(t, db, c, n, &tickets)
		b := approvedBaseline(t, s, webBaseline)

		in := func(from, to time.Duration) (*time.Time, *time.Time) {
			a, z := t0.Add(from), t0.Add(to)
			return &a, &z
		}
		cases := []struct {
			name   string
			ticket func(h string) host.Ticket
			want   string
		}{
			{"ticket names host and check in window", func(h string) host.Ticket {
				s, e := in(0, 2*time.Hour)
				return host.Ticket{ID: "T1", State: "approved", Text: "Allow root on host-" + h + ": ssh-root relaxed.", WindowStart: s, WindowEnd: e}
			}, host.DriftApproved},
			{"implemented ticket names the group", func(h string) host.Ticket {
				s, e := in(0, 2*time.Hour)
				return host.Ticket{ID: "T2", State: "implemented", Text: "web servers: change ssh-root", WindowStart: s, WindowEnd: e}
			}, host.DriftApproved},
			{"outside the window", func(h string) host.Ticket {
				s, e := in(2*time.Hour, 3*time.Hour)
				return host.Ticket{ID: "T3", State: "approved", Text: "host-" + h + " ssh-root", WindowStart: s, WindowEnd: e}
			}, host.DriftViolation},
			{"wrong host", func(h string) host.Ticket {
				s, e := in(0, 2*time.Hour)
				return host.Ticket{ID: "T4", State: "approved", Text: "host-other ssh-root", WindowStart: s, WindowEnd: e}
			}, host.DriftViolation},
			{"rejected ticket", func(h string) host.Ticket {
				s, e := in(0, 2*time.Hour)
				return host.Ticket{ID: "T5", State: "rejected", Text: "host-" + h + " ssh-root", WindowStart: s, WindowEnd: e}
			}, host.DriftViolation},
			{"other check", func(h string) host.Ticket {
				s, e := in(0, 2*time.Hour)
				return host.Ticket{ID: "T6", State: "approved", Text: "host-" + h + " ssh-root-login", WindowStart: s, WindowEnd: e}
			}, host.DriftViolation},
			{"no window", func(h string) host.Ticket {
				return host.Ticket{ID: "T7", State: "approved", Text: "host-" + h + " ssh-root"}
			}, host.DriftViolation},
		}
		violations := 0
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id := string(rune('a' + i))
				tickets = []host.Ticket{tc.ticket(id)}
				c.Set(t0.Add(30 * time.Minute))
				ingest(t, s, configReport(id, c.Now().Add(-time.Minute), b.ID, true, "no"))
				ingest(t, s, configReport(id, c.Now(), b.ID, false, "yes"))
				ds, err := s.Drifts(t.Context(), "host-"+id)
				if err != nil || len(ds) != 1 {
					t.Fatalf("drifts %+v, %v", ds, err)
				}
				d := ds[0]
				if d.Status != tc.want || d.Before["value"] != "no" || d.After["value"] != "yes" || !d.Open() {
					t.Fatalf("drift %+v, want %s from no to yes", d, tc.want)
				}
				if tc.want == host.DriftApproved && d.TicketID != tickets[0].ID {
					t.Fatalf("approved by %q, want %s", d.TicketID, tickets[0].ID)
				}
				if tc.want == host.DriftViolation {
					violations++
				}
				if got := n.count("config.drift"); got != violations {
					t.Fatalf("%d config.drift notices, want %d", got, violations)
				}
			})
		}

		// Still failing: no second drift. A new version accepting "yes"
		// closes the drift of host a.
		tickets = nil
		c.Add(time.Minute)
		ingest(t, s, configReport("c", c.Now(), b.ID, false, "yes"))
		b2 := approvedBaseline(t, s, strings.Replace(webBaseline, `value: "no"`, `value: "yes"`, 1))
		if old, _ := s.Baseline(t.Context(), b.ID); old.State != host.BaselineSuperseded {
			t.Fatalf("%s is %s after %s was approved", b.ID, old.State, b2.ID)
		}
		c.Add(time.Minute)
		ingest(t, s, configReport("c", c.Now(), b2.ID, true, "yes"))
		ds, _ := s.Drifts(t.Context(), "host-c")
		if len(ds) != 1 || ds[0].Open() || !strings.Contains(ds[0].ClosedWhy, "web@2 accepts") {
			t.Fatalf("after the new version: %+v", ds)
		}
		if got := n.count("config.drift"); got != violations {
			t.Fatalf("%d notices after the closing, want %d", got, violations)
		}
	})
}

func ingest(t *testing.T, s *host.Service, r host.Report) host.Receipt {
	t.Helper()
	rc, err := s.Ingest(t.Context(), host.Sender{Actor: "agent"}, r)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// The receipt tells the agent its group's approved baseline; packages are
// stored, and those outside the approved list are violations unless an
// approved ticket names them.
func TestBaselineOrderAndSoftware(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
		var tickets []host.Ticket
		s := configService(t, db, c, nil, &tickets)
		r := configReport("p", c.Now(), host.DefaultBaseline, true, "no")
		r.Packages = []baseline.Package{{Name: "a", Version: "1"}, {Name: "libz", Version: "1"}, {Name: "b", Version: "1"}}
		if rc := ingest(t, s, r); rc.Baseline != nil {
			t.Fatalf("no approved baseline, the default evaluated, yet an order: %+v", rc.Baseline)
		}
		if _, err := s.AddBaseline(t.Context(), "alice", "web", []byte("name: web\nchecks:\n  - {id: x, kind: bogus}\n")); err == nil ||
			!strings.Contains(err.Error(), "web.yaml:3: checks[0].kind") {
			t.Fatalf("bad document: %v", err)
		}
		b := approvedBaseline(t, s, webBaseline)
		c.Add(time.Minute)
		r.CollectedAt = c.Now()
		r.Packages = []baseline.Package{{Name: "a", Version: "2"}, {Name: "libz", Version: "1"}, {Name: "c", Version: "1"}}
		rc := ingest(t, s, r)
		if rc.Baseline == nil || rc.Baseline.Baseline != b.ID || rc.Baseline.Document != webBaseline || rc.Baseline.RetentionDays != 365 {
			t.Fatalf("order %+v, want %s", rc.Baseline, b.ID)
		}
		tickets = []host.Ticket{{ID: "T9", State: "approved", Text: "install c on host-p"}}
		sw, err := s.Software(t.Context(), "host-p")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, p := range sw.Packages {
			got[p.Name+"="+p.Version] = p.Status
		}
		want := map[string]string{"a=2": host.PackageAllowed, "libz=1": host.PackageAllowed, "c=1": host.PackageTicket}
		if len(got) != len(want) || !sw.Listed || sw.Baseline != b.ID {
			t.Fatalf("software %+v", sw)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s, want %s", k, got[k], v)
			}
		}
		tickets = []host.Ticket{{ID: "T9", State: "rejected", Text: "install c on host-p"}}
		if sw, _ = s.Software(t.Context(), "host-p"); sw.Count[host.PackageViolation] != 1 {
			t.Fatalf("rejected ticket: %+v", sw.Count)
		}
		// Capture proposes the host's state as a draft of its group.
		cb, err := s.Capture(t.Context(), "carol", "host-p")
		if err != nil || cb.State != host.BaselineDraft || cb.Group != "web" || !strings.Contains(cb.Document, "- c") {
			t.Fatalf("capture %+v, %v", cb, err)
		}
	})
}

// CF-1 fails until the production host's group has an approved baseline
// the host evaluates; CF-2 fails on an open unapproved drift; CF-4 on a
// package outside the list, and passes once a ticket names it.
func TestConfigControls(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
		var tickets []host.Ticket
		s := configService(t, db, c, nil, &tickets)
		byReq := map[string]control.Control{}
		for _, ctl := range s.Controls(func(context.Context) ([]string, error) { return nil, nil }) {
			byReq[ctl.Requirement] = ctl
		}
		eval := func(req string) control.Outcome {
			t.Helper()
			o, err := byReq[req].Evaluate(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		r := configReport("p", c.Now(), host.DefaultBaseline, true, "no")
		r.Packages = []baseline.Package{{Name: "a", Version: "1"}, {Name: "nc", Version: "1"}}
		ingest(t, s, r)
		if o := eval("CF-1"); o.Status != control.Fail || !strings.Contains(o.Summary, "no approved baseline") {
			t.Fatalf("CF-1 without a baseline: %+v", o)
		}
		b := approvedBaseline(t, s, webBaseline)
		if o := eval("CF-1"); o.Status != control.Fail || !strings.Contains(o.Summary, "not yet reported an evaluation of web@1") {
			t.Fatalf("CF-1 before the host evaluated it: %+v", o)
		}
		for _, pass := range []bool{true, false} {
			c.Add(time.Minute)
			r := configReport("p", c.Now(), b.ID, pass, map[bool]string{true: "no", false: "yes"}[pass])
			r.Packages = []baseline.Package{{Name: "a", Version: "1"}, {Name: "nc", Version: "1"}}
			ingest(t, s, r)
		}
		checks := []struct {
			req    string
			status control.Status
			want   string
		}{
			{"CF-1", control.Pass, ""},
			{"CF-2", control.Fail, "1 unapproved drifts: ssh-root"},
			{"CF-4", control.Fail, "1 packages not approved: nc"},
		}
		for _, tc := range checks {
			if o := eval(tc.req); o.Status != tc.status || !strings.Contains(o.Summary, tc.want) {
				t.Errorf("%s: %+v, want %s with %q", tc.req, o, tc.status, tc.want)
			}
		}
		tickets = []host.Ticket{{ID: "T1", State: "implemented", Text: "Install nc on the web hosts"}}
		if o := eval("CF-4"); o.Status != control.Pass {
			t.Errorf("CF-4 with a ticket naming nc for the group: %+v", o)
		}
	})
}

// A report's results and packages out of bounds are refused with the
// JSON path of the field.
func TestReportConfigRefused(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		tweak func(r *host.Report)
		field string
	}{
		{"unknown kind", func(r *host.Report) { r.Baseline.Results[0].Kind = "registry" }, "baseline.results[0].kind"},
		{"bad baseline", func(r *host.Report) { r.Baseline.Baseline = "web" }, "baseline.baseline"},
		{"check twice", func(r *host.Report) { r.Baseline.Results = append(r.Baseline.Results, r.Baseline.Results[0]) }, "baseline.results[1].check"},
		{"package twice", func(r *host.Report) {
			r.Packages = []baseline.Package{{Name: "a", Version: "1"}, {Name: "a", Version: "2"}}
		}, "packages[1].name"},
		{"control character", func(r *host.Report) { r.Baseline.Results[0].Observed["value"] = "\x1b[2J" }, "baseline.results[0].observed.value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := configReport("p", now, "web@1", true, "no")
			tc.tweak(&r)
			err := r.Check(now)
			var e *opsguard.Error
			if !errors.As(err, &e) || e.Details["field"] != tc.field {
				t.Fatalf("error %v, want one at %s", err, tc.field)
			}
		})
	}
}
