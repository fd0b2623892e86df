package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/opsguard/opsguard/events"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// Whatever a syslog frame holds, parsing never panics, and an event it
// yields passes the checks of a batch (so the listener never loses a
// line to a batch the service refuses).
func FuzzSyslogLine(f *testing.F) {
	for _, s := range []string{
		"<38>1 2026-03-02T09:59:00Z fw1 sshd 42 - - Failed password for root from 192.0.2.1 port 22 ssh2",
		"<86>Mar  2 09:59:00 web-1 sudo:      ann : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls",
		"<13>1 - - - - - -", "hello", "<13>Mar  2 09:59:00 h su: (to root) ann on pts/1", "\xff\x00<1>",
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	p := events.NewLineParser()
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := p.Parse(line, "127.0.0.1", now)
		if err != nil {
			return
		}
		b := events.Batch{Version: 1, HostID: "127.0.0.1", Events: []events.Event{e}}
		if err := b.Check(now); err != nil {
			t.Fatalf("%q parsed into an event the service refuses: %v (%+v)", line, err, e)
		}
	})
}

// Whatever a program and message are, Classify never panics and an event
// it makes passes the checks.
func FuzzClassify(f *testing.F) {
	f.Add("sshd", "Accepted password for root from 192.0.2.1 port 22 ssh2")
	f.Add("useradd", "new user: name=bob, UID=1001, GID=1001")
	f.Add("systemd", "nginx.service: Failed with result 'exit-code'.")
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, program, msg string) {
		e, ok := events.FromLine("h", events.Event{At: now, Program: program, Message: msg})
		if !ok {
			return
		}
		b := events.Batch{Version: 1, HostID: "h", Events: []events.Event{e}}
		if err := b.Check(now); err != nil {
			t.Fatalf("(%q, %q) classified into an event the service refuses: %v", program, msg, err)
		}
	})
}
