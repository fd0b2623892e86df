package drill_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opsguard/opsguard/backup/drill"
)

// BenchmarkDrill drills a snapshot of OPSGUARD_BENCH_DRILL_MB megabytes
// (default 50; the figure is 1024) of many small files and a few
// large ones, and restores the same snapshot with a plain restic restore
// in the same run: the ratio is what the drill's checks and its scratch
// removal cost.
func BenchmarkDrill(b *testing.B) {
	needRestic(b)
	mb := 50
	if v, err := strconv.Atoi(os.Getenv("OPSGUARD_BENCH_DRILL_MB")); err == nil && v > 0 {
		mb = v
	}
	dir := b.TempDir()
	r := repo{path: filepath.Join(dir, "repo"), password: filepath.Join(dir, "password"), src: filepath.Join(dir, "data")}
	writeFile(b, r.password, []byte("bench\n"))
	// Half in 4 large files, half in 16 KiB files.
	small := mb << 20 / 2 / (16 << 10)
	for i := range small {
		writeFile(b, filepath.Join(r.src, fmt.Sprintf("d%03d", i%100), fmt.Sprintf("f%05d", i)), random(16<<10))
	}
	for i := range 4 {
		writeFile(b, filepath.Join(r.src, fmt.Sprintf("large%d", i)), random(mb<<20/8))
	}
	restic(b, r, "init")
	restic(b, r, "backup", "-q", r.src)
	spec := r.spec(filepath.Join(dir, "scratch"))
	spec.ExpectedPaths = []string{r.src + "/large0"}
	var drillT, restoreT, rmT time.Duration
	drillOnce := func() {
		start := time.Now()
		rep, err := drill.Run(context.Background(), spec, drill.Options{})
		if err != nil || !rep.Passed {
			b.Fatalf("drill: %v %+v", err, rep)
		}
		drillT += time.Since(start) // scratch removal included: a drill leaves nothing
	}
	restoreOnce := func() {
		target := filepath.Join(dir, "plain")
		start := time.Now()
		cmd := exec.Command("restic", "--no-cache", "restore", "latest", "--target", target)
		cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+r.path, "RESTIC_PASSWORD_FILE="+r.password)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("restic restore: %v\n%s", err, out)
		}
		restoreT += time.Since(start)
		start = time.Now()
		os.RemoveAll(target)
		rmT += time.Since(start)
	}
	b.ResetTimer()
	for range b.N {
		// Restore, drill, drill, restore: what one leaves to the disk's
		// write-back weighs on both alike.
		restoreOnce()
		drillOnce()
		drillOnce()
		restoreOnce()
	}
	n := float64(2 * b.N)
	b.ReportMetric(drillT.Seconds()/n, "drill_s")
	b.ReportMetric(restoreT.Seconds()/n, "restore_s")
	b.ReportMetric(rmT.Seconds()/n, "restore_rm_s") // os.RemoveAll of the plain restore, not in its time
	b.ReportMetric(drillT.Seconds()/restoreT.Seconds(), "ratio")
	b.ReportMetric(float64(mb), "MB")
}
