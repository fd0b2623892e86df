package vuln_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
	"github.com/opsguard/opsguard/vuln"
)

// bigTrivy builds a Trivy report of n findings by repeating the real
// vulnerabilities of a fixture with varied ids and packages.
func bigTrivy(b *testing.B, n int) []byte {
	var doc map[string]any
	if err := json.Unmarshal(fixture.Read(b, "vuln/trivy/securecodebox-repo.json"), &doc); err != nil {
		b.Fatal(err)
	}
	results := doc["Results"].([]any)
	var samples []map[string]any
	for _, r := range results {
		vs, _ := r.(map[string]any)["Vulnerabilities"].([]any)
		for _, v := range vs {
			samples = append(samples, v.(map[string]any))
		}
	}
	out := make([]any, 0, n)
	for i := 0; i < n; i++ {
		v := map[string]any{}
		for k, x := range samples[i%len(samples)] {
			v[k] = x
		}
		v["VulnerabilityID"] = fmt.Sprintf("CVE-2099-%06d", i)
		v["PkgName"] = fmt.Sprintf("%v-%d", v["PkgName"], i/len(samples))
		delete(v, "PkgIdentifier")
		out = append(out, v)
	}
	first := results[0].(map[string]any)
	first["Vulnerabilities"] = out
	res, err := json.Marshal([]any{first})
	if err != nil {
		b.Fatal(err)
	}
	// Trivy writes SchemaVersion and ArtifactName first, as here.
	return fmt.Appendf(nil, `{"SchemaVersion": 2, "ArtifactName": %q, "ArtifactType": "repository", "Results": %s}`, doc["ArtifactName"], res)
}

func benchSize() int {
	if s := os.Getenv("OPSGUARD_BENCH_FINDINGS"); s != "" {
		n, _ := strconv.Atoi(s)
		return n
	}
	return 100000
}

// BenchmarkImport measures importing a large Trivy report into an empty
// SQLite register, end to end (hash, detect, parse, merge, store, ledger),
// read from a file as the CLI and the API (for a large upload, spooled to
// a file) read it, and compares it with merely decoding the same JSON.
func BenchmarkImport(b *testing.B) { benchImport(b, true) }

// BenchmarkImportInMemory is BenchmarkImport with the report held in
// memory, as a small upload is.
func BenchmarkImportInMemory(b *testing.B) { benchImport(b, false) }

func benchImport(b *testing.B, fromFile bool) {
	n := benchSize()
	data := bigTrivy(b, n)
	start := time.Now()
	var anyDoc any
	json.Unmarshal(data, &anyDoc)
	decode := time.Since(start)
	anyDoc = nil
	size := len(data)
	req := vuln.ImportRequest{File: "big.json", Format: "auto", Data: data}
	if fromFile {
		path := filepath.Join(b.TempDir(), "big.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		req.Data, req.Source, data = nil, io.NewSectionReader(f, 0, int64(size)), nil
	}

	var total time.Duration
	importPeak := 0.0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := storetest.Open(b, filepath.Join(b.TempDir(), "import.db"))
		f := newBenchFixture(b, db)
		reset := resetPeakRSS()
		b.StartTimer()
		start := time.Now()
		s, err := f.svc.Import(ctx, "bench", req)
		total += time.Since(start)
		if err != nil || s.New != n {
			b.Fatalf("import: %+v %v", s, err)
		}
		if reset {
			importPeak = max(importPeak, peakRSSMB())
		}
	}
	per := total / time.Duration(b.N)
	b.ReportMetric(per.Seconds(), "s/import")
	b.ReportMetric(float64(n)/per.Seconds(), "findings/s")
	b.ReportMetric(per.Seconds()/decode.Seconds(), "x-decode")
	b.ReportMetric(float64(size)/1e6, "MB-report")
	b.ReportMetric(max(peakBeforeReset, peakRSSMB()), "MB-peak-rss")
	if importPeak > 0 {
		// The peak of the import alone (the report's bytes included when
		// held in memory): the process's peak above is the generation and
		// decoding of the report by this benchmark.
		b.ReportMetric(importPeak, "MB-import-peak-rss")
	}
}

// BenchmarkReimport measures importing the same large report again: only
// last_seen changes.
func BenchmarkReimport(b *testing.B) {
	n := benchSize()
	data := bigTrivy(b, n)
	db := storetest.Open(b, filepath.Join(b.TempDir(), "reimport.db"))
	f := newBenchFixture(b, db)
	if _, err := f.svc.Import(ctx, "bench", vuln.ImportRequest{File: "big.json", Data: data}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s, err := f.svc.Import(ctx, "bench", vuln.ImportRequest{File: "big.json", Data: data})
		if err != nil || s.Unchanged != n || s.New != 0 {
			b.Fatalf("re-import: %+v %v", s, err)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(per.Seconds(), "s/reimport")
}

func peakRSSMB() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // KiB on Linux
}

// peakBeforeReset is the peak RSS before the last resetPeakRSS, so that the
// process's peak is still known.
var peakBeforeReset float64

// resetPeakRSS returns the free heap to the system and resets the peak RSS
// to the current RSS (Linux 4.0 and later), so that peakRSSMB measures
// what follows. It reports whether the reset worked.
func resetPeakRSS() bool {
	peakBeforeReset = max(peakBeforeReset, peakRSSMB())
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

func newBenchFixture(b *testing.B, db *store.DB) *env {
	return newFixture(b, db)
}
