package collect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opsguard/opsguard/events"
)

// Journal follows the system journal (journalctl -o json after the cursor
// kept in StateDir) or, on a host without one, /var/log/auth.log (after
// the offset kept in StateDir), and turns the security-relevant lines into
// a batch of events. A line it cannot read is counted in the batch's
// malformed, never dropped unsaid; the position advances only when the
// batch was shipped (Commit).
type Journal struct {
	HostID   string
	StateDir string
	// Journalctl is the program ("journalctl" by default); Args are added
	// to its command line (--namespace=… for a journald namespace).
	Journalctl string
	Args       []string
	// AuthLog is read when the host has no journal (/var/log/auth.log).
	AuthLog string
	// UseAuthLog reads AuthLog even where a journal exists.
	UseAuthLog bool
	// Max bounds the lines read in one collection (events.MaxBatchEvents by default).
	Max int
	Now func() time.Time
}

// Position is where a collection ended: the journal's cursor, or the
// auth.log's inode and offset. Commit keeps it.
type Position struct {
	Cursor string `json:"cursor,omitempty"`
	Inode  uint64 `json:"inode,omitempty"`
	Offset int64  `json:"offset,omitempty"`
}

const journalState = "journal.pos"

func (j *Journal) defaults() {
	if j.Journalctl == "" {
		j.Journalctl = "journalctl"
	}
	if j.AuthLog == "" {
		j.AuthLog = "/var/log/auth.log"
	}
	if j.Max <= 0 || j.Max > events.MaxBatchEvents {
		j.Max = events.MaxBatchEvents
	}
	if j.Now == nil {
		j.Now = time.Now
	}
}

// HasJournal reports whether journald runs on this host.
func HasJournal() bool {
	_, err := os.Stat("/run/systemd/journal/socket")
	return err == nil
}

// Collect reads what is new since the kept position: at most Max lines.
func (j *Journal) Collect(ctx context.Context) (events.Batch, Position, error) {
	j.defaults()
	pos, err := j.load()
	if err != nil {
		return events.Batch{}, pos, err
	}
	b := events.Batch{Version: 1, HostID: j.HostID, Events: []events.Event{}}
	if j.UseAuthLog || (len(j.Args) == 0 && !HasJournal()) {
		pos, err = j.authLog(&b, pos)
	} else {
		pos, err = j.journal(ctx, &b, pos)
	}
	return b, pos, err
}

// Commit keeps a position once its batch was shipped.
func (j *Journal) Commit(p Position) error {
	data, _ := json.Marshal(p)
	tmp := filepath.Join(j.StateDir, journalState+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("journal position: %w", err)
	}
	return os.Rename(tmp, filepath.Join(j.StateDir, journalState))
}

func (j *Journal) load() (Position, error) {
	var p Position
	data, err := os.ReadFile(filepath.Join(j.StateDir, journalState))
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("journal position: %w", err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return Position{}, fmt.Errorf("journal position %s: %w (remove it to start from now)", filepath.Join(j.StateDir, journalState), err)
	}
	return p, nil
}

// journal runs journalctl after the cursor (from the start of this boot
// the first time) and reads its JSON lines.
func (j *Journal) journal(ctx context.Context, b *events.Batch, pos Position) (Position, error) {
	args := append([]string{"-o", "json", "--no-pager"}, j.Args...)
	if pos.Cursor != "" {
		args = append(args, "--after-cursor", pos.Cursor)
	} else {
		args = append(args, "--boot")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, j.Journalctl, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return pos, err
	}
	if err := cmd.Start(); err != nil {
		return pos, fmt.Errorf("journalctl: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for n < j.Max && sc.Scan() {
		n++
		e, cursor, ok, err := JournalEntry(j.HostID, sc.Bytes())
		if cursor != "" {
			pos.Cursor = cursor
		}
		switch {
		case err != nil:
			b.Malformed++
		case ok:
			b.Events = append(b.Events, e)
		}
	}
	scanErr := sc.Err()
	if n >= j.Max {
		cancel() // the rest waits for the next collection
	}
	waitErr := cmd.Wait()
	switch {
	case scanErr != nil:
		b.Malformed++ // a line longer than 1 MiB: counted, and the cursor moves past what was read
	case n < j.Max && waitErr != nil:
		return pos, fmt.Errorf("journalctl %s: %v: %s", strings.Join(args, " "), waitErr, strings.TrimSpace(stderr.String()))
	}
	return pos, nil
}

// JournalEntry reads one line of journalctl -o json: its cursor, and the
// event when it is a security event. A line that is not a journal entry
// (bad JSON, no time, a MESSAGE neither text nor bytes) is an error.
func JournalEntry(hostID string, line []byte) (e events.Event, cursor string, ok bool, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return e, "", false, fmt.Errorf("journal line: %w", err)
	}
	str := func(k string) string {
		var s string
		if v, ok := raw[k]; ok && json.Unmarshal(v, &s) != nil {
			return ""
		}
		return s
	}
	cursor = str("__CURSOR")
	if cursor == "" {
		return e, "", false, fmt.Errorf("journal line: no __CURSOR")
	}
	us, perr := strconv.ParseInt(str("__REALTIME_TIMESTAMP"), 10, 64)
	if perr != nil || us <= 0 {
		return e, cursor, false, fmt.Errorf("journal line: __REALTIME_TIMESTAMP %q: not microseconds", str("__REALTIME_TIMESTAMP"))
	}
	msg, merr := journalMessage(raw["MESSAGE"])
	if merr != nil {
		return e, cursor, false, merr
	}
	program := str("SYSLOG_IDENTIFIER")
	if program == "" {
		program = str("_COMM")
	}
	e, ok = events.FromLine(hostID, events.Event{At: time.UnixMicro(us).UTC(), Program: program, Message: msg})
	return e, cursor, ok, nil
}

// journalMessage is MESSAGE as text: journalctl writes a string, or an
// array of byte values for a message that is not valid UTF-8.
func journalMessage(v json.RawMessage) (string, error) {
	if len(v) == 0 || string(v) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, nil
	}
	var bs []byte
	var nums []int
	if err := json.Unmarshal(v, &nums); err != nil {
		return "", fmt.Errorf("journal line: MESSAGE: neither text nor bytes")
	}
	for _, n := range nums {
		if n < 0 || n > 255 {
			return "", fmt.Errorf("journal line: MESSAGE: byte %d out of range", n)
		}
		bs = append(bs, byte(n))
	}
	return string(bs), nil
}

// authLog reads auth.log from the kept offset (from its start when the
// file was rotated: another inode, or shorter than the offset).
func (j *Journal) authLog(b *events.Batch, pos Position) (Position, error) {
	f, err := os.Open(j.AuthLog)
	if err != nil {
		return pos, fmt.Errorf("auth log: %w", err)
	}
	defer f.Close()
	ino, size, err := inode(f)
	if err != nil {
		return pos, err
	}
	if ino != pos.Inode || size < pos.Offset {
		pos = Position{Inode: ino}
	}
	if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
		return pos, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	now := j.Now()
	for n := 0; n < j.Max; n++ {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: counted, and skipped to its end.
			for errors.Is(err, bufio.ErrBufferFull) {
				pos.Offset += int64(len(line))
				line, err = r.ReadSlice('\n')
			}
			pos.Offset += int64(len(line))
			b.Malformed++
			continue
		}
		if err != nil {
			break // a line not yet ended is read next time
		}
		pos.Offset += int64(len(line))
		e, ok, perr := AuthLogLine(j.HostID, string(bytes.TrimRight(line, "\r\n")), now)
		switch {
		case perr != nil:
			b.Malformed++
		case ok:
			b.Events = append(b.Events, e)
		}
	}
	return pos, nil
}

// AuthLogLine reads one line of auth.log in either of rsyslog's formats,
// "2024-05-01T10:00:00.123456+02:00 host prog[pid]: message" or
// "May  1 10:00:00 host prog[pid]: message" (the year taken as the one
// that puts the line not in the future of now).
func AuthLogLine(hostID, line string, now time.Time) (events.Event, bool, error) {
	var at time.Time
	var rest string
	if t, r, ok := strings.Cut(line, " "); ok && len(t) > 19 && t[4] == '-' {
		var err error
		if at, err = time.Parse(time.RFC3339Nano, t); err != nil {
			return events.Event{}, false, fmt.Errorf("auth.log line: time %q: %v", t, err)
		}
		rest = r
	} else {
		if len(line) < 16 {
			return events.Event{}, false, fmt.Errorf("auth.log line: too short for a time")
		}
		t, err := time.ParseInLocation("Jan _2 15:04:05", line[:15], time.Local)
		if err != nil {
			return events.Event{}, false, fmt.Errorf("auth.log line: time %q: %v", line[:15], err)
		}
		at = t.AddDate(now.Year(), 0, 0)
		if at.After(now.Add(24 * time.Hour)) {
			at = at.AddDate(-1, 0, 0)
		}
		rest = line[16:]
	}
	_, rest, ok := strings.Cut(rest, " ") // the host name
	tag, msg, ok2 := strings.Cut(rest, ": ")
	if !ok || !ok2 {
		return events.Event{}, false, fmt.Errorf("auth.log line: no \"host program: message\" after the time")
	}
	program, _, _ := strings.Cut(tag, "[")
	e, isEvent := events.FromLine(hostID, events.Event{At: at.UTC(), Program: program, Message: msg})
	return e, isEvent, nil
}
