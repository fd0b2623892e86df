package host_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

func TestControls(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 3, 2, 0, 30, 0, 0, time.UTC)}
		s := newService(t, db, c, nil)
		var tickets []string
		byReq := map[string]control.Control{}
		for _, ctl := range s.Controls(func(context.Context) ([]string, error) { return tickets, nil }) {
			byReq[ctl.Requirement] = ctl
		}
		eval := func(req string) control.Outcome {
			o, err := byReq[req].Evaluate(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		if o := eval("CP-1"); o.Status != control.Fail || !strings.Contains(o.Summary, "No production host") {
			t.Fatalf("CP-1 with no host: %+v", o)
		}
		// db-1 fills its disk 10 bytes an hour (full in a day); its clock is
		// 150 ms off; web-1 in staging shares its address.
		for h := range 24 {
			c.Set(time.Date(2026, 3, 2, 0, 30, 0, 0, time.UTC).Add(time.Duration(h) * time.Hour))
			r := report(c.Now(), uint64(530+10*h))
			r.Clock = &host.Clock{Source: "ntp", OffsetMS: 150, ErrorMS: 151, Synchronised: true}
			if _, err := s.Ingest(t.Context(), host.Sender{Actor: "agent", Address: "10.0.0.9", TokenID: "tok1"}, r); err != nil {
				t.Fatal(err)
			}
		}
		w := report(c.Now(), 100)
		w.HostID, w.Hostname, w.Environment = "m-2", "web-1", "staging"
		if _, err := s.Ingest(t.Context(), host.Sender{Actor: "agent", Address: "10.0.0.9", TokenID: "tok2"}, w); err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			req    string
			status control.Status
			want   string
		}{
			{"CP-1", control.Pass, ""},
			{"CP-2", control.Fail, "db-1: / projected full"},
			{"CF-3", control.Fail, "db-1: error bound 151.0 ms beyond 100 ms"},
			{"CF-5", control.Fail, "shares address 10.0.0.9 with web-1 (staging)"},
			{"CP-3", control.Pass, ""},
		}
		for _, tc := range checks {
			if o := eval(tc.req); o.Status != tc.status || !strings.Contains(o.Summary, tc.want) {
				t.Errorf("%s: %s %q, want %s naming %q", tc.req, o.Status, o.Summary, tc.status, tc.want)
			}
		}
		tickets = []string{"Grow the disk of db-1\nbefore Friday"}
		if o := eval("CP-2"); o.Status != control.Pass {
			t.Errorf("CP-2 with a ticket naming db-1: %+v", o)
		}
		// Silent for three intervals: CP-1 fails.
		c.Add(4 * time.Minute)
		if o := eval("CP-1"); o.Status != control.Fail || !strings.Contains(o.Summary, "db-1: silent since") {
			t.Errorf("CP-1 with db-1 silent: %+v", o)
		}
		// A crossing never alerted (no check ran): CP-3 fails.
		c.Add(-4 * time.Minute)
		if err := s.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.Add(20 * time.Minute)
		if o := eval("CP-3"); o.Status != control.Fail || !strings.Contains(o.Summary, "not alerted") {
			t.Errorf("CP-3 with a crossing pending 20 minutes: %+v", o)
		}
	})
}
