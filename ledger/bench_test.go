package ledger_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// BenchmarkAppend measures entries per second appended in one transaction
// per batch, with the checkpoint signed in it, on both backends.
func BenchmarkAppend(b *testing.B) {
	for _, be := range storetest.Backends() {
		for _, batch := range []int{1, 100, 10000} {
			b.Run(fmt.Sprintf("%s/batch=%d", be.Name, batch), func(b *testing.B) {
				db := storetest.Open(b, be.DSN(b))
				l := newLog(b)
				evs := make([]ledger.Event, batch)
				for i := range evs {
					evs[i] = ledger.Event{Actor: "bench", Kind: "bench.event", Subject: "finding/" + strconv.Itoa(i),
						Payload: map[string]any{"severity": "high", "id": "CVE-2024-" + strconv.Itoa(1000+i), "asset": "registry.example.com/app:1.2.3"}}
				}
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if err := db.Update(ctx, func(tx *store.Tx) error {
						_, err := l.Append(ctx, tx, evs...)
						return err
					}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "entries/s")
			})
		}
	}
}

// BenchmarkVerify measures a full verify on each backend and compares it
// with plain SHA-256 over the same bytes in the same run. Size with
// OPSGUARD_BENCH_VERIFY_ENTRIES (default 100000; the figure is for
// 1000000).
func BenchmarkVerify(b *testing.B) {
	n := verifyEntries()
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := verifyDB(b, be)
			l := newLog(b)
			appendN(b, db, l, n, 10000)

			// The bytes verify hashes: each payload and each leaf text.
			var all []byte
			db.View(ctx, func(tx *store.Tx) error {
				return tx.ScanEntries(ctx, 1, 0, func(e *ledger.Entry) error {
					all = append(all, e.Payload...)
					all = append(all, e.LeafData()...)
					return nil
				})
			})
			start := time.Now()
			sha256.Sum256(all)
			shaTime := time.Since(start)

			b.ResetTimer()
			start = time.Now()
			for i := 0; i < b.N; i++ {
				rep := verify(b, db, l)
				if !rep.OK() || rep.Entries != int64(n) {
					b.Fatalf("verify: %+v", rep)
				}
			}
			per := time.Since(start) / time.Duration(b.N)
			b.ReportMetric(per.Seconds(), "s/verify")
			b.ReportMetric(float64(n)/per.Seconds(), "entries/s")
			b.ReportMetric(float64(len(all))/1e6, "MB")
			b.ReportMetric(per.Seconds()/shaTime.Seconds(), "x-sha256")
		})
	}
}

// BenchmarkVerifyRows measures a full verify of n entries and n sealed
// rows (users written 10,000 per transaction, each sealed by its entry's
// blob) and, in the same run, the same verification without the rows.
// Size with OPSGUARD_BENCH_VERIFY_ENTRIES (default 100000; the issue's
// figure is for 1000000).
func BenchmarkVerifyRows(b *testing.B) {
	n := verifyEntries()
	const batch = 10000
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := verifyDB(b, be)
			l := newLog(b)
			rows := 0
			for rows < n {
				k := min(batch, n-rows)
				err := db.Update(ctx, func(tx *store.Tx) error {
					storetest.ExecTx(b, tx, `WITH RECURSIVE s(i) AS (SELECT CAST(? AS BIGINT) UNION ALL SELECT i + 1 FROM s WHERE i < ?)
						INSERT INTO users (id, username, display_name, email, role, password_hash, created_at, created_by)
						SELECT 'usr_' || i, 'user' || i, 'User ' || i, 'user' || i || '@example.com', 'engineer', 'argon2id$x', '2026-12-01T00:00:00.000000Z', 'bench' FROM s`,
						rows+1, rows+k)
					_, err := l.Append(ctx, tx, ledger.Event{Actor: "bench", Kind: "user.imported", Subject: "users/" + strconv.Itoa(rows)})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				rows += k
			}
			var size int64
			db.View(ctx, func(tx *store.Tx) (err error) { size, err = tx.LedgerSize(ctx); return err })
			appendN(b, db, l, n-int(size), 10000)

			src := store.LedgerSource(db)
			timeVerify := func(src ledger.Source) time.Duration {
				start := time.Now()
				rep, err := ledger.Verify(ctx, src, l.Verifier(), nil)
				if err != nil || !rep.OK() || rep.Entries != int64(n) {
					b.Fatalf("verify: %+v %v", rep, err)
				}
				return time.Since(start)
			}
			b.ResetTimer()
			var with, without time.Duration
			for i := 0; i < b.N; i++ {
				with += timeVerify(src)
				without += timeVerify(struct{ ledger.Source }{src}) // hides Rows: entries only
			}
			// The floor of the row pass: reading every sealed row's
			// canonical text, with no hashing and no seal to compare.
			start := time.Now()
			err := src.(ledger.RowSource).Rows(ctx, func(r ledger.RowReader) error {
				for _, t := range r.SealedTables() {
					if err := r.ScanRows(ctx, t, func(*ledger.StoredRow) error { return nil }); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			read := time.Since(start)
			per := with / time.Duration(b.N)
			b.ReportMetric(per.Seconds(), "s/verify")
			b.ReportMetric(read.Seconds(), "s-read-rows")
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(float64(with)/float64(without), "x-without-rows")
		})
	}
}

// verifyEntries is the size of the verify benchmarks:
// OPSGUARD_BENCH_VERIFY_ENTRIES, default 100000.
func verifyEntries() int {
	if n, err := strconv.Atoi(os.Getenv("OPSGUARD_BENCH_VERIFY_ENTRIES")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// verifyDB opens an empty store of be, SQLite in a file of its own.
func verifyDB(b *testing.B, be storetest.Backend) *store.DB {
	dsn := be.DSN(b)
	if be.Name == "sqlite" {
		dsn = filepath.Join(b.TempDir(), "verify.db")
	}
	return storetest.Open(b, dsn)
}
