package host_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/collect"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPrometheus runs Debian's prometheus on loopback, scraping target
// every second, and returns its URL.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		storetest.Missing(t, "prometheus is not installed (apt-get install prometheus)")
	}
	dir := t.TempDir()
	conf := fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: test\n    static_configs:\n      - targets: [%q]\n", target)
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o600)
	addr := freePort(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return "http://" + addr
}

// A real Prometheus scrapes a target the test serves; its values become
// the hosts' metrics, checked against their levels and alerted.
func TestPrometheusSource(t *testing.T) {
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE test_disk_used_percent gauge\ntest_disk_used_percent{node=\"db-7\"} 91\ntest_disk_used_percent{node=\"web-2\"} 40\n")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go target.Serve(ln)
	t.Cleanup(func() { target.Close() })
	url := startPrometheus(t, ln.Addr().String())
	qs := []collect.PromQuery{{Name: "disk_used", Expr: "test_disk_used_percent", HostLabel: "node"}}
	var ms []host.Metric
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if ms, err = collect.Prometheus(t.Context(), url, qs, time.Now()); err == nil && len(ms) == 2 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(ms) != 2 {
		t.Fatalf("prometheus answered %v, %v", ms, err)
	}
	if _, err := collect.Prometheus(t.Context(), url, []collect.PromQuery{{Name: "broken", Expr: "sum("}}, time.Now()); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("a bad expression: %v, want an error naming the query", err)
	}
	if _, err := collect.Prometheus(t.Context(), "http://"+freePort(t), qs, time.Now()); err == nil || !strings.Contains(err.Error(), "disk_used") {
		t.Fatalf("a Prometheus that is down: %v, want an error naming the query", err)
	}

	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Now().UTC().Truncate(time.Second)}
		n := &notes{}
		key, _ := ledger.CreateKey(filepath.Join(t.TempDir(), "k.key"))
		s := host.NewService(store.Bind[host.Tx](db), ledger.New(key, ledger.Options{Now: c.Now}), host.Options{Now: c.Now, Notifier: n,
			Capacity: host.Capacity{AlertAfter: 5 * time.Minute, Metrics: map[string]host.Level{"disk_used": {Warning: 80, Critical: 90}}}})
		for range 2 {
			if err := s.RecordMetrics(context.Background(), "system", c.Now(), ms); err != nil {
				t.Fatal(err)
			}
			if err := s.Check(context.Background()); err != nil {
				t.Fatal(err)
			}
			c.Add(6 * time.Minute)
		}
		if got := n.count("capacity.alert"); got != 2 {
			t.Fatalf("%d alerts, want 2 (db-7's warning and critical)", got)
		}
		sts, err := s.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		state := map[string]string{}
		for _, st := range sts {
			for _, m := range st.Metrics {
				state[st.Host] = m.State
			}
		}
		if state["db-7"] != host.Critical || state["web-2"] != host.OK {
			t.Fatalf("states %v", state)
		}
		hs, err := s.Hours(context.Background(), "p-db-7", "metric:disk_used", time.Time{})
		if err != nil || len(hs) == 0 || hs[0].Avg != 91 {
			t.Fatalf("hourly series %+v, %v", hs, err)
		}
	})
}
