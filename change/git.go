package change

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Commit is one commit as git holds it.
type Commit struct {
	SHA            string
	Parents        []string
	Author         string
	AuthorEmail    string
	AuthoredAt     time.Time
	Committer      string
	CommitterEmail string
	CommittedAt    time.Time
	Message        string
}

// Subject is the message's first line.
func (c Commit) Subject() string {
	s, _, _ := strings.Cut(c.Message, "\n")
	return strings.TrimSpace(s)
}

// Mirror is a bare clone that opsguard keeps of a watched repository. It
// is fetched from the repository's URL; the commits opsguard verified are
// kept reachable from refs of its own (refs/opsguard/...), so that a force
// push upstream cannot make them disappear: the old history stays
// retrievable (CM-1) and the rewrite can be shown.
//
// The git CLI does the work: it reads a first-parent history several times
// faster than a pure-Go implementation, and its errors are the ones users
// know.
type Mirror struct {
	Dir string
	Git string // the git binary; default "git"
	// AllowFile lets git read a local repository (the file protocol),
	// for a local path the egress policy accepted.
	AllowFile bool
}

// GitError is a git command that failed, with what git said.
type GitError struct {
	Args   []string
	Stderr string
	Err    error
}

func (e *GitError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.Index(msg, "fatal: "); i >= 0 {
		msg = msg[i+len("fatal: "):]
	}
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", e.Args[0], firstLine(msg))
}

func (e *GitError) Unwrap() error { return e.Err }

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// command is a git run with opsguard's environment, in the mirror unless
// inMirror is false; what git says on stderr goes to stderr.
func (m *Mirror) command(ctx context.Context, stderr *bytes.Buffer, inMirror bool, args ...string) *exec.Cmd {
	bin := m.Git
	if bin == "" {
		bin = "git"
	}
	if inMirror {
		args = append([]string{"-C", m.Dir}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = gitEnv(m.AllowFile)
	cmd.Stderr = stderr
	return cmd
}

func (m *Mirror) git(ctx context.Context, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	out, err := m.command(ctx, &stderr, true, args...).Output()
	if err != nil {
		return out, &GitError{Args: args, Stderr: stderr.String(), Err: err}
	}
	return out, nil
}

// gitEnv keeps the user's configuration and prompts out of opsguard's git
// runs: a sync must not hang on a password prompt nor depend on ~/.gitconfig.
func gitEnv(allowFile bool) []string {
	// GIT_ALLOW_PROTOCOL keeps a repository URL from naming a transport
	// that runs commands (ext::) or reaches the server's own files; a
	// redirect is not followed, since only the URL's host was checked.
	protocols := "https:ssh"
	if allowFile {
		protocols += ":file"
	}
	return append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C",
		"GIT_ALLOW_PROTOCOL="+protocols, "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.followRedirects", "GIT_CONFIG_VALUE_0=false")
}

// Fetch brings the branches from url into the mirror, creating it first.
// A branch the repository does not have is an error naming it.
func (m *Mirror) Fetch(ctx context.Context, url string, branches []string) error {
	if _, err := os.Stat(filepath.Join(m.Dir, "HEAD")); errors.Is(err, os.ErrNotExist) {
		if err := m.clone(ctx, url); err != nil {
			return err
		}
	}
	args := []string{"fetch", "--quiet", "--no-tags", "--force", "--update-shallow", "--", url}
	for _, b := range branches {
		args = append(args, "+refs/heads/"+b+":refs/heads/"+b)
	}
	if _, err := m.git(ctx, args...); err != nil {
		var ge *GitError
		if errors.As(err, &ge) {
			const missing = "couldn't find remote ref refs/heads/"
			if _, ref, ok := strings.Cut(ge.Stderr, missing); ok {
				return fmt.Errorf("branch %q is not in %s", firstLine(ref), url)
			}
		}
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	return nil
}

// clone makes the mirror with git clone, which links the objects of a
// repository on the same disk instead of copying them through the fetch
// protocol: the first sync of a long local history is several times
// faster. A failed clone leaves nothing behind.
func (m *Mirror) clone(ctx context.Context, url string) error {
	if err := os.MkdirAll(filepath.Dir(m.Dir), 0o750); err != nil {
		return fmt.Errorf("mirror: %w", err)
	}
	args := []string{"clone", "--quiet", "--bare", "--no-tags", "--", url, m.Dir}
	var stderr bytes.Buffer
	if err := m.command(ctx, &stderr, false, args...).Run(); err != nil {
		os.RemoveAll(m.Dir)
		return fmt.Errorf("clone %s: %w", url, &GitError{Args: args, Stderr: stderr.String(), Err: err})
	}
	return nil
}

// Shallow reports whether the mirror's history is cut short: fetched from
// a shallow clone, it cannot prove what came before.
func (m *Mirror) Shallow(ctx context.Context) (bool, error) {
	out, err := m.git(ctx, "rev-parse", "--is-shallow-repository")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) == "true", nil
}

// Resolve returns the commit a ref points at.
func (m *Mirror) Resolve(ctx context.Context, ref string) (string, error) {
	out, err := m.git(ctx, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%s is not a commit in the mirror: %w", ref, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Has reports whether the mirror holds a commit.
func (m *Mirror) Has(ctx context.Context, sha string) bool {
	_, err := m.git(ctx, "cat-file", "-e", sha+"^{commit}")
	return err == nil
}

// IsAncestor reports whether a is reachable from b.
func (m *Mirror) IsAncestor(ctx context.Context, a, b string) (bool, error) {
	_, err := m.git(ctx, "merge-base", "--is-ancestor", a, b)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return false, nil
	}
	return err == nil, err
}

// MergeBase returns the best common ancestor of a and b, or "" when they
// share no history.
func (m *Mirror) MergeBase(ctx context.Context, a, b string) (string, error) {
	out, err := m.git(ctx, "merge-base", a, b)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return "", nil
	}
	return strings.TrimSpace(string(out)), err
}

// Keep points a ref of opsguard's own at sha, so that the commit stays in
// the mirror whatever happens upstream.
func (m *Mirror) Keep(ctx context.Context, ref, sha string) error {
	_, err := m.git(ctx, "update-ref", ref, sha)
	return err
}

// logFormat prints one commit's fields separated by US (0x1f); -z ends each
// commit with a NUL. The message comes last, so that a stray US in it
// cannot shift the fields before it.
const logFormat = "--format=%H%x1f%P%x1f%an%x1f%ae%x1f%at%x1f%cn%x1f%ce%x1f%ct%x1f%B"

// LogArgs are the arguments of the git log that Walk runs: a benchmark
// compares Walk with git printing the same fields.
func LogArgs(from, to string) []string {
	rng := to
	if from != "" {
		rng = from + ".." + to
	}
	return []string{"log", "-z", "--no-color", "--no-show-signature", logFormat, rng, "--"}
}

// History is what a sync reads of a protected branch.
type History struct {
	// Chain is the first-parent history, oldest first: the commits that
	// reached the branch one after the other.
	Chain []Commit
	// Merged holds, for each merge commit of the chain, the sorted names
	// and e-mails of the authors and committers of the commits it brought
	// in: those of first-parent..other-parents, the branch it merged.
	Merged map[string][]string
}

// Walk reads the history from to back to (not including) from, or to the
// root when from is empty, in one git log of every commit of from..to: the
// first-parent chain and the commits of the branches merged into it. git
// prints to first; the chain follows first parents from it. A commit off
// the chain belongs to the first merge of the chain that reaches it, so
// one walk of the chain, oldest first, shares them out.
func (m *Mirror) Walk(ctx context.Context, from, to string) (History, error) {
	all := map[string]Commit{}
	tip := ""
	err := m.eachRecord(ctx, LogArgs(from, to), func(rec []byte) error {
		c, err := parseCommit(rec)
		if err != nil {
			return err
		}
		if tip == "" {
			tip = c.SHA
		}
		all[c.SHA] = c
		return nil
	})
	if err != nil {
		return History{}, err
	}
	var h History
	for sha := tip; ; {
		c, ok := all[sha]
		if !ok {
			break
		}
		h.Chain = append(h.Chain, c)
		delete(all, sha)
		if len(c.Parents) == 0 {
			break
		}
		sha = c.Parents[0]
	}
	slices.Reverse(h.Chain)
	h.Merged = shareOut(h.Chain, all)
	return h, nil
}

// shareOut gives each merge of chain (oldest first) the people of the
// commits of side, the range's commits off the chain, that it brought in.
func shareOut(chain []Commit, side map[string]Commit) map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{} // side commits an earlier merge brought in
	var stack []string
	for _, c := range chain {
		if len(c.Parents) < 2 {
			continue
		}
		var people []string
		stack = append(stack[:0], c.Parents[1:]...)
		for len(stack) > 0 {
			sha := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			s, ok := side[sha]
			// A commit of the chain is reachable from the first parent;
			// one outside the range was there before from.
			if !ok || seen[sha] {
				continue
			}
			seen[sha] = true
			for _, p := range []string{s.Author, s.AuthorEmail, s.Committer, s.CommitterEmail} {
				if p = strings.TrimSpace(p); p != "" && !slices.Contains(people, p) {
					people = append(people, p)
				}
			}
			stack = append(stack, s.Parents...)
		}
		slices.Sort(people)
		out[c.SHA] = people
	}
	return out
}

// eachRecord runs git with args and calls fn with each NUL-terminated
// record of its output, read as a stream.
func (m *Mirror) eachRecord(ctx context.Context, args []string, fn func(rec []byte) error) error {
	var stderr bytes.Buffer
	cmd := m.command(ctx, &stderr, true, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git %s: %w", args[0], err)
	}
	perr := splitRecords(out, fn)
	if perr != nil {
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, out)
	}
	werr := cmd.Wait()
	if werr != nil && perr == nil {
		return &GitError{Args: args, Stderr: stderr.String(), Err: werr}
	}
	return perr
}

func splitRecords(r io.Reader, fn func(rec []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, 0); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		rec := sc.Bytes()
		if len(bytes.TrimSpace(rec)) == 0 {
			continue
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("git log: %w", err)
	}
	return nil
}

func parseCommit(rec []byte) (Commit, error) {
	var f [9][]byte
	rest := bytes.TrimLeft(rec, "\n")
	for i := range 8 {
		j := bytes.IndexByte(rest, 0x1f)
		if j < 0 {
			return Commit{}, fmt.Errorf("git log: a record of %d bytes has %d fields, want 9", len(rec), i+1)
		}
		f[i], rest = rest[:j], rest[j+1:]
	}
	f[8] = rest
	c := Commit{SHA: string(f[0]), Author: string(f[2]), AuthorEmail: string(f[3]), Committer: string(f[5]), CommitterEmail: string(f[6]),
		Message: strings.TrimRight(string(f[8]), "\n")}
	if len(f[1]) > 0 {
		c.Parents = strings.Fields(string(f[1]))
	}
	var err error
	if c.AuthoredAt, err = unix(f[4]); err != nil {
		return c, fmt.Errorf("git log: commit %s: author date: %w", c.SHA, err)
	}
	if c.CommittedAt, err = unix(f[7]); err != nil {
		return c, fmt.Errorf("git log: commit %s: committer date: %w", c.SHA, err)
	}
	return c, nil
}

func unix(b []byte) (time.Time, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(n, 0).UTC(), nil
}

// Trailer is a "Key: value" line of a message's last paragraph.
type Trailer struct{ Key, Value string }

// Trailers returns the trailers of a message: the lines of its last
// paragraph when every one of them is a trailer (git's own rule, less the
// continuation lines nobody writes).
func Trailers(msg string) []Trailer {
	msg = strings.TrimRight(msg, "\n ")
	i := strings.LastIndex(msg, "\n\n")
	if i < 0 {
		return nil
	}
	var out []Trailer
	for line := range strings.SplitSeq(msg[i+2:], "\n") {
		key, value, ok := strings.Cut(strings.TrimRight(line, " \r"), ":")
		if !ok || !trailerKey(key) {
			return nil
		}
		out = append(out, Trailer{Key: key, Value: strings.TrimSpace(value)})
	}
	return out
}

// trailerKey reports whether s is a trailer's key: a letter or digit, then
// letters, digits and dashes.
func trailerKey(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
