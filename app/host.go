package app

import (
	"context"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/collect"
	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/store"
)

// hostModule plugs the host register in: the agents' facts, capacity with
// its alerts, clocks and environments, baselines, drift and software
// (CP-1 … CP-3, CF-1 … CF-5).
var hostModule = module{
	name: "host",
	open: func(a *App) {
		c := a.Config.Capacity
		a.Host = host.NewService(store.Bind[host.Tx](a.DB), a.Log, host.Options{
			Capacity: host.Capacity{
				Default: host.Thresholds{
					CPU: host.Level{Warning: c.Warning.CPUPercent, Critical: c.CPUPercent}, Memory: host.Level{Warning: c.Warning.MemoryPercent, Critical: c.MemoryPercent},
					Disk: host.Level{Warning: c.Warning.DiskPercent, Critical: c.DiskPercent}, Inodes: host.Level{Warning: c.Warning.InodePercent, Critical: c.InodePercent},
				},
				Groups:     groupThresholds(c.Groups),
				Metrics:    promLevels(c.Prometheus.Queries),
				AlertAfter: c.AlertAfter, Hysteresis: c.HysteresisPercent, DiskFullWarnDays: c.DiskFullWarnDays,
				TrendWindow: c.TrendWindow, RawWindow: c.RawWindow, ReportInterval: c.ReportInterval, CheckInterval: c.CheckInterval,
			},
			ClockMaxOffset: time.Duration(a.Config.Configuration.ClockMaxOffsetMS) * time.Millisecond,
			Notifier:       hostNotifier{a},
			Now:            a.Now,
			Tickets:        a.approvedTickets,
			RetentionDays:  a.Config.Logging.RetentionDays,
		})
	},
	controls: func(a *App) []control.Control { return a.Host.Controls(a.openTicketTexts) },
	jobs: func(a *App) []jobs.Job {
		return []jobs.Job{
			{Name: "capacity-check", Interval: a.Config.Capacity.CheckInterval, Run: a.Host.Check},
			{Name: "host-downsample", Interval: time.Hour, Run: func(ctx context.Context) error { _, err := a.Host.Downsample(ctx); return err }},
			{Name: "capacity-record", Interval: time.Hour, Run: func(ctx context.Context) error { _, _, err := a.Host.RecordDay(ctx); return err }},
			{Name: "capacity-prometheus", Interval: a.Config.Capacity.CheckInterval, Run: a.QueryPrometheus},
		}
	},
}

func groupThresholds(gs map[string]config.CapacityGroup) map[string]host.Thresholds {
	out := map[string]host.Thresholds{}
	for name, g := range gs {
		out[name] = host.Thresholds{
			CPU: host.Level{Warning: g.Warning.CPUPercent, Critical: g.Critical.CPUPercent}, Memory: host.Level{Warning: g.Warning.MemoryPercent, Critical: g.Critical.MemoryPercent},
			Disk: host.Level{Warning: g.Warning.DiskPercent, Critical: g.Critical.DiskPercent}, Inodes: host.Level{Warning: g.Warning.InodePercent, Critical: g.Critical.InodePercent},
		}
	}
	return out
}

func promLevels(qs []config.PromQuery) map[string]host.Level {
	out := map[string]host.Level{}
	for _, q := range qs {
		if q.Critical != 0 {
			w := q.Warning
			if w == 0 {
				w = q.Critical
			}
			out[q.Name] = host.Level{Warning: w, Critical: q.Critical}
		}
	}
	return out
}

// QueryPrometheus records the values of the config's PromQL expressions
// (capacity.prometheus); without a Prometheus it does nothing. A query
// that fails is in the error (the job's run records it), the others are
// recorded.
func (a *App) QueryPrometheus(ctx context.Context) error {
	p := a.Config.Capacity.Prometheus
	if p.URL == "" {
		return nil
	}
	qs := make([]collect.PromQuery, len(p.Queries))
	for i, q := range p.Queries {
		qs[i] = collect.PromQuery{Name: q.Name, Expr: q.Expr, HostLabel: q.HostLabel}
	}
	now := a.Now()
	ms, qerr := collect.Prometheus(ctx, p.URL, qs, now)
	if err := a.Host.RecordMetrics(ctx, "system", now, ms); err != nil {
		return err
	}
	return qerr
}

// openTicketTexts are the titles and descriptions of the change tickets
// not yet closed, for CP-2.
func (a *App) openTicketTexts(ctx context.Context) ([]string, error) {
	var out []string
	for _, st := range []string{change.TicketDraft, change.TicketSubmitted, change.TicketApproved, change.TicketImplemented} {
		ts, err := a.Tickets.Every(ctx, st)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			out = append(out, t.Title+"\n"+t.Description)
		}
	}
	return out, nil
}

// approvedTickets are the change tickets approved or implemented, which
// approve drift and software that they name (CF-2, CF-4).
func (a *App) approvedTickets(ctx context.Context) ([]host.Ticket, error) {
	var out []host.Ticket
	for _, st := range []string{change.TicketApproved, change.TicketImplemented} {
		// The newest MaxPage of each state: older tickets' windows are long past.
		ts, err := a.Tickets.List(ctx, change.TicketFilter{State: st, Limit: opsguard.MaxPage})
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			out = append(out, host.Ticket{ID: t.ID, State: t.State, Text: t.Title + "\n" + t.Description, WindowStart: t.WindowStart, WindowEnd: t.WindowEnd})
		}
	}
	return out, nil
}

// hostNotifier queues capacity alerts in the outbox.
type hostNotifier struct{ a *App }

func (n hostNotifier) Notify(ctx context.Context, tx host.Tx, kind, subject, summary string, data map[string]any) error {
	return n.a.enqueue(ctx, tx, notify.Message{Kind: kind, Subject: subject, Summary: summary, Time: n.a.Now(), Data: data})
}
