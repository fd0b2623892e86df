package drill_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opsguard/opsguard/backup/drill"
)

// TestKilledDrillChild is the drill that TestKilledDrill kills: it runs
// only in the child process, with the Spec in its environment, and blocks
// once the scratch space exists (after the restore of a file drill, in
// the restore of a database drill).
func TestKilledDrillChild(t *testing.T) {
	raw := os.Getenv("OPSGUARD_DRILL_CHILD")
	if raw == "" {
		return
	}
	var spec drill.Spec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	spec.DSN = os.Getenv("OPSGUARD_TEST_POSTGRES")
	ready := os.Getenv("OPSGUARD_DRILL_READY")
	opts := drill.Options{AfterRestore: func(string) {
		os.WriteFile(ready, nil, 0o600)
		time.Sleep(time.Minute)
	}, PGRestore: os.Getenv("OPSGUARD_DRILL_PG_RESTORE")}
	drill.Run(context.Background(), spec, opts)
	t.Fatal("the drill was not killed")
}

func TestKilledDrill(t *testing.T) {
	r := newRepo(t)
	root := t.TempDir()
	ready := filepath.Join(t.TempDir(), "ready")
	killChild(t, r.spec(root), ready, "", func() {
		if removed, err := drill.CleanStale(root); len(removed) != 0 || err != nil {
			t.Errorf("CleanStale removed the scratch of a running drill: %v %v", removed, err)
		}
	})

	entries, _ := os.ReadDir(root)
	if len(entries) != 2 { // drill-<id>/ and drill-<id>.pid
		t.Fatalf("want the killed drill's scratch and marker, have %v", entries)
	}
	removed, err := drill.CleanStale(root)
	if err != nil || len(removed) != 1 {
		t.Fatalf("CleanStale removed %v: %v", removed, err)
	}
	empty(t, root)
}

func TestKilledDatabaseDrill(t *testing.T) {
	base := postgres(t)
	dump := dumpOf(t, base)
	before := scratchDatabases(t, base)
	ready := filepath.Join(t.TempDir(), "ready")
	// A pg_restore that says it started and hangs.
	fake := filepath.Join(t.TempDir(), "pg_restore")
	writeFile(t, fake, []byte("#!/bin/sh\ncase \"$*\" in *--list*) exec pg_restore \"$@\";; esac\ntouch "+ready+"\nexec sleep 60\n"))
	os.Chmod(fake, 0o700)
	killChild(t, drill.Spec{Kind: drill.PGDump, Location: dump}, ready, fake, func() {
		if dropped, err := drill.CleanStaleDatabases(context.Background(), base); len(dropped) != 0 || err != nil {
			t.Errorf("CleanStaleDatabases dropped the scratch of a running drill: %v %v", dropped, err)
		}
	})

	var left []string
	for _, n := range scratchDatabases(t, base) {
		if !slices.Contains(before, n) {
			left = append(left, n)
		}
	}
	if len(left) != 1 {
		t.Fatalf("want the killed drill's scratch database, have %v", left)
	}
	dropped, err := drill.CleanStaleDatabases(context.Background(), base)
	if err != nil || !slices.Contains(dropped, left[0]) {
		t.Fatalf("CleanStaleDatabases dropped %v, want %s: %v", dropped, left[0], err)
	}
	if slices.Contains(scratchDatabases(t, base), left[0]) {
		t.Errorf("%s still there", left[0])
	}
}

// killChild runs spec's drill in a child process and kills it with -9
// once ready exists, after calling alive.
func killChild(t *testing.T, spec drill.Spec, ready, pgRestore string, alive func()) {
	t.Helper()
	raw, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledDrillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "OPSGUARD_DRILL_CHILD="+string(raw), "OPSGUARD_DRILL_READY="+ready, "OPSGUARD_DRILL_PG_RESTORE="+pgRestore)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child drill never got ready")
		}
	}
	alive()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred cleanup runs
		t.Fatal(err)
	}
	cmd.Wait()
}
