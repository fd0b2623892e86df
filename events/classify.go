package events

import (
	"regexp"
	"strings"
)

// A rule recognises one kind of line of one program: the pattern's named
// groups "user", "addr" and "unit" fill the event.
type rule struct {
	programs []string // empty: any program
	kind     string
	re       *regexp.Regexp
}

// rules are read in order; the first that matches classifies a line. The
// texts are those of OpenSSH, sudo, su (util-linux and shadow), login,
// shadow's useradd family and systemd on Debian.
var rules = []rule{
	{[]string{"sshd", "sshd-session"}, SSHAccepted, regexp.MustCompile(`^Accepted \S+ for (?P<user>\S+) from (?P<addr>\S+) port \d+`)},
	{[]string{"sshd", "sshd-session"}, SSHFailed, regexp.MustCompile(`^Failed \S+ for (?:invalid user )?(?P<user>\S*) from (?P<addr>\S+) port \d+`)},
	{[]string{"sshd", "sshd-session"}, SSHFailed, regexp.MustCompile(`^Invalid user (?P<user>\S*) from (?P<addr>\S+)`)},
	{[]string{"sudo"}, Sudo, regexp.MustCompile(`^\s*(?P<user>\S+) : .*COMMAND=`)},
	{[]string{"su"}, Su, regexp.MustCompile(`^(?:\(to (?P<target>\S+)\) (?P<user>\S+) on|pam_unix\(su(?:-l)?:session\): session opened for user \S+ by (?P<user>[^(\s]+))`)},
	{[]string{"login"}, Login, regexp.MustCompile(`^(?:ROOT LOGIN|LOGIN) ON \S+(?: BY (?P<user>\S+))?`)},
	{[]string{"login"}, Login, regexp.MustCompile(`^pam_unix\(login:session\): session opened for user (?P<user>[^(\s]+)`)},
	{[]string{"useradd", "usermod", "userdel", "chpasswd", "passwd", "chage", "chsh", "chfn"}, AccountUser,
		regexp.MustCompile(`(?:name=|user '|user |password for '|^add '|^delete ')(?P<user>[^,'\s]+)`)},
	{[]string{"groupadd", "groupmod", "groupdel", "gpasswd"}, AccountGroup, regexp.MustCompile(`(?:name=|group ')(?P<user>[^,'\s]+)`)},
	{[]string{"systemd"}, UnitFailed, regexp.MustCompile(`^(?P<unit>\S+\.(?:service|socket|timer|mount|target)): Failed with result`)},
	{[]string{"systemd"}, UnitFailed, regexp.MustCompile(`^Failed to start (?P<unit>.+?)\.?$`)},
}

// Classify returns the kind of a log line of a program and the user,
// address and unit it names; ok is false for a line that is not a
// security event. A root console login is a Login with user root.
func Classify(program, message string) (kind, user, addr, unit string, ok bool) {
	program = strings.TrimSuffix(program, ":")
	for _, r := range rules {
		if len(r.programs) > 0 && !contains(r.programs, program) {
			continue
		}
		m := r.re.FindStringSubmatch(message)
		if m == nil {
			continue
		}
		for i, name := range r.re.SubexpNames() {
			if m[i] == "" {
				continue
			}
			switch name {
			case "user":
				user = m[i]
			case "addr":
				addr = m[i]
			case "unit":
				unit = m[i]
			}
		}
		if r.kind == Login && user == "" && strings.HasPrefix(message, "ROOT LOGIN") {
			user = "root"
		}
		if addr != "" && !validAddress(addr) {
			addr = ""
		}
		return r.kind, user, addr, unit, true
	}
	return "", "", "", "", false
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// FromLine classifies a line into an event of host at its time; ok is
// false when it is not a security event.
func FromLine(host string, e Event) (Event, bool) {
	kind, user, addr, unit, ok := Classify(e.Program, e.Message)
	if !ok {
		return Event{}, false
	}
	e.Host, e.Kind, e.User, e.Address = host, kind, user, addr
	if unit != "" {
		e.Program = unit
	}
	e.User, e.Program, e.Message = cut(e.User, maxFieldBytes), cut(e.Program, maxFieldBytes), cut(e.Message, maxTextBytes)
	return e, true
}

// cut shortens s to at most n bytes on a rune boundary and makes it valid
// UTF-8 without NUL, so that a classified event always passes Check.
func cut(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
