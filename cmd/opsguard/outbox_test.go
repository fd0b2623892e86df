package main_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// webhookReceiver is a loopback receiver that outlives the servers of a
// test: it answers 500 until up is set, and keeps the delivery id of every
// request it gets.
type webhookReceiver struct {
	url string
	up  atomic.Bool

	mu       sync.Mutex
	requests []string // X-Opsguard-Delivery of each request
	accepted []string // ... of those answered 200
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &webhookReceiver{url: "http://" + ln.Addr().String() + "/hook"}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id := req.Header.Get("X-Opsguard-Delivery")
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests = append(r.requests, id)
		if !r.up.Load() {
			http.Error(w, "receiver down", http.StatusInternalServerError)
			return
		}
		r.accepted = append(r.accepted, id)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *webhookReceiver) seen() (requests, accepted []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...), append([]string(nil), r.accepted...)
}

// server is a running `opsguard serve`.
type server struct {
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *lockedBuffer
}

func startServer(t *testing.T, env []string, addr string) *server {
	t.Helper()
	s := &server{cmd: exec.Command(binary(t), "serve"), exited: make(chan struct{}), stderr: &lockedBuffer{}}
	s.cmd.Env = environ(env...)
	s.cmd.Stdout, s.cmd.Stderr = &lockedBuffer{}, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("opsguard serve stderr:\n%s", s.stderr.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("opsguard serve exited before it was healthy:\n%s", s.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("GET /healthz did not answer 200 within 15s")
		}
	}
}

type outboxItem struct {
	Status  string `json:"status"`
	Message struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	} `json:"message"`
	Attempts int `json:"attempts"`
}

// signIn returns the session cookie of user (the auditor reads the outbox).
func signIn(t *testing.T, base, user, password string) string {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/session", "application/json", strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "opsguard_session" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("sign in as %s: status %d, no session cookie", user, resp.StatusCode)
	return ""
}

func listNotifications(t *testing.T, base, cookie string) []outboxItem {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v1/notifications", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct {
		Items []outboxItem `json:"items"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&l) != nil {
		t.Fatalf("GET /api/v1/notifications: status %d", resp.StatusCode)
	}
	return l.Items
}

// waitFor polls cond every 100ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

// A notice queued while its webhook is down survives the server being
// killed (SIGKILL, no shutdown at all): the next server delivers it, exactly
// once, under the same delivery id.
func TestBinaryNotificationSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	hook := newWebhookReceiver(t)
	secret := filepath.Join(dir, "hook.secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	cfgFile := filepath.Join(dir, "opsguard.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`notifications:
  channels:
    - name: ops
      type: webhook
      url: %s
      secret_file: %s
  routes:
    auth.password_reset: [ops]
`, hook.url, secret)), 0o600)
	addr := freeAddr(t)
	base := "http://" + addr
	adminPW := randomPassword(t)
	env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "data"), "OPSGUARD_LISTEN=" + addr,
		"OPSGUARD_ADMIN_PASSWORD=" + adminPW, "OPSGUARD_CONFIG=" + cfgFile}

	first := startServer(t, env, addr)
	mustRun(t, append(env, "OPSGUARD_USER_PASSWORD="+adminPW), "", "user", "add", "olga", "--role", "auditor")
	cookie := signIn(t, base, "olga", adminPW)
	mustRun(t, append(env, "OPSGUARD_USER_PASSWORD="+randomPassword(t)), "", "user", "add", "bob", "--role", "engineer", "--email", "bob@example.com")
	mustRun(t, env, "", "user", "passwd", "bob")

	// The server claims the notice and fails at least once against the
	// receiver; wait until that attempt is on record, then kill it.
	var id string
	waitFor(t, 20*time.Second, "a failed attempt recorded", func() bool {
		items := listNotifications(t, base, cookie)
		if len(items) == 1 && items[0].Attempts > 0 {
			id = items[0].Message.ID
			return true
		}
		return false
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	before, accepted := hook.seen()
	if len(accepted) != 0 || len(before) == 0 {
		t.Fatalf("before the restart: requests %v, accepted %v", before, accepted)
	}

	hook.up.Store(true)
	startServer(t, env, addr)
	waitFor(t, 30*time.Second, "the notice sent after the restart", func() bool {
		items := listNotifications(t, base, cookie)
		return len(items) == 1 && items[0].Status == "sent"
	})
	time.Sleep(3 * time.Second) // a second delivery would come within a poll or two
	requests, accepted := hook.seen()
	if len(accepted) != 1 || accepted[0] != id {
		t.Errorf("accepted deliveries %v, want exactly one of %s", accepted, id)
	}
	for i, got := range requests {
		if got != id {
			t.Errorf("request %d carried delivery id %q, want %s", i+1, got, id)
		}
	}
	t.Logf("%d requests in all (%d before the kill), one accepted", len(requests), len(before))
	if items := listNotifications(t, base, cookie); items[0].Attempts != len(requests) {
		t.Errorf("recorded %d attempts, the receiver saw %d", items[0].Attempts, len(requests))
	}
	// The CLI reads the same outbox beside the running server.
	var listed []outboxItem
	out := mustRun(t, env, "", "notifications", "list", "--status", "sent", "-o", "json")
	if err := json.Unmarshal([]byte(out.stdout), &listed); err != nil || len(listed) != 1 || listed[0].Message.ID != id {
		t.Errorf("notifications list: %v %+v\n%s", err, listed, out)
	}
	if r := run(t, env, "", "notifications", "list", "--status", "lost"); r.code == 0 || !strings.Contains(r.stderr, "lost") || !strings.Contains(r.stderr, "status") {
		t.Errorf("a bad status: %s", r)
	}
}
