package drill_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsguard/opsguard/backup/drill"
	"github.com/opsguard/opsguard/store/storetest"
)

// lockedCopy copies the repository and holds in the copy the exclusive
// lock of a restic check, stopped (SIGSTOP) once its lock is written:
// a live process holding a lock, as a long prune does. (A lock whose
// process died on this host is stale, and restic 0.14 ignores it.)
func lockedCopy(t *testing.T, r repo) repo {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "repo")
	if out, err := exec.Command("cp", "-r", r.path, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	r.path = dst
	for range 10 {
		cmd := exec.Command("restic", "--no-cache", "check", "--read-data")
		cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+dst, "RESTIC_PASSWORD_FILE="+r.password)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		if waitLock(filepath.Join(dst, "locks"), done) {
			cmd.Process.Signal(syscall.SIGSTOP)
			if locks, _ := os.ReadDir(filepath.Join(dst, "locks")); len(locks) > 0 {
				t.Cleanup(func() { cmd.Process.Kill(); <-done })
				return r
			}
		}
		cmd.Process.Kill()
		<-done
	}
	t.Fatal("restic check ended before it could be stopped holding its lock")
	return r
}

// waitLock waits for a complete lock file (restic makes it read-only once
// written) until done.
func waitLock(dir string, done <-chan struct{}) bool {
	for {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().Perm()&0o200 == 0 {
				return true
			}
		}
		select {
		case <-done:
			return false
		case <-time.After(time.Millisecond):
		}
	}
}

// A repository locked exclusively fails the drill with a cause naming
// the repository and the lock; nothing is restored or left behind.
func TestDrillLockedRepository(t *testing.T) {
	r := lockedCopy(t, newRepo(t))
	root := t.TempDir()
	rep, err := drill.Run(context.Background(), r.spec(root), drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := check(rep, "restic restore --verify")
	if rep.Passed || !ok || c.OK || !strings.Contains(c.Actual, "repository "+r.path+" is locked") {
		t.Errorf("check %+v (present %v), passed %v; want a failed restore naming %s and its lock", c, ok, rep.Passed, r.path)
	}
	if rep.BytesRestored != 0 || rep.Files != 0 {
		t.Errorf("a locked repository restored %d files, %d bytes", rep.Files, rep.BytesRestored)
	}
	empty(t, root)
}

// tinyScratch mounts a tmpfs of size bytes for a scratch root, or skips
// (fails under OPSGUARD_REQUIRE_INTEGRATION=1) where mounting is refused.
func tinyScratch(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput(); err != nil {
		storetest.Missing(t, fmt.Sprintf("the disk-full test mounts a tmpfs (needs root): %v %s", err, out))
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// A disk that fills during the restore: 120 files of 100 bytes pass the
// free-space check (12,000 bytes against 256 KiB free) but take a page
// of tmpfs each. The drill fails naming the full disk, and the scratch is
// removed.
func TestDrillDiskFull(t *testing.T) {
	needRestic(t)
	root := tinyScratch(t, 256<<10)
	dir := t.TempDir()
	r := repo{path: filepath.Join(dir, "repo"), password: filepath.Join(dir, "password"), src: filepath.Join(dir, "data")}
	writeFile(t, r.password, []byte("pw\n"))
	for i := range 120 {
		writeFile(t, filepath.Join(r.src, fmt.Sprintf("f%03d", i)), random(100))
	}
	restic(t, r, "init")
	restic(t, r, "backup", r.src)
	s := r.spec(root)
	s.ExpectedPaths = nil
	rep, err := drill.Run(context.Background(), s, drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := check(rep, "restic restore --verify")
	if rep.Passed || !ok || c.OK || !strings.Contains(c.Actual, "disk full") {
		t.Errorf("check %+v (present %v), passed %v; want a failed restore naming the full disk\n%+v", c, ok, rep.Passed, rep.Checks)
	}
	empty(t, root)
}
