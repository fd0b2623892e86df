package events_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/events"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// Real syslog from util-linux's logger over TCP on loopback: RFC 5424
// with octet counting, RFC 5424 and RFC 3164 ended by LF; a line that is
// neither is counted in its batch's malformed, and the others are kept.
func TestSyslogFromLogger(t *testing.T) {
	if _, err := exec.LookPath("logger"); err != nil {
		storetest.Missing(t, "the syslog test needs logger (bsdutils)")
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		e.c.Add(time.Until(e.c.Now())) // the real clock: logger stamps the real time
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &events.SyslogServer{Service: e.svc, FlushEvery: 50 * time.Millisecond}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		defer func() { cancel(); <-done }()
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		for _, args := range [][]string{
			{"--rfc5424", "--octet-count", "-t", "sshd", "Failed password for invalid user admin from 198.51.100.23 port 40022 ssh2"},
			{"--rfc5424", "-t", "sshd", "Accepted publickey for deploy from 192.0.2.10 port 51515 ssh2: ED25519 SHA256:abc"},
			{"--rfc3164", "-t", "kernel", "[UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.5 DST=192.0.2.1 PROTO=TCP DPT=23"},
		} {
			cmd := exec.Command("logger", append([]string{"--tcp", "--server", "127.0.0.1", "--port", port}, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("logger %v: %v: %s", args, err, out)
			}
		}
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "this is not syslog at all\n")
		c.Close()
		sealedMalformed := func() int {
			n := 0
			for _, en := range e.entries(t, "events.batch") {
				var p struct{ Malformed int }
				if err := jsonUnmarshal(en.Payload, &p); err != nil {
					t.Fatal(err)
				}
				n += p.Malformed
			}
			return n
		}
		var got []events.Event
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got, _ = e.svc.Search(t.Context(), events.Filter{}); len(got) >= 3 && sealedMalformed() >= 1 {
				break
			}
		}
		byKind := map[string]events.Event{}
		for _, ev := range got {
			byKind[ev.Kind] = ev
		}
		if f := byKind[events.SSHFailed]; len(got) != 3 || f.User != "admin" || f.Address != "198.51.100.23" || f.Program != "sshd" {
			t.Fatalf("events %+v", got)
		}
		if a := byKind[events.SSHAccepted]; a.User != "deploy" || a.Address != "192.0.2.10" {
			t.Errorf("accepted: %+v", a)
		}
		if k := byKind[events.Syslog]; k.Program != "kernel" || !strings.Contains(k.Message, "UFW BLOCK") || k.Address != "127.0.0.1" {
			t.Errorf("firewall line: %+v", k)
		}
		if n := srv.Stats.Malformed.Load(); n != 1 {
			t.Errorf("%d malformed lines counted, want 1", n)
		}
		if malformed := sealedMalformed(); malformed != 1 {
			t.Errorf("%d malformed lines in the sealed batches, want 1", sealedMalformed())
		}
		if rep := e.verify(t); !rep.OK() {
			t.Fatalf("verify: %q", rep.Problems)
		}
	})
}

// Frames: octet-counted and LF-ended, CR dropped, a count beyond the
// bound refused.
func TestReadFrame(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("5 hello<13>1 - - - - - x\r\n11 hello\nworld<1>last"))
	want := []string{"hello", "<13>1 - - - - - x", "hello\nworld", "<1>last"}
	for i, w := range want {
		f, err := events.ReadFrame(r)
		if err != nil || string(f) != w {
			t.Fatalf("frame %d: %q, %v; want %q", i, f, err, w)
		}
	}
	if _, err := events.ReadFrame(bufio.NewReader(strings.NewReader("99999999 x"))); err == nil || !strings.Contains(err.Error(), "octet count") {
		t.Errorf("an oversized count: %v", err)
	}
	if _, err := events.ReadFrame(bufio.NewReader(strings.NewReader(strings.Repeat("x", events.MaxSyslogFrame+10) + "\n"))); err == nil {
		t.Error("an oversized line read")
	}
}

// A line that is not syslog is an error; RFC 3164 and 5424 lines are read.
func TestParseSyslogLine(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name, line, kind string
		ok               bool
	}{
		{"rfc5424 sshd", "<38>1 2026-03-02T09:59:00Z fw1 sshd 42 - - Failed password for root from 192.0.2.1 port 22 ssh2", events.SSHFailed, true},
		{"rfc3164 sudo", "<86>Mar  2 09:59:00 web-1 sudo:      ann : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls", events.Sudo, true},
		{"rfc5424 other", "<134>1 2026-03-02T09:59:00Z fw1 filterlog - - - 5,,,1000,igb0,match,block,in,4", events.Syslog, true},
		{"plain text", "hello world", "", false},
		{"no priority end", "<13 oops", "", false},
		{"empty", "", "", false},
	}
	p := events.NewLineParser()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := p.Parse([]byte(tc.line), "127.0.0.1", now)
			if (err == nil) != tc.ok || (tc.ok && e.Kind != tc.kind) {
				t.Errorf("%+v, %v; want kind %q ok %v", e, err, tc.kind, tc.ok)
			}
		})
	}
}
