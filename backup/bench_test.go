package backup_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// BenchmarkStatus measures backup status over OPSGUARD_BENCH_DATASETS
// data sets (default 1000) with 1000 hourly snapshots each, seeded
// through the store in sealed, ledgered batches. Target: ≤ 1 s.
func BenchmarkStatus(b *testing.B) {
	sets := 1000
	if v, err := strconv.Atoi(os.Getenv("OPSGUARD_BENCH_DATASETS")); err == nil && v > 0 {
		sets = v
	}
	const perSet = 1000
	dir := b.TempDir()
	db := storetest.Open(b, filepath.Join(dir, "bench.db"))
	key, err := ledger.CreateKey(filepath.Join(dir, "k.key"))
	if err != nil {
		b.Fatal(err)
	}
	log := ledger.New(key, ledger.Options{})
	svc := backup.NewService(store.Bind[backup.Tx](db), log, backup.Options{
		Policy: backup.Policy{MaxAgeHours: 26, RetentionDays: 7, OffsiteCopies: 1}, Now: func() time.Time { return now }})
	start := time.Now()
	const batch = 20
	for i := 0; i < sets; i += batch {
		err := db.Update(b.Context(), func(tx *store.Tx) error {
			for j := i; j < min(i+batch, sets); j++ {
				d := backup.DataSet{ID: fmt.Sprintf("ds_%05d", j), Name: fmt.Sprintf("set-%05d", j), Owner: "olga", Frequency: "daily", Type: backup.Full,
					RetentionDays: 7, Drill: []byte("{}"), CreatedAt: now, UpdatedAt: now}
				c := backup.Copy{ID: "bkc_" + d.ID, DataSetID: d.ID, Name: "restic", Source: backup.SourceRestic, Location: "/srv/r", Offsite: true, CreatedAt: now}
				if err := tx.InsertDataSet(b.Context(), d); err != nil {
					return err
				}
				if err := tx.InsertCopy(b.Context(), c); err != nil {
					return err
				}
				ss := make([]backup.Snapshot, perSet)
				for k := range ss {
					ss[k] = backup.Snapshot{CopyID: c.ID, ID: fmt.Sprintf("%064d", k), DataSetID: d.ID, Time: now.Add(-time.Duration(k) * time.Hour), Type: backup.Full, SeenAt: now}
				}
				if err := tx.PutSnapshots(b.Context(), ss); err != nil {
					return err
				}
			}
			_, err := log.Append(b.Context(), tx, ledger.Event{Actor: "bench", Kind: "bench.seeded", Subject: "bench/" + strconv.Itoa(i)})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d data sets × %d snapshots in %s", sets, perSet, time.Since(start).Round(time.Second))
	b.ResetTimer()
	for b.Loop() {
		st, err := svc.Status(b.Context())
		if err != nil || len(st) != sets || !st[0].Fresh || st[0].DaysCovered != 7 {
			b.Fatalf("status: %d rows, %v", len(st), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/status")
	b.ReportMetric(float64(sets*perSet), "snapshots")
}
