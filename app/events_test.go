package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/events"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/baseline"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/store/storetest"
)

// The whole app, by an injected clock: a burst of failed sign-ins queues
// one notification in the outbox; a year and a day later the retention
// job deletes the events and the ledger (as opsguard ledger verify checks
// it: tree, checkpoints, sealed rows) still verifies, the batch hashes kept.
func TestEventsAlertAndRetentionVerify(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
			a := openWithClock(t, hookConfig(t, b.DSN(t), newHook(t)), c)
			for i := range 8 {
				c.Add(20 * time.Second)
				_, err := a.Events.Ingest(ctx, events.Sender{Actor: "agent", Source: events.SourceAgent}, events.Batch{Version: 1, HostID: "m-1", Events: []events.Event{
					{At: c.Now(), Kind: events.SSHFailed, User: "root", Address: "203.0.113.9", Program: "sshd", Message: "Failed password"},
				}, Malformed: i % 2})
				if err != nil {
					t.Fatal(err)
				}
			}
			n := 0
			for _, d := range notifications(t, a, notify.Pending) {
				if d.Message.Kind == "events.failed_sign_ins" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d failed-sign-in notifications queued for one burst of 8, want 1", n)
			}
			c.Add(366 * 24 * time.Hour)
			r, err := a.Events.Prune(ctx)
			if err != nil || r.Events != 8 || r.Batches != 8 {
				t.Fatalf("retention: %+v, %v", r, err)
			}
			if es, _ := a.Events.Search(ctx, events.Filter{}); len(es) != 0 {
				t.Fatalf("%d events left after the retention", len(es))
			}
			rep, err := a.VerifyLedger(ctx)
			if err != nil || !rep.OK() {
				t.Fatalf("ledger verify after the retention: %v %q", err, rep.Problems)
			}
		})
	}
}

// LG-2 reads journald's retention from a production host's baseline
// results: a host keeping its journal 30 days fails it, named; one
// keeping it without a time limit passes.
func TestLG2ReadsJournaldRetention(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
			a := openWithClock(t, hookConfig(t, b.DSN(t), newHook(t)), c)
			report := func(id, name, retention string) {
				t.Helper()
				_, err := a.Host.Ingest(ctx, host.Sender{Actor: "agent"}, host.Report{Version: 1, HostID: id, Hostname: name, Environment: "production",
					CollectedAt: c.Now(), Memory: host.Memory{TotalBytes: 100, UsedBytes: 10},
					Baseline: &host.Evaluation{Baseline: "default", Results: []baseline.Result{{Check: "journald-persistent", Kind: "journald",
						Pass: retention == "", Observed: map[string]string{"storage": "persistent", "max_retention_sec": retention}}}}})
				if err != nil {
					t.Fatal(err)
				}
			}
			report("m-1", "short-1", "30day")
			report("m-2", "long-1", "")
			run, err := a.Controls.Run(ctx, "t", "manual")
			if err != nil {
				t.Fatal(err)
			}
			var lg2 *control.Result
			for i, r := range run.Results {
				if r.ControlID == "LG-2.events-retained" {
					lg2 = &run.Results[i]
				}
			}
			if lg2 == nil || lg2.Status != control.Fail || !strings.Contains(lg2.Summary, "short-1: journald keeps 30.0 days") ||
				strings.Contains(lg2.Summary, "long-1") || strings.Contains(lg2.Summary, "unknown") {
				t.Fatalf("LG-2: %+v", lg2)
			}
		})
	}
}
