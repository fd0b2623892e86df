// Package drilltest makes the damaged restic repositories and the small
// scratch disks that the drill tests of backup and backup/drill restore
// from and into: a pack file overwritten, a repository locked by a live
// restic, a tmpfs that fills.
package drilltest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/opsguard/opsguard/store/storetest"
)

// CorruptCopy copies the repository src and overwrites bytes in the
// middle of its largest pack file under data/: the one holding the files'
// data (the trees are in a smaller one, so the snapshot still lists).
func CorruptCopy(t testing.TB, src string) string {
	t.Helper()
	dst := Copy(t, src)
	var largest string
	var size int64
	filepath.WalkDir(filepath.Join(dst, "data"), func(p string, d os.DirEntry, err error) error {
		if info, _ := d.Info(); err == nil && !d.IsDir() && info.Size() > size {
			largest, size = p, info.Size()
		}
		return err
	})
	if largest == "" {
		t.Fatal("no pack file to corrupt")
	}
	os.Chmod(largest, 0o600)
	f, err := os.OpenFile(largest, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{'X'}, 32), size/2); err != nil {
		t.Fatal(err)
	}
	return dst
}

// Copy copies the repository src into a temporary directory.
func Copy(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "repo")
	if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

// Lock holds in the repository the exclusive lock of a restic check,
// stopped (SIGSTOP) once its lock is written, until the test ends: a live
// process holding a lock, as a long prune does. (A lock whose process died
// on this host is stale, and restic 0.14 ignores it.)
func Lock(t testing.TB, repo, passwordFile string) {
	t.Helper()
	for range 10 {
		cmd := exec.Command("restic", "--no-cache", "check", "--read-data")
		cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+repo, "RESTIC_PASSWORD_FILE="+passwordFile)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		if waitLock(filepath.Join(repo, "locks"), done) {
			cmd.Process.Signal(syscall.SIGSTOP)
			if locks, _ := os.ReadDir(filepath.Join(repo, "locks")); len(locks) > 0 {
				t.Cleanup(func() { cmd.Process.Kill(); <-done })
				return
			}
		}
		cmd.Process.Kill()
		<-done
	}
	t.Fatal("restic check ended before it could be stopped holding its lock")
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

// TinyScratch mounts a tmpfs of size bytes for a scratch root, or skips
// (fails under OPSGUARD_REQUIRE_INTEGRATION=1) where mounting is refused.
func TinyScratch(t testing.TB, size int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput(); err != nil {
		storetest.Missing(t, fmt.Sprintf("the disk-full test mounts a tmpfs (needs root): %v %s", err, out))
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}
