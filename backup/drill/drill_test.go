package drill_test

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/backup/drill"
	"github.com/opsguard/opsguard/backup/drill/drilltest"
	"github.com/opsguard/opsguard/store/storetest"
)

// repo is a real restic repository made by a test.
type repo struct {
	path, password, src string
}

func needRestic(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("restic"); err != nil {
		storetest.Missing(t, "drill tests need restic (apt-get install restic)")
	}
}

func restic(t testing.TB, r repo, args ...string) string {
	t.Helper()
	cmd := exec.Command("restic", args...)
	cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+r.path, "RESTIC_PASSWORD_FILE="+r.password, "RESTIC_CACHE_DIR="+filepath.Join(filepath.Dir(r.path), "cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("restic %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// newRepo makes a repository holding one snapshot of a small tree, src:
// a.txt, sub/b.bin (64 KiB), sub/c.bin (200 KiB). restic 0.14 keeps the
// absolute path: the snapshot lists and restores src/a.txt as is.
func newRepo(t testing.TB) repo {
	t.Helper()
	needRestic(t)
	dir := t.TempDir()
	r := repo{path: filepath.Join(dir, "repo"), password: filepath.Join(dir, "password"), src: filepath.Join(dir, "data")}
	writeFile(t, r.password, []byte("correct horse\n"))
	writeFile(t, filepath.Join(r.src, "a.txt"), []byte("hello\n"))
	writeFile(t, filepath.Join(r.src, "sub", "b.bin"), random(64<<10))
	writeFile(t, filepath.Join(r.src, "sub", "c.bin"), random(200<<10))
	restic(t, r, "init")
	restic(t, r, "backup", r.src)
	return r
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func (r repo) spec(root string) drill.Spec {
	return drill.Spec{Kind: drill.Restic, Location: r.path, PasswordFile: r.password, ScratchRoot: root,
		ExpectedPaths: []string{r.src + "/a.txt", strings.TrimPrefix(r.src, "/") + "/sub/c.bin"}}
}

// empty fails t when the scratch root holds anything.
func empty(t *testing.T, root string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("scratch left behind: %s", filepath.Join(root, e.Name()))
	}
}

func check(rep *drill.Report, name string) (drill.Check, bool) {
	for _, c := range rep.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return drill.Check{}, false
}

func TestResticDrillPasses(t *testing.T) {
	r := newRepo(t)
	root := t.TempDir()
	var restored string
	rep, err := drill.Run(context.Background(), r.spec(root), drill.Options{AfterRestore: func(dir string) { restored = dir }})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		t.Fatalf("drill failed: %+v\n%s", rep.Checks, rep.Log)
	}
	if rep.Files != 3 || rep.BytesRestored != 6+64<<10+200<<10 {
		t.Errorf("restored %d files, %d bytes; want 3, %d", rep.Files, rep.BytesRestored, 6+64<<10+200<<10)
	}
	if len(rep.SnapshotID) != 64 || rep.SnapshotTime.IsZero() || rep.SnapshotAge < 0 || rep.Duration <= 0 {
		t.Errorf("snapshot %q at %v, age %v, duration %v", rep.SnapshotID, rep.SnapshotTime, rep.SnapshotAge, rep.Duration)
	}
	for _, name := range []string{"restic restore --verify", "file count", "total bytes", "tree matches listing", "path " + r.src + "/a.txt", "path " + r.src + "/sub/c.bin", "size limit"} {
		if c, ok := check(rep, name); !ok || !c.OK {
			t.Errorf("check %q: %+v (present %v)", name, c, ok)
		}
	}
	if !strings.Contains(rep.Log, "restic --no-cache restore") || strings.Contains(rep.Log, "correct horse") {
		t.Errorf("log lacks the restore or holds the password:\n%s", rep.Log)
	}
	if _, err := os.Stat(restored); !os.IsNotExist(err) {
		t.Errorf("restored tree %s still there: %v", restored, err)
	}
	empty(t, root)
}

func TestResticDrillFails(t *testing.T) {
	r := newRepo(t)
	cases := []struct {
		name  string
		setup func(t *testing.T, s *drill.Spec, o *drill.Options)
		check string // the failed check
		cause string // in its actual value
	}{
		{"corrupted pack", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			s.Location = drilltest.CorruptCopy(t, r.path)
		}, "restic restore --verify", "corrupted"},
		{"wrong password", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			s.PasswordFile = filepath.Join(t.TempDir(), "pw")
			writeFile(t, s.PasswordFile, []byte("wrong\n"))
		}, "snapshot", "wrong password"},
		{"repository missing", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			s.Location = filepath.Join(t.TempDir(), "none")
		}, "snapshot", "repository missing"},
		{"restic not installed", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			o.Restic = filepath.Join(t.TempDir(), "restic")
		}, "snapshot", "not installed"},
		{"over the size limit", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			s.MaxBytes = 100 << 10
		}, "size limit", "not restored"},
		{"file removed from the restored tree", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			o.AfterRestore = func(dir string) { os.Remove(filepath.Join(dir, r.src, "sub", "b.bin")) }
		}, "tree matches listing", "missing " + r.src + "/sub/b.bin"},
		{"file added to the restored tree", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			o.AfterRestore = func(dir string) { os.WriteFile(filepath.Join(dir, r.src, "x"), nil, 0o600) }
		}, "file count", "4"},
		{"file truncated in the restored tree", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			o.AfterRestore = func(dir string) { os.Truncate(filepath.Join(dir, r.src, "sub", "c.bin"), 10) }
		}, "total bytes", "65552"},
		{"expected path missing", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			s.ExpectedPaths = append(s.ExpectedPaths, r.src+"/customers.db")
		}, "path " + r.src + "/customers.db", "missing"},
		{"another snapshot restored than listed", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			// As when a backup ends between the listing and the restore of "latest".
			o.Restic = filepath.Join(t.TempDir(), "restic")
			writeFile(t, o.Restic, []byte("#!/bin/sh\ncase \"$*\" in *restore*) echo 'restoring <Snapshot deadbeef of [/x] at 2026-01-01 by a@b> to /t';; esac\nexec restic \"$@\"\n"))
			os.Chmod(o.Restic, 0o700)
		}, "snapshot restored", "deadbeef"},
		{"unknown snapshot", func(t *testing.T, s *drill.Spec, o *drill.Options) {
			s.Snapshot = "deadbeef"
		}, "snapshot", "no snapshot deadbeef"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			s, o := r.spec(root), drill.Options{}
			tc.setup(t, &s, &o)
			rep, err := drill.Run(context.Background(), s, o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Passed {
				t.Fatalf("drill passed: %+v", rep.Checks)
			}
			c, ok := check(rep, tc.check)
			if !ok || c.OK || !strings.Contains(c.Actual, tc.cause) {
				t.Errorf("check %q = %+v (present %v), want failed with %q; checks %+v", tc.check, c, ok, tc.cause, rep.Checks)
			}
			empty(t, root)
		})
	}
}

// A restore that hangs past the time limit is killed with its process
// group, and the drill fails on time.
func TestDrillTimeLimit(t *testing.T) {
	r := newRepo(t)
	root := t.TempDir()
	fake := filepath.Join(t.TempDir(), "restic")
	// Lists like restic, then hangs on the restore in a child process.
	script := "#!/bin/sh\ncase \"$*\" in *restore*) sleep 60 & wait;; *) exec restic \"$@\";; esac\n"
	writeFile(t, fake, []byte(script))
	os.Chmod(fake, 0o700)
	s := r.spec(root)
	s.MaxDuration = 3 * time.Second
	start := time.Now()
	rep, err := drill.Run(context.Background(), s, drill.Options{Restic: fake})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("the drill took %v with a limit of 3s", took)
	}
	if c, ok := check(rep, "time limit"); rep.Passed || !ok || c.OK {
		t.Errorf("time limit check %+v (present %v), passed %v", c, ok, rep.Passed)
	}
	empty(t, root)
}

func TestSpecValidate(t *testing.T) {
	cases := []struct {
		name string
		spec drill.Spec
		want string
	}{
		{"kind", drill.Spec{Kind: "tar", Location: "x"}, "kind"},
		{"location", drill.Spec{Kind: drill.Restic}, "location"},
		{"scratch", drill.Spec{Kind: drill.Restic, Location: "x", PasswordFile: "p"}, "scratch_root"},
		{"password", drill.Spec{Kind: drill.Restic, Location: "x", ScratchRoot: "r"}, "password_file"},
		{"server", drill.Spec{Kind: drill.PGDump, Location: "x"}, "PostgreSQL"},
		{"assertion", drill.Spec{Kind: drill.PGDump, Location: "x", DSN: "postgres://h/d", Assertions: []drill.Assertion{{}}}, "assertions[0]"},
		{"within", drill.Spec{Kind: drill.PGDump, Location: "x", DSN: "postgres://h/d", Assertions: []drill.Assertion{{Newest: "SELECT now()"}}}, "within_hours"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := drill.Run(context.Background(), tc.spec, drill.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}
