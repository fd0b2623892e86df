package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/agent"
	"github.com/opsguard/opsguard/host/collect"
	"github.com/opsguard/opsguard/store/storetest"
)

// fakeHost reports a new minute each collection, from base on.
type fakeHost struct {
	base time.Time
	n    atomic.Int64
	env  string
}

func (f *fakeHost) Collect(context.Context) host.Report {
	i := f.n.Add(1)
	return host.Report{Version: 1, HostID: "m-fake1", Hostname: "web-1", Environment: f.env, CollectedAt: f.base.Add(time.Duration(i) * time.Minute),
		CPU: host.CPU{Percent: 12, Cores: 2}, Memory: host.Memory{TotalBytes: 1000, UsedBytes: 400, AvailableBytes: 600},
		Filesystems: []host.Filesystem{{Mount: "/", Device: "/dev/vda", Type: "ext4", TotalBytes: 1000, UsedBytes: 100 + uint64(i), AvailBytes: 900 - uint64(i), InodesTotal: 100, InodesUsed: 10}}}
}

// serveOn serves the env's handler on addr until the returned stop.
func serveOn(t *testing.T, e *env, addr string) (string, func()) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port of a stopped server may take a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.server.Handler()}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }
}

func TestAgentQueueSurvivesServerRestart(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnv(t, b.DSN(t))
			tok, secret, err := e.app.Auth.CreateToken(ctx, auth.CLI("test"), "agent", "web-1", 0)
			if err != nil {
				t.Fatal(err)
			}
			addr, stop := serveOn(t, e, "127.0.0.1:0")
			q, err := agent.OpenQueue(filepath.Join(t.TempDir(), "queue"), 100)
			if err != nil {
				t.Fatal(err)
			}
			fake := &fakeHost{base: time.Now().Add(-time.Hour).Truncate(time.Second), env: "production"}
			a := agent.New(fake, agent.HTTP{URL: "http://" + addr, Token: secret}, q, agent.Options{})
			step := func(n int) error {
				for range n {
					if err := a.Enqueue(ctx); err != nil {
						t.Fatal(err)
					}
				}
				return a.Flush(ctx)
			}
			if err := step(3); err != nil {
				t.Fatalf("flush with the server up: %v", err)
			}
			stop()
			if err := step(5); err == nil {
				t.Fatal("flush with the server down: no error")
			}
			if names, _ := q.Names(); len(names) != 5 {
				t.Fatalf("queue holds %d reports while the server is down, want 5", len(names))
			}
			_, stop = serveOn(t, e, addr)
			defer stop()
			if err := a.Flush(ctx); err != nil {
				t.Fatalf("flush after the restart: %v", err)
			}
			if names, _ := q.Names(); len(names) != 0 {
				t.Fatalf("queue holds %d reports after the restart", len(names))
			}
			ss, err := e.app.Host.History(ctx, "m-fake1", time.Time{})
			if err != nil || len(ss) != 8 {
				t.Fatalf("server holds %d samples (%v), want all 8", len(ss), err)
			}
			h, err := e.app.Host.Host(ctx, "web-1")
			if err != nil || h.Environment != "production" || !h.LastSeen.Equal(fake.base.Add(8*time.Minute)) || h.TokenID != tok.ID {
				t.Fatalf("host = %+v, %v", h, err)
			}
			// A revoked token is refused, and the report stays queued.
			if _, err := e.app.Auth.RevokeToken(ctx, auth.CLI("test"), tok.ID); err != nil {
				t.Fatal(err)
			}
			if err := step(1); err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("flush with a revoked token: %v, want a 401", err)
			}
			if names, _ := q.Names(); len(names) != 1 {
				t.Fatalf("queue holds %d reports after the refusal, want 1", len(names))
			}
		})
	}
}

func TestFactsRejectsBadReports(t *testing.T) {
	e := newSQLiteEnv(t)
	good := (&fakeHost{base: time.Now().Add(-time.Hour)}).Collect(ctx)
	mod := func(f func(m map[string]any)) string {
		b, _ := json.Marshal(good)
		var m map[string]any
		json.Unmarshal(b, &m)
		f(m)
		b, _ = json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name, token, body, field string
		status                   int
	}{
		{"accepted", e.tokens[auth.Agent], mod(func(map[string]any) {}), "", 202},
		{"again is a duplicate", e.tokens[auth.Agent], mod(func(map[string]any) {}), "", 200},
		{"future", e.tokens[auth.Agent], mod(func(m map[string]any) { m["collected_at"] = time.Now().Add(time.Hour).Format(time.RFC3339) }), "collected_at", 400},
		{"past", e.tokens[auth.Agent], mod(func(m map[string]any) { m["collected_at"] = "2020-01-01T00:00:00Z" }), "collected_at", 400},
		{"zero size", e.tokens[auth.Agent], mod(func(m map[string]any) { m["filesystems"].([]any)[0].(map[string]any)["total_bytes"] = 0 }), "filesystems[0].total_bytes", 400},
		{"cpu", e.tokens[auth.Agent], mod(func(m map[string]any) { m["cpu"].(map[string]any)["percent"] = 250 }), "cpu.percent", 400},
		{"malformed", e.tokens[auth.Agent], `{"version":1,`, "", 400},
		{"unknown field", e.tokens[auth.Agent], mod(func(m map[string]any) { m["extra"] = 1 }), "", 400},
		{"oversized", e.tokens[auth.Agent], `{"errors":["` + strings.Repeat("x", host.MaxReportBytes) + `"]}`, "", 400},
		{"unknown token", "ogt_nothing", mod(func(map[string]any) {}), "", 401},
		{"human token", e.tokens[auth.Engineer], mod(func(map[string]any) {}), "", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := e.do("POST", "/api/v1/host/facts", tc.token, strings.NewReader(tc.body), nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tc.status, errorOf(t, resp).Error.Message)
			}
			if tc.field != "" {
				if eb := errorOf(t, resp); eb.Error.Details["field"] != tc.field {
					t.Fatalf("error %q names field %v, want %s", eb.Error.Message, eb.Error.Details["field"], tc.field)
				}
			}
		})
	}
	if ss, _ := e.app.Host.History(ctx, good.HostID, time.Time{}); len(ss) != 1 {
		t.Fatalf("%d samples stored, want only the good one", len(ss))
	}
}

func TestAgentOnThisMachine(t *testing.T) {
	e := newSQLiteEnv(t)
	c, err := collect.New(collect.Options{StateDir: t.TempDir(), Environment: "staging", Chronyc: "-"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(c.Collect(ctx))
	err = agent.HTTP{URL: e.http.URL, Token: e.tokens[auth.Agent]}.Post(ctx, body)
	var ref *agent.Refused
	if errors.As(err, &ref) || err != nil {
		t.Fatalf("a real collection refused: %v", err)
	}
	hs, err := e.app.Host.Hosts(ctx)
	if err != nil || len(hs) != 1 || hs[0].ID != c.HostID() || hs[0].Environment != "staging" {
		t.Fatalf("hosts = %+v, %v", hs, err)
	}
	name, _ := os.Hostname()
	if hs[0].Name != name {
		t.Fatalf("host name %q, want %q", hs[0].Name, name)
	}
}

// addHosts has two hosts report two days of facts: db-1 in production
// with a disk filling, web-1 in staging sharing its token.
func addHosts(t *testing.T, e *env) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Minute)
	for h := 47; h >= 0; h-- {
		at := now.Add(-time.Duration(h) * time.Hour)
		used := uint64(400+h*0) + uint64(47-h)*8
		for _, r := range []host.Report{
			{Version: 1, HostID: "m-db1", Hostname: "db-1", Environment: "production", Groups: []string{"databases"}, CollectedAt: at,
				CPU: host.CPU{Percent: 35 + float64(h%7)*6, Cores: 8}, Memory: host.Memory{TotalBytes: 64 << 30, UsedBytes: 52 << 30},
				Load: host.Load{Load1: 2.5, Load5: 2.1, Load15: 1.9},
				Filesystems: []host.Filesystem{{Mount: "/", Device: "/dev/vda1", Type: "ext4", TotalBytes: 1000 << 20, UsedBytes: 300 << 20, AvailBytes: 700 << 20, InodesTotal: 65536, InodesUsed: 9000},
					{Mount: "/var/lib/postgresql", Device: "/dev/vdb", Type: "xfs", TotalBytes: 1000 << 30, UsedBytes: used << 30, AvailBytes: (1000 - used) << 30, InodesTotal: 1 << 20, InodesUsed: 4000}},
				Clock: &host.Clock{Source: "chrony", OffsetMS: 0.8, ErrorMS: 2.4, Synchronised: true, Server: "10.0.0.1", Stratum: 2}},
			{Version: 1, HostID: "m-web1", Hostname: "web-1", Environment: "staging", CollectedAt: at,
				CPU: host.CPU{Percent: 12, Cores: 2}, Memory: host.Memory{TotalBytes: 4 << 30, UsedBytes: 1 << 30},
				Filesystems: []host.Filesystem{{Mount: "/", Device: "/dev/vda1", Type: "ext4", TotalBytes: 40 << 30, UsedBytes: 33 << 30, AvailBytes: 7 << 30, InodesTotal: 65536, InodesUsed: 30000}},
				Clock:       &host.Clock{Source: "ntp", OffsetMS: -240, ErrorMS: 250, Synchronised: true, Server: "pool.ntp.org"}},
		} {
			if _, err := e.app.Host.Ingest(ctx, host.Sender{Actor: "agent", TokenID: "tok_shared", Address: "10.0.0.7"}, r); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestHostPages(t *testing.T) {
	e := newSQLiteEnv(t)
	addHosts(t, e)
	cookie, _ := e.signIn("auditor")
	_, body := e.page(cookie, "/hosts")
	for _, want := range []string{`id="host-db-1"`, "production", "shares token tok_shared with web-1 (staging)", "full in"} {
		if !strings.Contains(body, want) {
			t.Errorf("/hosts lacks %q", want)
		}
	}
	_, body = e.page(cookie, "/hosts/db-1?series=disk:/var/lib/postgresql")
	for _, want := range []string{`<svg class="chart"`, `class="trend"`, "<polyline", "/var/lib/postgresql"} {
		if !strings.Contains(body, want) {
			t.Errorf("/hosts/db-1 lacks %q", want)
		}
	}
}

// An admin sets a host's groups on its page, an auditor sees no form; the
// page and the API show the sealed daily records.
func TestHostGroupsAndDailyRecord(t *testing.T) {
	e := newSQLiteEnv(t)
	addHosts(t, e)
	if _, n, err := e.app.Host.RecordDay(ctx); err != nil || n != 2 {
		t.Fatalf("record day: %d hosts, %v", n, err)
	}
	auditor, _ := e.signIn("auditor")
	_, body := e.page(auditor, "/hosts/db-1")
	if strings.Contains(body, `id="groups-form"`) || !strings.Contains(body, `id="capacity-days"`) {
		t.Errorf("the auditor's host page: a groups form %v, the daily table %v", strings.Contains(body, `id="groups-form"`), strings.Contains(body, `id="capacity-days"`))
	}
	admin, csrf := e.signIn("admin")
	st, body := e.form(admin, "/hosts/db-1/groups", url.Values{"csrf_token": {csrf}, "groups": {"bad/group"}})
	if st != http.StatusBadRequest || !strings.Contains(body, "groups[0]") {
		t.Errorf("a bad group: %d, want 400 naming groups[0]", st)
	}
	st, body = e.form(admin, "/hosts/db-1/groups", url.Values{"csrf_token": {csrf}, "groups": {"critical-db, databases"}})
	if st != http.StatusOK || !strings.Contains(body, "Groups set.") || !strings.Contains(body, "set by admin") {
		t.Errorf("set groups: %d", st)
	}
	h, err := e.app.Host.Host(ctx, "db-1")
	if err != nil || strings.Join(h.Groups, ",") != "critical-db,databases" {
		t.Errorf("groups %v, %v", h.Groups, err)
	}
	resp := e.do("GET", "/api/v1/hosts/db-1/capacity/history?days=7", e.tokens[auth.Auditor], nil, nil)
	var got struct{ Items []host.DayRecord }
	jsonBody(t, resp, &got)
	if resp.StatusCode != 200 || len(got.Items) != 1 || got.Items[0].Host != "db-1" || len(got.Items[0].Filesystems) != 2 {
		t.Errorf("history: %d %+v", resp.StatusCode, got)
	}
	if resp := e.do("GET", "/api/v1/hosts/db-1/capacity/history?days=0", e.tokens[auth.Auditor], nil, nil); resp.StatusCode != 400 {
		t.Errorf("days=0: %d, want 400", resp.StatusCode)
	}
}
