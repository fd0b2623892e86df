package collect_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/events"
	"github.com/opsguard/opsguard/host/collect"
	"github.com/opsguard/opsguard/store/storetest"
)

// journald starts a journald of a namespace of its own (so the host's
// journal is untouched) and returns its name and the socket syslog
// lines go to; it stops it and removes its files when t ends.
func journald(t *testing.T) (ns, devLog string) {
	t.Helper()
	bin := "/usr/lib/systemd/systemd-journald"
	if _, err := os.Stat(bin); err != nil {
		storetest.Missing(t, "the journal test needs systemd-journald (package systemd)")
	}
	if os.Geteuid() != 0 {
		storetest.Missing(t, "the journal test starts a journald namespace, which needs root")
	}
	for _, p := range []string{"journalctl", "logger"} {
		if _, err := exec.LookPath(p); err != nil {
			storetest.Missing(t, "the journal test needs "+p)
		}
	}
	var b [4]byte
	rand.Read(b[:])
	ns = "opsguardtest" + hex.EncodeToString(b[:])
	cmd := exec.Command(bin, ns)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start journald: %v", err)
	}
	devLog = "/run/systemd/journal." + ns + "/dev-log"
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll("/run/systemd/journal." + ns)
		if id, err := os.ReadFile("/etc/machine-id"); err == nil {
			m := strings.TrimSpace(string(id))
			os.RemoveAll("/var/log/journal/" + m + "." + ns)
			os.RemoveAll("/run/log/journal/" + m + "." + ns)
		}
	})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(devLog); err == nil {
			return ns, devLog
		}
	}
	t.Fatalf("journald %s did not open %s", ns, devLog)
	return
}

// Lines written to a real journald and read back by a real journalctl -o
// json: the security events are classified, the rest passed over, and the
// next collection after Commit starts after the cursor.
func TestJournalFromJournald(t *testing.T) {
	ns, devLog := journald(t)
	log := func(tag, msg string) {
		t.Helper()
		if out, err := exec.Command("logger", "-u", devLog, "--socket-errors=on", "-t", tag, msg).CombinedOutput(); err != nil {
			t.Fatalf("logger: %v: %s", err, out)
		}
	}
	log("sshd", "Failed password for invalid user admin from 198.51.100.23 port 40022 ssh2")
	log("sshd", "Accepted publickey for root from 192.0.2.10 port 51515 ssh2")
	log("sudo", "     ann : TTY=pts/0 ; PWD=/home/ann ; USER=root ; COMMAND=/usr/bin/id")
	log("useradd", "new user: name=carl, UID=1002, GID=1002, home=/home/carl, shell=/bin/bash")
	log("systemd", "nginx.service: Failed with result 'exit-code'.")
	log("cron", "(root) CMD (run-parts /etc/cron.hourly)")
	j := &collect.Journal{HostID: "m-1", StateDir: t.TempDir(), Args: []string{"--namespace=" + ns}}
	var b events.Batch
	var pos collect.Position
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if b, pos, err = j.Collect(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(b.Events) >= 5 {
			break
		}
	}
	kinds := []string{}
	for _, e := range b.Events {
		kinds = append(kinds, e.Kind+":"+e.User+":"+e.Address+":"+e.Program)
	}
	want := "ssh.failed:admin:198.51.100.23:sshd ssh.accepted:root:192.0.2.10:sshd privilege.sudo:ann::sudo account.user:carl::useradd unit.failed:::nginx.service"
	if strings.Join(kinds, " ") != want || b.Malformed != 0 || pos.Cursor == "" {
		t.Fatalf("events %v, malformed %d, cursor %q; want %s", kinds, b.Malformed, pos.Cursor, want)
	}
	if err := b.Check(time.Now()); err != nil {
		t.Fatalf("the batch does not pass the server's checks: %v", err)
	}
	if err := j.Commit(pos); err != nil {
		t.Fatal(err)
	}
	log("su", "(to root) ann on pts/1")
	var next events.Batch
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && len(next.Events) == 0; time.Sleep(50 * time.Millisecond) {
		var err error
		if next, _, err = j.Collect(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(next.Events) != 1 || next.Events[0].Kind != events.Su {
		t.Fatalf("after the cursor: %+v", next.Events)
	}
}

// Lines of auth.log in both of rsyslog's formats: events classified, a
// line that is not a log line counted as malformed, the offset kept, and
// a rotated file read from its start.
func TestAuthLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log")
	lines := strings.Join([]string{
		"2026-03-02T09:14:01.512311+01:00 web-1 sshd[1201]: Failed password for root from 203.0.113.9 port 52814 ssh2",
		"2026-03-02T09:14:05.004117+01:00 web-1 sshd[1201]: Connection closed by authenticating user root 203.0.113.9 port 52814 [preauth]",
		"Mar  2 09:15:00 web-1 sudo:      ann : TTY=pts/0 ; PWD=/home/ann ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
		"garbage that is no log line",
		"2026-03-02T09:16:00.000000+01:00 web-1 groupadd[2200]: group added to /etc/group: name=ops, GID=1003",
		"",
	}, "\n")
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	j := &collect.Journal{HostID: "m-1", StateDir: dir, AuthLog: path, UseAuthLog: true, Now: func() time.Time { return now }}
	b, pos, err := j.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Events) != 3 || b.Malformed != 1 || b.Events[0].Kind != events.SSHFailed || b.Events[1].Kind != events.Sudo || b.Events[2].Kind != events.AccountGroup {
		t.Fatalf("events %+v malformed %d", b.Events, b.Malformed)
	}
	if !b.Events[0].At.Equal(time.Date(2026, 3, 2, 8, 14, 1, 512311000, time.UTC)) || b.Events[1].At.Year() != 2026 {
		t.Errorf("times %v %v", b.Events[0].At, b.Events[1].At)
	}
	if err := j.Commit(pos); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("2026-03-02T10:00:00.000000+01:00 web-1 su[300]: (to root) ann on pts/1\n2026-03-02T10:00:01.0+01:00 web-1 sshd[1]: Accepted")
	f.Close()
	b, pos, _ = j.Collect(context.Background())
	if len(b.Events) != 1 || b.Events[0].Kind != events.Su {
		t.Fatalf("after the offset (a line not yet ended waits): %+v", b.Events)
	}
	j.Commit(pos)
	os.Rename(path, path+".1")
	os.WriteFile(path, []byte("2026-03-02T11:00:00.000000+01:00 web-1 sshd[9]: Invalid user x from 192.0.2.99 port 1\n"), 0o600)
	if b, _, _ = j.Collect(context.Background()); len(b.Events) != 1 || b.Events[0].Address != "192.0.2.99" {
		t.Fatalf("after rotation: %+v", b.Events)
	}
}

// A journal line that is not an entry is an error (counted by Collect);
// MESSAGE as bytes is read.
func TestJournalEntry(t *testing.T) {
	cases := []struct {
		name, line string
		ok, err    bool
	}{
		{"event", `{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1772441640000000","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Failed password for root from 192.0.2.1 port 1 ssh2"}`, true, false},
		{"bytes", `{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1772441640000000","_COMM":"sudo","MESSAGE":[32,97,110,110,32,58,32,67,79,77,77,65,78,68,61,47,98,105,110,47,108,115,255]}`, true, false},
		{"other", `{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1772441640000000","SYSLOG_IDENTIFIER":"cron","MESSAGE":"x"}`, false, false},
		{"not JSON", `{"__CURSOR":`, false, true},
		{"no cursor", `{"__REALTIME_TIMESTAMP":"1"}`, false, true},
		{"bad time", `{"__CURSOR":"c","__REALTIME_TIMESTAMP":"soon"}`, false, true},
		{"bad message", `{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1","MESSAGE":{"a":1}}`, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, ok, err := collect.JournalEntry("m-1", []byte(tc.line))
			if ok != tc.ok || (err != nil) != tc.err {
				t.Errorf("ok %v err %v; want ok %v err %v", ok, err, tc.ok, tc.err)
			}
		})
	}
}

// Whatever journalctl writes, reading a line never panics and an event it
// yields passes the server's checks.
func FuzzJournalEntry(f *testing.F) {
	f.Add([]byte(`{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1772441640000000","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"Accepted password for root from 192.0.2.1 port 1 ssh2"}`))
	f.Add([]byte(`{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1772441640000000","SYSLOG_IDENTIFIER":"systemd","MESSAGE":[110,46,115,101,114,118,105,99,101,58,32,70,97,105,108,101,100,32,119,105,116,104,32,114,101,115,117,108,116]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, _, ok, err := collect.JournalEntry("m-1", line)
		if err != nil || !ok {
			return
		}
		b := events.Batch{Version: 1, HostID: "m-1", Events: []events.Event{e}}
		if e.At.After(time.Now().Add(events.MaxFuture)) || e.At.Year() < 1970 {
			return // the server refuses a time from the future, with its reason
		}
		if err := b.Check(time.Now()); err != nil {
			t.Fatalf("%q read into an event the server refuses: %v", line, err)
		}
	})
}
