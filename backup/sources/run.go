package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// maxOutput bounds what a tool may write to standard output.
const maxOutput = 64 << 20

// run runs a tool with env added to a copy of the server's environment
// from which every variable of prefix (RESTIC_, PGBACKREST_) is dropped,
// so that nothing of the server's own settles which repository is read.
// It returns standard output; a failure carries the tool's last lines of
// standard error.
func run(ctx context.Context, timeout time.Duration, prefix string, env []string, name string, args ...string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb limited
	out.max, errb.max = maxOutput, 64<<10
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	stderr := strings.TrimSpace(errb.String())
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return nil, stderr, fmt.Errorf("%s is not installed on the server (not found in PATH)", name)
	case ctx.Err() == context.DeadlineExceeded:
		return nil, stderr, fmt.Errorf("%s did not finish within %s", name, timeout)
	case out.over:
		return nil, stderr, fmt.Errorf("%s wrote more than %d bytes", name, maxOutput)
	}
	return out.Bytes(), stderr, err
}

// limited is a buffer that keeps at most max bytes and says whether more
// came.
type limited struct {
	bytes.Buffer
	max  int
	over bool
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.max - l.Len(); len(p) > room {
		l.over = true
		l.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return l.Buffer.Write(p)
}

// lastLines is the end of a tool's standard error, for a message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
