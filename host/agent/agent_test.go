package agent_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/agent"
	"github.com/opsguard/opsguard/host/baseline"
)

type collector struct{}

func (collector) Collect(context.Context) host.Report {
	return host.Report{Version: 1, HostID: "m", Hostname: "m", CollectedAt: time.Now()}
}

// sender records reports and answers with an order.
type sender struct {
	got   []host.Report
	order *host.Order
}

func (s *sender) Post(ctx context.Context, body []byte) error {
	_, err := s.Send(ctx, body)
	return err
}

func (s *sender) Send(_ context.Context, body []byte) (host.Receipt, error) {
	var r host.Report
	if err := json.Unmarshal(body, &r); err != nil {
		return host.Receipt{}, err
	}
	s.got = append(s.got, r)
	return host.Receipt{Baseline: s.order}, nil
}

// The agent evaluates the default baseline until the server names its
// group's, then that one, with the packages read once for both.
func TestAgentFollowsTheServersBaseline(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("/proc/sys/net/ipv4/ip_forward", "1\n")
	write("/var/lib/dpkg/status", "Package: chrony\nStatus: install ok installed\nVersion: 4.3\n")
	q, err := agent.OpenQueue(filepath.Join(dir, "queue"), 10)
	if err != nil {
		t.Fatal(err)
	}
	s := &sender{order: &host.Order{Baseline: "web@3", Document: "name: web\nchecks:\n  - {id: fwd, kind: sysctl, key: net.ipv4.ip_forward, value: '0'}\n  - {id: chrony, kind: package, package: chrony, min_version: '4.0'}\n"}}
	a := agent.New(collector{}, s, q, agent.Options{System: baseline.Root{Dir: dir}})
	for range 2 {
		if err := a.Enqueue(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := a.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.got) != 2 {
		t.Fatalf("%d reports", len(s.got))
	}
	first, second := s.got[0], s.got[1]
	if first.Baseline.Baseline != host.DefaultBaseline || len(first.Baseline.Results) != len(baseline.Default().Checks) {
		t.Fatalf("first report evaluated %s with %d results", first.Baseline.Baseline, len(first.Baseline.Results))
	}
	if second.Baseline.Baseline != "web@3" || len(second.Baseline.Results) != 2 {
		t.Fatalf("second report: %+v", second.Baseline)
	}
	if r := second.Baseline.Results; r[0].Pass || r[0].Observed["value"] != "1" || !r[1].Pass {
		t.Fatalf("results %+v", r)
	}
	if len(second.Packages) != 1 || second.Packages[0].Name != "chrony" {
		t.Fatalf("packages %+v", second.Packages)
	}
	if err := second.Check(time.Now()); err != nil {
		t.Fatalf("the server would refuse the report: %v", err)
	}
}
