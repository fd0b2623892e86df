package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// tool is one run of an outside program.
type tool struct {
	name string
	args []string
	env  []string // added to a filtered os.Environ; never logged
	// stdout, when set, reads the program's output as it comes (a JSON
	// listing); else the output goes to the log.
	stdout func(io.Reader) error
	// cred, when set, is the user the program runs as.
	cred *syscall.Credential
}

// run runs t in a process group of its own, so that a deadline or a
// cancel kills restic and any helper it started (an sftp, a rclone), and
// logs the command line (never its environment), its output and its exit.
// It returns what the program wrote on stderr for the caller to classify.
func (r *drillRun) run(ctx context.Context, t tool) (string, error) {
	cmd := exec.CommandContext(ctx, t.name, t.args...)
	cmd.Env = append(environ(), t.env...)
	// Pdeathsig: a drill killed with -9 takes its restore down with it,
	// so CleanStale never removes a directory a live restic still fills.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: t.cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	stderr := &capped{max: maxLog}
	cmd.Stderr = stderr
	out := &capped{max: maxLog}
	var parseErr error
	var pipe io.ReadCloser
	if t.stdout != nil {
		var err error
		if pipe, err = cmd.StdoutPipe(); err != nil {
			return "", err
		}
	} else {
		cmd.Stdout = out
	}
	r.logf("$ %s %s\n", t.name, strings.Join(redactArgs(t.args), " "))
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		if pipe != nil {
			parseErr = t.stdout(pipe)
			io.Copy(io.Discard, pipe) // a parser that stopped early must not block the program
		}
		err = cmd.Wait()
	}
	r.logf("%s%s", out, stderr)
	switch {
	case errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist):
		err = fmt.Errorf("%s is not installed (not found in PATH)", t.name)
	case err == nil && parseErr != nil:
		err = fmt.Errorf("%s: read its output: %w", t.name, parseErr)
	case err != nil && ctx.Err() != nil:
		err = fmt.Errorf("%s was stopped: %w", t.name, context.Cause(ctx))
	}
	r.logf("exit: %s (%s: %s)\n", exitText(err), t.name, time.Since(start).Round(time.Millisecond))
	return stderr.String(), err
}

func exitText(err error) string {
	if err == nil {
		return "0"
	}
	return err.Error()
}

// environ is the process environment without the restic and libpq
// variables: a drill uses exactly the repository, password and server its
// Spec names, not whatever the server process happens to carry.
func environ() []string {
	var env []string
	for _, kv := range syscallEnviron() {
		if strings.HasPrefix(kv, "RESTIC_") || strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

var syscallEnviron = syscall.Environ

// redactArgs hides a password in a URL argument (rest:https://u:p@host/).
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = redactURL(a)
	}
	return out
}

// redactURL replaces the password of any user:password@ in s.
func redactURL(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	userinfo := s[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return s[:scheme+3] + user + ":xxxxx" + s[at:]
	}
	return s
}

// capped keeps the first max bytes written to it and counts the rest.
type capped struct {
	b       strings.Builder
	max     int
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	room := c.max - c.b.Len()
	if room < len(p) {
		c.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	c.b.Write(p)
	return n, nil
}

func (c *capped) String() string {
	if c.dropped > 0 {
		return c.b.String() + fmt.Sprintf("\n[%d more bytes not kept]\n", c.dropped)
	}
	return c.b.String()
}

// runWatched runs the restore t (its step named step) while a watcher of
// size stops it past the drill's size limit, and records the outcome.
func (r *drillRun) runWatched(ctx context.Context, step, limit string, t tool, size func(context.Context) int64) bool {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchSize(ctx, size, r.spec.MaxBytes, func() { cancel(errTooLarge) })
	}()
	stderr, err := r.run(ctx, t)
	cancel(nil)
	<-done
	if errors.Is(context.Cause(ctx), errTooLarge) {
		r.check("size limit", limit, "the restore grew beyond it and was stopped", false)
		return false
	}
	if err != nil {
		r.fail(step, "exit 0", fmt.Errorf("%s failed (%v): %s", step, err, lastLine(stderr)))
		return false
	}
	return r.check(step, "exit 0", "exit 0", true)
}
