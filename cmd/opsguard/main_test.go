package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/opsguard/opsguard/store/storetest"
)

// build is the opsguard binary, built once for every test of the package.
var build struct {
	once sync.Once
	dir  string // removed by TestMain
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "opsguard-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds the real opsguard command from this package's source.
func binary(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		storetest.Missing(t, "binary tests build opsguard with the go command: "+err.Error())
	}
	build.once.Do(func() {
		wd, err := os.Getwd()
		if err != nil {
			build.err = err
			return
		}
		path := filepath.Join(build.dir, "opsguard")
		cmd := exec.Command(gobin, "build", "-o", path, ".")
		cmd.Dir = wd
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		t.Logf("built %s in %v", path, time.Since(start).Round(time.Millisecond))
		build.path = path
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// environ is this process's environment without any OPSGUARD_ variable,
// plus vars, so a developer's settings cannot leak into the binary.
func environ(vars ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPSGUARD_") {
			env = append(env, kv)
		}
	}
	return append(env, vars...)
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// result is how one run of the binary ended.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the binary to its end with env and stdin; it fails t when the
// binary cannot start or takes longer than 30s.
func run(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = environ(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("opsguard %s: did not end within 30s\n%s", strings.Join(args, " "), r)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("opsguard %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRun runs the binary and requires exit status 0.
func mustRun(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	r := run(t, env, stdin, args...)
	if r.code != 0 {
		t.Fatalf("opsguard %s:\n%s", strings.Join(args, " "), r)
	}
	return r
}

// freeAddr returns a loopback address with a port nobody listened on a
// moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func randomPassword(t *testing.T) string {
	t.Helper()
	b := make([]byte, 10)
	rand.Read(b)
	return hex.EncodeToString(b) // 20 characters
}

// TestBinaryServeSignInAndSIGTERM starts the real server on a fresh data
// directory, signs in through the API with the session cookie, and stops it
// the way a service manager does.
func TestBinaryServeSignInAndSIGTERM(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	pw := randomPassword(t)

	cmd := exec.Command(bin, "serve")
	cmd.Env = environ("OPSGUARD_DATA_DIR="+filepath.Join(dir, "data"), "OPSGUARD_LISTEN="+addr, "OPSGUARD_ADMIN_PASSWORD="+pw)
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("opsguard serve stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})

	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	for {
		if resp, err := client.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("opsguard serve exited before it was healthy: %v", waitErr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(start) > 15*time.Second {
			t.Fatal("GET /healthz did not answer 200 within 15s")
		}
	}
	t.Logf("healthy %v after start", time.Since(start).Round(time.Millisecond))

	resp, err := client.Post(base+"/api/v1/session", "application/json",
		strings.NewReader(`{"username":"admin","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v1/session: status %d", resp.StatusCode)
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "opsguard_session" {
			session = c
		}
	}
	if session == nil || session.Value == "" {
		t.Fatalf("POST /api/v1/session set no opsguard_session cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	// Plain HTTP to loopback is the first-run setup: Secure would make
	// browsers drop the cookie there (TestSessionCookieSecure covers the rest).
	if session.Secure || !session.HttpOnly {
		t.Errorf("session cookie on loopback HTTP: want HttpOnly and not Secure: %+v", session)
	}

	// Send the cookie by hand rather than through a cookie jar.
	get := func(path string, withCookie bool, v any) int {
		t.Helper()
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if withCookie {
			req.Header.Set("Cookie", session.Name+"="+session.Value)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK && v != nil {
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	if st := get("/api/v1/me", false, nil); st != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/me without the cookie: status %d, want 401", st)
	}
	var me struct {
		User struct {
			Username string `json:"username"`
			Role     string `json:"role"`
		} `json:"user"`
		Via string `json:"via"`
	}
	if st := get("/api/v1/me", true, &me); st != http.StatusOK {
		t.Fatalf("GET /api/v1/me: status %d", st)
	}
	if me.User.Username != "admin" || me.User.Role != "admin" || me.Via != "session" {
		t.Errorf("GET /api/v1/me = %+v, want admin (admin) via session", me)
	}
	var cat struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if st := get("/api/v1/catalog", true, &cat); st != http.StatusOK {
		t.Fatalf("GET /api/v1/catalog: status %d", st)
	}
	ids := map[string]bool{}
	reqID := regexp.MustCompile(`^[A-Z]{2}-[0-9]+$`)
	for _, it := range cat.Items {
		if !reqID.MatchString(it.ID) {
			t.Errorf("catalog item with id %q", it.ID)
		}
		ids[it.ID] = true
	}
	if len(cat.Items) != 42 || len(ids) != 42 {
		t.Errorf("catalog has %d items with %d distinct ids, want 42 requirements", len(cat.Items), len(ids))
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("opsguard serve did not exit within 20s of SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status after SIGTERM = %d (%v), want 0", code, waitErr)
	}
	if !hasLogLine(stderr.String(), "stopped") {
		t.Errorf("stderr has no JSON log line with msg \"stopped\":\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "Ledger public key") {
		t.Errorf("first start did not print the ledger public key:\n%s", stdout.String())
	}
	if strings.Contains(stdout.String(), pw) || strings.Contains(stderr.String(), pw) {
		t.Error("the admin password appears in the output")
	}
}

// hasLogLine reports whether the JSON log holds a line with message msg.
func hasLogLine(log, msg string) bool {
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var line struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == msg {
			return true
		}
	}
	return false
}

// TestBinaryBadInput runs the binary on broken input and requires it to
// fail with a status and a message that says what is wrong.
func TestBinaryBadInput(t *testing.T) {
	tests := []struct {
		name string
		// prepare readies the data directory dir/data and returns the
		// command line, extra environment and the strings stderr (or, with
		// anywhere, stdout or stderr) must hold.
		prepare  func(t *testing.T, dir string, env []string) (args []string, want []string)
		anywhere bool
		check    func(t *testing.T, dir string, r result)
	}{
		{
			name: "unknown config key",
			prepare: func(t *testing.T, dir string, _ []string) ([]string, []string) {
				file := filepath.Join(dir, "opsguard.yaml")
				yaml := "server:\n  listen: 127.0.0.1:9000\n  shutdown_timout: 5s\n"
				if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
					t.Fatal(err)
				}
				return []string{"config", "check", file}, []string{file + ":3", "shutdown_timout"}
			},
		},
		{
			name: "port in use",
			prepare: func(t *testing.T, dir string, _ []string) ([]string, []string) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ln.Close() })
				return []string{"serve", "--listen", ln.Addr().String()}, []string{"listen", ln.Addr().String()}
			},
			check: func(t *testing.T, dir string, _ result) {
				if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("serve on a port in use left the data directory behind (stat: %v)", err)
				}
			},
		},
		{
			name: "unreachable postgres",
			prepare: func(t *testing.T, dir string, env []string) ([]string, []string) {
				// The ledger key is read first; with one in place the
				// database is what fails.
				mustRun(t, env, "", "init")
				return []string{"user", "list", "--database", "postgres://nobody:hunter2hunter2@127.0.0.1:1/x?sslmode=disable"},
					[]string{"postgres", "127.0.0.1:1"}
			},
			check: func(t *testing.T, _ string, r result) {
				if strings.Contains(r.stdout+r.stderr, "hunter2hunter2") {
					t.Errorf("the database password appears in the output:\n%s", r)
				}
			},
		},
		{
			name: "tampered ledger",
			prepare: func(t *testing.T, dir string, env []string) ([]string, []string) {
				mustRun(t, env, "", "init")
				mustRun(t, env, "", "ledger", "verify")
				db, err := sql.Open("sqlite", filepath.Join(dir, "data", "opsguard.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				res, err := db.Exec(`UPDATE ledger_entries SET payload='{"x":1}' WHERE seq=1`)
				if err != nil {
					t.Fatal(err)
				}
				if n, _ := res.RowsAffected(); n != 1 {
					t.Fatalf("tamper: %d rows changed, want 1", n)
				}
				return []string{"ledger", "verify"}, []string{"first bad entry 1"}
			},
			anywhere: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "data"), "OPSGUARD_ADMIN_PASSWORD=" + randomPassword(t)}
			args, want := tc.prepare(t, dir, env)
			r := run(t, env, "", args...)
			if r.code == 0 {
				t.Errorf("opsguard %s succeeded, want a failure:\n%s", strings.Join(args, " "), r)
			}
			out := r.stderr
			if tc.anywhere {
				out = r.stdout + r.stderr
			}
			for _, w := range want {
				if !strings.Contains(strings.ToLower(out), strings.ToLower(w)) {
					t.Errorf("opsguard %s: output lacks %q:\n%s", strings.Join(args, " "), w, r)
				}
			}
			if tc.check != nil {
				tc.check(t, dir, r)
			}
		})
	}
}

// TestBinaryInitAgainAndUsers checks that init may run again and that
// users are added with a password from stdin or the environment.
func TestBinaryInitAgainAndUsers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := randomPassword(t)
	env := []string{"OPSGUARD_DATA_DIR=" + filepath.Join(dir, "data"), "OPSGUARD_ADMIN_PASSWORD=" + pw}

	first := mustRun(t, env, "", "init")
	again := mustRun(t, env, "", "init")
	if key := publicKey(first.stdout); key == "" || key != publicKey(again.stdout) {
		t.Errorf("init again changed or lost the ledger public key:\nfirst:\n%s\nagain:\n%s", first.stdout, again.stdout)
	}
	if strings.Contains(again.stdout, "Created") {
		t.Errorf("init again created something:\n%s", again.stdout)
	}

	bobPW, carolPW := randomPassword(t), randomPassword(t)
	add := mustRun(t, env, bobPW+"\n", "user", "add", "bob", "--role", "engineer")
	if !strings.Contains(add.stdout, "bob") {
		t.Errorf("user add bob printed:\n%s", add)
	}
	users := listUsers(t, env)
	if len(users) != 2 || users["admin"] != "admin" || users["bob"] != "engineer" {
		t.Errorf("users = %v, want admin (admin) and bob (engineer)", users)
	}

	mustRun(t, append(env, "OPSGUARD_USER_PASSWORD="+carolPW), "", "user", "add", "carol", "--role", "auditor")
	if users := listUsers(t, env); len(users) != 3 || users["carol"] != "auditor" {
		t.Errorf("users = %v, want carol (auditor) added", users)
	}

	r := run(t, env, "", "user", "add", "dave", "--role", "engineer")
	if r.code == 0 || !strings.Contains(r.stderr, "no password") {
		t.Errorf("user add without a password:\n%s", r)
	}
	for _, secret := range []string{pw, bobPW, carolPW} {
		for _, out := range []result{first, again, add, r} {
			if strings.Contains(out.stdout+out.stderr, secret) {
				t.Errorf("a password appears in the output:\n%s", out)
			}
		}
	}
}

// publicKey is the key init prints on the line after its label.
func publicKey(stdout string) string {
	_, after, ok := strings.Cut(stdout, "Ledger public key")
	if !ok {
		return ""
	}
	lines := strings.SplitN(after, "\n", 3)
	if len(lines) < 2 {
		return ""
	}
	return strings.TrimSpace(lines[1])
}

// listUsers runs user list -o json and maps user names to roles.
func listUsers(t *testing.T, env []string) map[string]string {
	t.Helper()
	r := mustRun(t, env, "", "user", "list", "-o", "json")
	var us []struct {
		Username string `json:"username"`
		Role     string `json:"role"`
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&us); err != nil {
		t.Fatalf("user list -o json: %v\n%s", err, r.stdout)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("user list -o json: more than one JSON value:\n%s", r.stdout)
	}
	m := map[string]string{}
	for _, u := range us {
		m[u.Username] = u.Role
	}
	return m
}
