package report_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/report"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// benchSize is OPSGUARD_BENCH_BUNDLE_ENTRIES entries and
// OPSGUARD_BENCH_BUNDLE_BLOBS evidence blobs (defaults 20000 and 200, a
// smoke size; the figure is 1000000 and 10000).
func benchSize() (entries, blobs int) {
	entries, blobs = 20000, 200
	if n, err := strconv.Atoi(os.Getenv("OPSGUARD_BENCH_BUNDLE_ENTRIES")); err == nil && n > 0 {
		entries = n
	}
	if n, err := strconv.Atoi(os.Getenv("OPSGUARD_BENCH_BUNDLE_BLOBS")); err == nil && n > 0 {
		blobs = n
	}
	return entries, min(blobs, entries)
}

// seedBench appends entries in batches of 10000 over the year 2026, one
// in every entries/blobs citing a 4 KiB evidence blob of its own, and a
// control run a day.
func seedBench(b *testing.B, w *world, entries, blobs int) {
	b.Helper()
	every := entries / max(blobs, 1)
	done := 0
	for done < entries {
		k := min(10000, entries-done)
		w.clk.t = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(float64(done) / float64(entries) * float64(364*24*time.Hour)))
		if err := w.db.Update(ctx, func(tx *store.Tx) error {
			evs := make([]ledger.Event, k)
			for i := range evs {
				n := done + i
				p := map[string]any{"severity": "high", "id": "CVE-2024-" + strconv.Itoa(1000+n), "asset": "registry.example.com/app:1.2.3"}
				if every > 0 && n%every == 0 && n/every < blobs {
					blob, err := w.log.PutBlob(ctx, tx, "application/json", bytes.Repeat([]byte(fmt.Sprintf("{\"n\":%d}\n", n)), 4096/10))
					if err != nil {
						return err
					}
					p["evidence"] = []string{blob.Ref()}
				}
				evs[i] = ledger.Event{Actor: "bench", Kind: "bench.event", Subject: "finding/" + strconv.Itoa(n), Payload: p}
			}
			_, err := w.log.Append(ctx, tx, evs...)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		done += k
	}
	w.clk.t = time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)
}

// statusMB reads a field of /proc/self/status in MB.
func statusMB(field string) float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// peakAnon samples the process's anonymous resident memory (heap, not
// the database file SQLite maps) every 20 ms until stop is called, which
// returns the peak in MB.
func peakAnon() (stop func() float64) {
	done, peak := make(chan struct{}), make(chan float64)
	go func() {
		p := statusMB("RssAnon")
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p = max(p, statusMB("RssAnon"))
			case <-done:
				peak <- max(p, statusMB("RssAnon"))
				return
			}
		}
	}()
	return func() float64 { close(done); return <-peak }
}

// peakRSS returns the memory the seeding left to the OS, resets the
// process's peak resident size (Linux) and returns a function reading it
// in MB: the peak of the export alone, SQLite's cache included.
func peakRSS() func() float64 {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	return func() float64 {
		b, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				return kb / 1024
			}
		}
		return 0
	}
}

// BenchmarkBundle exports a year's bundle to a file (time, peak memory),
// then verifies it offline and compares with SHA-256 over the bundle's
// unpacked bytes, read from files as sha256sum would, in the same run.
func BenchmarkBundle(b *testing.B) {
	n, m := benchSize()
	w := newWorld(b, storetest.Open(b, filepath.Join(b.TempDir(), "bench.db")))
	seedBench(b, w, n, m)
	out := filepath.Join(b.TempDir(), "bundle.zip")
	var exportTime, verifyTime, shaTime time.Duration
	var peak, anon float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		rss := peakRSS()
		stopAnon := peakAnon()
		start := time.Now()
		if _, err := w.svc.Export(ctx, "bench", report.Request{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}, f); err != nil {
			b.Fatal(err)
		}
		f.Close()
		exportTime += time.Since(start)
		peak = max(peak, rss())
		anon = max(anon, stopAnon())

		unpacked := unpack(b, out)
		start = time.Now()
		for _, p := range unpacked {
			g, _ := os.Open(p)
			h := sha256.New()
			io.Copy(h, g)
			g.Close()
		}
		shaTime += time.Since(start)

		g, _ := os.Open(out)
		st, _ := g.Stat()
		start = time.Now()
		s, err := report.Verify(ctx, g, st.Size(), w.log.Key().Public, report.VerifyOptions{})
		verifyTime += time.Since(start)
		g.Close()
		if err != nil || !s.OK || s.Entries < int64(n) || s.Blobs != m {
			b.Fatalf("verify: %v %+v", err, s)
		}
	}
	st, _ := os.Stat(out)
	b.ReportMetric(exportTime.Seconds()/float64(b.N), "export-s")
	b.ReportMetric(float64(n)*float64(b.N)/exportTime.Seconds(), "entries/s")
	b.ReportMetric(peak, "peak-rss-MB")  // with the pages of the database file SQLite maps
	b.ReportMetric(anon, "peak-anon-MB") // heap and SQLite's cache: what the export holds
	b.ReportMetric(float64(st.Size())/(1<<20), "bundle-MB")
	b.ReportMetric(verifyTime.Seconds()/float64(b.N), "verify-s")
	b.ReportMetric(verifyTime.Seconds()/shaTime.Seconds(), "verify/sha256")
}

// unpack writes every member of a bundle to files and returns their paths.
func unpack(b *testing.B, bundle string) []string {
	zr, err := zip.OpenReader(bundle)
	if err != nil {
		b.Fatal(err)
	}
	defer zr.Close()
	dir := b.TempDir()
	var paths []string
	for i, f := range zr.File {
		rc, _ := f.Open()
		p := filepath.Join(dir, strconv.Itoa(i))
		g, _ := os.Create(p)
		io.Copy(g, rc)
		g.Close()
		rc.Close()
		paths = append(paths, p)
	}
	return paths
}
