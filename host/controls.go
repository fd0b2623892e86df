package host

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard/control"
)

// Tickets returns the texts (title and description) of the open change
// tickets, for CP-2: a projected full disk is planned for when a ticket
// names its host.
type Tickets func(ctx context.Context) ([]string, error)

// Controls returns CP-1, CP-2, CP-3, CF-1 … CF-5.
func (s *Service) Controls(tickets Tickets) []control.Control {
	return []control.Control{
		s.perHost("CP-1", "hosts-reporting", "Every production host reported within three report intervals (capacity.report_interval)", true,
			func(_ context.Context, st Status, _ Host) string {
				if st.Silent {
					return fmt.Sprintf("silent since %s", st.LastSeen.Format(time.RFC3339))
				}
				return ""
			}),
		s.cp2(tickets),
		{ID: "CP-3.alerted-in-time", Requirement: "CP-3", Title: "Every threshold crossing was alerted within capacity.alert_after (and a check interval)", Evaluate: s.alertedInTime},
		s.perHost("CF-3", "clocks", "Every production host's clock is synchronised within configuration.clock_max_offset_ms", true,
			func(_ context.Context, st Status, _ Host) string { return s.ClockProblem(st.Clock) }),
		s.perHost("CF-1", "baselines-approved", "Every production host's group has an approved baseline, and the host evaluates it", true, s.baselineProblem),
		s.perHost("CF-2", "no-unapproved-drift", "No production host has drifted from its baseline without an approved change ticket", true, s.driftProblem),
		s.perHost("CF-4", "software-approved", "Every package on a production host is on its group's approved list or named by an approved change ticket", true, s.softwareProblem),
		s.perHost("CF-5", "environments-separated", "No host reports into two environments or shares an address or token with a host of another", false,
			func(_ context.Context, _ Status, h Host) string { return strings.Join(h.Flags, "; ") }),
	}
}

func (s *Service) baselineProblem(ctx context.Context, _ Status, h Host) string {
	c, err := s.Configuration(ctx, h.ID)
	switch {
	case err != nil:
		return err.Error()
	case len(h.Groups) == 0:
		return "in no group, so under no baseline"
	case c.Baseline == "":
		return fmt.Sprintf("no approved baseline for its groups (%s)", strings.Join(h.Groups, ", "))
	case len(c.Results) == 0 || c.Results[0].Baseline != c.Baseline:
		return "has not yet reported an evaluation of " + c.Baseline
	}
	return ""
}

func (s *Service) driftProblem(ctx context.Context, _ Status, h Host) string {
	ds, err := s.Drifts(ctx, h.ID)
	if err != nil {
		return err.Error()
	}
	var bad []string
	for _, d := range ds {
		if d.Open() && d.Status == DriftViolation {
			bad = append(bad, d.Check+" since "+d.At.Format(time.RFC3339))
		}
	}
	if len(bad) > 0 {
		return fmt.Sprintf("%d unapproved drifts: %s", len(bad), control.Examples(bad, 3, ", "))
	}
	return ""
}

func (s *Service) softwareProblem(ctx context.Context, _ Status, h Host) string {
	sw, err := s.Software(ctx, h.ID)
	switch {
	case err != nil:
		return err.Error()
	case !sw.Listed:
		return "no approved software list for its groups"
	}
	var bad []string
	for _, p := range sw.Packages {
		if p.Status == PackageViolation {
			bad = append(bad, p.Name)
		}
	}
	if len(bad) > 0 {
		return fmt.Sprintf("%d packages not approved: %s", len(bad), control.Examples(bad, 5, ", "))
	}
	return ""
}

// perHost is a control that holds when problem finds nothing wrong with
// any host (of production only, when prodOnly); with no production host it
// fails, since nothing then proves production is watched.
func (s *Service) perHost(req, id, title string, prodOnly bool, problem func(ctx context.Context, st Status, h Host) string) control.Control {
	return control.Control{ID: req + "." + id, Requirement: req, Title: title, Evaluate: func(ctx context.Context) (control.Outcome, error) {
		sts, hs, err := s.both(ctx)
		if err != nil {
			return control.Outcome{}, err
		}
		var bad []string
		var refs []control.Ref
		n, prod := 0, 0
		for i, st := range sts {
			if st.Environment == Production {
				prod++
			}
			if prodOnly && st.Environment != Production {
				continue
			}
			n++
			if p := problem(ctx, st, hs[i]); p != "" {
				bad = append(bad, st.Host+": "+p)
				refs = append(refs, control.Ref{Kind: "host", ID: st.Host})
			}
		}
		if prod == 0 {
			return control.Outcome{Status: control.Fail, Summary: "No production host reports: nothing proves production is watched (run opsguard agent --env production on each)."}, nil
		}
		if len(bad) > 0 {
			return control.Outcome{Status: control.Fail, Refs: refs, Summary: fmt.Sprintf("%d of %d hosts fail: %s.", len(bad), n, control.Examples(bad, 5, "; "))}, nil
		}
		return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("All %d hosts hold.", n)}, nil
	}}
}

// both returns the statuses and the hosts in the same order.
func (s *Service) both(ctx context.Context) ([]Status, []Host, error) {
	sts, err := s.Status(ctx)
	if err != nil {
		return nil, nil, err
	}
	hs, err := s.Hosts(ctx)
	if err != nil || len(hs) != len(sts) {
		return nil, nil, fmt.Errorf("hosts changed while read: %v", err)
	}
	return sts, hs, nil
}

func (s *Service) cp2(tickets Tickets) control.Control {
	days := s.opts.Capacity.DiskFullWarnDays
	return s.perHost("CP-2", "no-unplanned-full-disk", fmt.Sprintf("No filesystem is projected full within %d days without an open change ticket naming its host", days), false,
		func(ctx context.Context, st Status, _ Host) string {
			var full []string
			for _, f := range st.Filesystems {
				if soon(f.DaysUntilFull, days) || soon(f.DaysUntilInodesFull, days) {
					full = append(full, f.Mount)
				}
			}
			if len(full) == 0 {
				return ""
			}
			if tickets != nil {
				texts, err := tickets(ctx)
				if err != nil {
					return "cannot read the change tickets: " + err.Error()
				}
				for _, t := range texts {
					if strings.Contains(t, st.Host) {
						return ""
					}
				}
			}
			return fmt.Sprintf("%s projected full within %d days and no open change ticket names the host", strings.Join(full, ", "), days)
		})
}

// alertedInTime fails on a crossing still pending past alert_after and a
// check interval: the check that should have alerted it did not run.
func (s *Service) alertedInTime(ctx context.Context) (control.Outcome, error) {
	var as []AlertState
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		as, err = tx.AlertStates(ctx)
		return err
	})
	if err != nil {
		return control.Outcome{}, err
	}
	due := s.opts.Capacity.AlertAfter + 2*s.opts.Capacity.CheckInterval
	now := s.now()
	var late []string
	firing := 0
	for _, a := range as {
		switch {
		case a.State == Pending && now.Sub(a.Since) > due:
			late = append(late, fmt.Sprintf("%s %s %s crossed at %s, not alerted", a.HostID, a.Metric, a.Level, a.Since.Format(time.RFC3339)))
		case a.State == Firing && a.FiredAt != nil && a.FiredAt.Sub(a.Since) > due:
			late = append(late, fmt.Sprintf("%s %s %s alerted %s after crossing", a.HostID, a.Metric, a.Level, a.FiredAt.Sub(a.Since).Round(time.Second)))
		case a.State == Firing:
			firing++
		}
	}
	if len(late) > 0 {
		return control.Outcome{Status: control.Fail, Summary: fmt.Sprintf("%d crossings not alerted within %s: %s.", len(late), due, control.Examples(late, 5, "; "))}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("Every crossing was alerted within %s (%d firing).", due, firing)}, nil
}
