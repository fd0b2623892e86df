package app

import (
	"context"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/events"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/baseline"
	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/store"
)

// eventsModule plugs the security events in: the agents' batches, syslog
// from network devices, alerts on patterns, retention (LG-1, LG-2).
var eventsModule = module{
	name: "events",
	open: func(a *App) {
		l := a.Config.Logging
		a.Events = events.NewService(store.Bind[events.Tx](a.DB), a.Log, events.Options{
			Retention:     time.Duration(l.RetentionDays) * 24 * time.Hour,
			Interval:      time.Duration(l.EventsIntervalMinutes) * time.Minute,
			FailedSignIns: l.FailedSignIns,
			FailedWindow:  time.Duration(l.FailedSignInWindowMinutes) * time.Minute,
			RootLogin:     l.RootLoginAlert,
			Notifier:      eventsNotifier{a},
			Hosts:         a.eventHosts,
			Now:           a.Now,
		})
	},
	controls: func(a *App) []control.Control { return a.Events.Controls() },
	jobs: func(a *App) []jobs.Job {
		return []jobs.Job{{Name: "events-retention", Interval: time.Hour, Run: func(ctx context.Context) error {
			_, err := a.Events.Prune(ctx)
			return err
		}}}
	},
}

// eventHosts are the hosts of the register for LG-1 and LG-2, each with
// how long its journald keeps logs when its baseline has a journald check.
func (a *App) eventHosts(ctx context.Context) ([]events.HostInfo, error) {
	hs, err := a.Host.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]events.HostInfo, len(hs))
	for i, h := range hs {
		out[i] = events.HostInfo{ID: h.ID, Name: h.Name, Environment: h.Environment}
		c, err := a.Host.Configuration(ctx, h.Name)
		if err != nil {
			return nil, err
		}
		out[i].JournaldRetention = journaldRetention(c.Results)
	}
	return out, nil
}

// journaldRetention is how long journald keeps logs by a host's newest
// journald check: none when not persistent, unbounded (by time) when
// MaxRetentionSec is unset or 0; nil when no check read it.
func journaldRetention(rs []host.CheckResult) *time.Duration {
	for _, r := range rs {
		if r.Kind != "journald" || r.Observed["storage"] == "" {
			continue
		}
		var d time.Duration
		if r.Observed["storage"] == "persistent" {
			var err error
			if d, err = baseline.Timespan(r.Observed["max_retention_sec"]); err != nil {
				continue
			}
			if d == 0 {
				d = math.MaxInt64
			}
		}
		return &d
	}
	return nil
}

// eventsNotifier queues event alerts in the outbox.
type eventsNotifier struct{ a *App }

func (n eventsNotifier) Notify(ctx context.Context, tx events.Tx, kind, subject, summary string, data map[string]any) error {
	return n.a.enqueue(ctx, tx, notify.Message{Kind: kind, Subject: subject, Summary: summary, Time: n.a.Now(), Data: data})
}

// ListenSyslog starts the syslog receiver on logging.syslog_listen (none
// when empty) until ctx ends; it returns once listening, or why it cannot.
func (a *App) ListenSyslog(ctx context.Context) (net.Addr, error) {
	addr := a.Config.Logging.SyslogListen
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("syslog: listen on %s: %w", addr, err)
	}
	a.Syslog = &events.SyslogServer{Service: a.Events, Logger: a.Logger}
	go func() {
		if err := a.Syslog.Serve(ctx, ln); err != nil {
			a.Logger.Error("syslog receiver stopped", "err", err)
		}
	}()
	return ln.Addr(), nil
}
