package drill

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// A file drill restores into <root>/drill-<id>/. Its marker
// <root>/drill-<id>.pid names the process that owns it and is written
// before the directory is made and removed after it is gone, so a
// directory without a live marker is always debris.
const scratchPrefix = "drill-"

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newScratch makes a fresh scratch directory under root, marked as this
// process's, and returns it with the function that removes both.
func newScratch(root string) (string, func() error, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", nil, fmt.Errorf("scratch root %s: %w", root, err)
	}
	dir := filepath.Join(root, scratchPrefix+randomID())
	marker := dir + ".pid"
	if err := os.WriteFile(marker, []byte(ownerText(os.Getpid())), 0o600); err != nil {
		return "", nil, fmt.Errorf("scratch marker %s: %w", marker, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		os.Remove(marker)
		return "", nil, fmt.Errorf("scratch directory %s: %w", dir, err)
	}
	return dir, func() error { return removeScratch(dir) }, nil
}

// removeScratch removes a scratch directory, then its marker.
func removeScratch(dir string) error {
	if err := removeAll(dir); err != nil {
		return fmt.Errorf("remove scratch %s: %w", dir, err)
	}
	if err := os.Remove(dir + ".pid"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove scratch marker: %w", err)
	}
	return nil
}

// removeAll is os.RemoveAll that also removes what a restore made read
// only (a restored directory keeps its mode, 0555 included), and that
// unlinks the files of a large tree from several goroutines: removing a
// restored tree one file at a time costs half as long as restoring it,
// waiting on the file system's journal rather than on a CPU.
func removeAll(dir string) error {
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
		case d.IsDir():
			if info, err := d.Info(); err == nil && info.Mode().Perm()&0o700 != 0o700 {
				os.Chmod(p, 0o700)
			}
		default:
			files = append(files, p)
		}
		return nil
	})
	var wg sync.WaitGroup
	work := make(chan string, 256)
	for range removers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				os.Remove(f)
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	return os.RemoveAll(dir) // the directories, and anything left
}

// removers is how many files are unlinked at once.
const removers = 8

// CleanStale removes the scratch directories under root whose drill is no
// longer running (its process was killed mid-drill): call it before the
// first drill of a process. It returns the directories removed.
func CleanStale(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clean scratch root %s: %w", root, err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, scratchPrefix) || strings.HasSuffix(name, ".pid") {
			continue
		}
		dir := filepath.Join(root, name)
		if b, err := os.ReadFile(dir + ".pid"); err == nil && ownerAlive(string(b)) {
			continue
		}
		if err := removeScratch(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, dir)
	}
	// Markers whose directory was never made or already removed.
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, scratchPrefix) && strings.HasSuffix(name, ".pid") {
			p := filepath.Join(root, name)
			if b, err := os.ReadFile(p); err == nil && !ownerAlive(string(b)) {
				if _, err := os.Stat(strings.TrimSuffix(p, ".pid")); errors.Is(err, fs.ErrNotExist) {
					os.Remove(p)
				}
			}
		}
	}
	return removed, errors.Join(errs...)
}

// ownerText is a marker's content: the PID and the process's start time,
// so a PID reused by another process is not taken for the drill.
func ownerText(pid int) string {
	return fmt.Sprintf("pid %d\nstart %s\n", pid, procStart(pid))
}

// ownerAlive reports whether the process a marker names still runs.
func ownerAlive(marker string) bool {
	var pid int
	var start string
	for _, l := range strings.Split(marker, "\n") {
		if v, ok := strings.CutPrefix(l, "pid "); ok {
			pid, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(l, "start "); ok {
			start = v
		}
	}
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return start == "" || procStart(pid) == "" || procStart(pid) == start
}

// procStart is the start time of process pid in clock ticks since boot
// (field 22 of /proc/PID/stat), "" where /proc is not there.
func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces: count after its ")".
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		f := strings.Fields(s[i+1:])
		if len(f) > 19 {
			return f[19]
		}
	}
	return ""
}
