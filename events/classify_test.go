package events_test

import (
	"testing"

	"github.com/opsguard/opsguard/events"
)

// The messages of OpenSSH, sudo, su, login, shadow and systemd on Debian.
func TestClassify(t *testing.T) {
	cases := []struct{ program, msg, kind, user, addr, unit string }{
		{"sshd", "Accepted publickey for ann from 192.0.2.1 port 50022 ssh2: ED25519 SHA256:x", events.SSHAccepted, "ann", "192.0.2.1", ""},
		{"sshd", "Failed password for invalid user admin from 2001:db8::7 port 4711 ssh2", events.SSHFailed, "admin", "2001:db8::7", ""},
		{"sshd", "Failed password for root from 198.51.100.4 port 22 ssh2", events.SSHFailed, "root", "198.51.100.4", ""},
		{"sshd", "Invalid user oracle from 198.51.100.4 port 40000", events.SSHFailed, "oracle", "198.51.100.4", ""},
		{"sudo", "     ann : TTY=pts/0 ; PWD=/home/ann ; USER=root ; COMMAND=/usr/bin/apt update", events.Sudo, "ann", "", ""},
		{"su", "(to root) ann on pts/1", events.Su, "ann", "", ""},
		{"su", "pam_unix(su-l:session): session opened for user root(uid=0) by ann(uid=1000)", events.Su, "ann", "", ""},
		{"login", "ROOT LOGIN  ON tty1", "", "", "", ""},
		{"login", "ROOT LOGIN ON tty1", events.Login, "root", "", ""},
		{"login", "pam_unix(login:session): session opened for user bob(uid=1001) by LOGIN(uid=0)", events.Login, "bob", "", ""},
		{"useradd", "new user: name=carl, UID=1002, GID=1002, home=/home/carl, shell=/bin/bash, from=/dev/pts/0", events.AccountUser, "carl", "", ""},
		{"usermod", "add 'carl' to group 'sudo'", events.AccountUser, "carl", "", ""},
		{"userdel", "delete user 'carl'", events.AccountUser, "carl", "", ""},
		{"groupadd", "new group: name=ops, GID=1003", events.AccountGroup, "ops", "", ""},
		{"systemd", "nginx.service: Failed with result 'exit-code'.", events.UnitFailed, "", "", "nginx.service"},
		{"systemd", "Failed to start nginx.service - A high performance web server.", events.UnitFailed, "", "", "nginx.service - A high performance web server"},
		{"sshd", "Server listening on 0.0.0.0 port 22.", "", "", "", ""},
		{"cron", "Accepted password for ann from 192.0.2.1 port 1 ssh2", "", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.program+" "+tc.msg, func(t *testing.T) {
			kind, user, addr, unit, ok := events.Classify(tc.program, tc.msg)
			if ok != (tc.kind != "") || kind != tc.kind || (tc.user != "" && user != tc.user) || addr != tc.addr || unit != tc.unit {
				t.Errorf("= %q %q %q %q %v; want %q %q %q %q", kind, user, addr, unit, ok, tc.kind, tc.user, tc.addr, tc.unit)
			}
		})
	}
}
