package drill_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/backup/drill"
	"github.com/opsguard/opsguard/backup/drill/drilltest"
)

// A repository locked exclusively fails the drill with a cause naming
// the repository and the lock; nothing is restored or left behind.
func TestDrillLockedRepository(t *testing.T) {
	r := newRepo(t)
	r.path = drilltest.Copy(t, r.path)
	drilltest.Lock(t, r.path, r.password)
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

// A disk that fills during the restore: 120 files of 100 bytes pass the
// free-space check (12,000 bytes against 256 KiB free) but take a page
// of tmpfs each. The drill fails naming the full disk, and the scratch is
// removed.
func TestDrillDiskFull(t *testing.T) {
	needRestic(t)
	root := drilltest.TinyScratch(t, 256<<10)
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
