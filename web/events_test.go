package web_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/events"
	"github.com/opsguard/opsguard/host/agent"
	"github.com/opsguard/opsguard/host/collect"
)

// The agent ships auth.log's security events with its token; the API
// finds them by every filter and the page lists them; a bad batch is
// refused naming where, and nothing of it is kept.
func TestEventsThroughAPI(t *testing.T) {
	e := newSQLiteEnv(t)
	dir := t.TempDir()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	line := func(d time.Duration, rest string) string {
		return at.Add(d).Format("2006-01-02T15:04:05.000000-07:00") + " web-1 " + rest + "\n"
	}
	os.WriteFile(filepath.Join(dir, "auth.log"), []byte(
		line(0, "sshd[10]: Failed password for root from 203.0.113.9 port 4000 ssh2")+
			line(time.Second, "sshd[11]: Accepted publickey for ann from 192.0.2.1 port 4001 ssh2")+
			line(2*time.Second, "sudo:      ann : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls")+
			"not a log line\n"), 0o600)
	j := &collect.Journal{HostID: "m-1", StateDir: dir, AuthLog: filepath.Join(dir, "auth.log"), UseAuthLog: true}
	p := agent.HTTP{URL: e.http.URL, Token: e.tokens[auth.Agent], Path: agent.EventsPath}
	if n, err := agent.ShipEvents(ctx, j, p, slog.New(slog.DiscardHandler)); err != nil || n != 3 {
		t.Fatalf("shipped %d, %v", n, err)
	}
	if n, err := agent.ShipEvents(ctx, j, p, slog.New(slog.DiscardHandler)); err != nil || n != 0 {
		t.Fatalf("a heartbeat shipped %d, %v", n, err)
	}
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"", 3}, {"?host=m-1", 3}, {"?kind=ssh.failed", 1}, {"?user=ann", 2}, {"?address=192.0.2.1", 1},
		{"?since=" + at.Add(time.Second).Format(time.RFC3339), 2}, {"?until=" + at.Add(time.Second).Format(time.RFC3339), 1}, {"?host=other", 0},
	} {
		var got struct{ Items []events.Event }
		resp := e.do("GET", "/api/v1/events"+tc.query, e.tokens[auth.Auditor], nil, nil)
		jsonBody(t, resp, &got)
		if resp.StatusCode != 200 || len(got.Items) != tc.want {
			t.Errorf("%s: %d, %d events; want %d", tc.query, resp.StatusCode, len(got.Items), tc.want)
		}
	}
	good := `{"version":1,"host_id":"m-1","events":[{"at":"` + at.Format(time.RFC3339) + `","kind":"login","user":"root","message":"ROOT LOGIN ON tty1"}]}`
	for _, tc := range []struct {
		name, token, body, want string
		status                  int
	}{
		{"bad kind", e.tokens[auth.Agent], strings.Replace(good, `"login"`, `"logout"`, 1), "events[0].kind", 400},
		{"malformed", e.tokens[auth.Agent], `{"version":1,"host_id":`, "", 400},
		{"oversized", e.tokens[auth.Agent], `{"version":1,"host_id":"m-1","events":[],"x":"` + strings.Repeat("x", events.MaxBatchBytes) + `"}`, "", 400},
		{"human token", e.tokens[auth.Engineer], good, "", 403},
	} {
		resp := e.do("POST", "/api/v1/events", tc.token, strings.NewReader(tc.body), nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.status)
		} else if tc.want != "" {
			if eb := errorOf(t, resp); eb.Error.Details["field"] != tc.want {
				t.Errorf("%s: %q names %v, want %s", tc.name, eb.Error.Message, eb.Error.Details["field"], tc.want)
			}
		}
	}
	if resp := e.do("GET", "/api/v1/events?since=yesterday", e.tokens[auth.Auditor], nil, nil); resp.StatusCode != 400 {
		t.Errorf("a bad since: %d", resp.StatusCode)
	}
	if es, _ := e.app.Events.Search(ctx, events.Filter{}); len(es) != 3 {
		t.Errorf("%d events stored, want the 3 shipped and none of the refused", len(es))
	}
	cookie, _ := e.signIn("auditor")
	status, body := e.page(cookie, "/events?user=ann")
	if status != 200 || !strings.Contains(body, "COMMAND=/bin/ls") || strings.Contains(body, "203.0.113.9") {
		t.Errorf("event page %d:\n%s", status, body)
	}
	resp := e.do("POST", "/api/v1/events", e.tokens[auth.Agent], strings.NewReader(good), nil)
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 202 {
		t.Fatalf("the good batch: %d", resp.StatusCode)
	}
}
