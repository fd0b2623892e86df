package events_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opsguard/opsguard/events"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/store/storetest"
)

const benchBatch = 1000

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchEvents is a batch of sign-ins and sudo lines as an agent ships them.
func benchEvents(at time.Time, n int) []events.Event {
	es := make([]events.Event, n)
	for i := range es {
		a := fmt.Sprintf("198.51.100.%d", i%250)
		es[i] = events.Event{Host: "web-1", At: at.Add(time.Duration(i) * time.Millisecond), Kind: events.SSHAccepted, User: "deploy", Address: a,
			Program: "sshd", Message: "Accepted publickey for deploy from " + a + " port 50022 ssh2: ED25519 SHA256:0123456789abcdef0123456789abcdef"}
		if i%3 == 0 {
			es[i].Kind, es[i].Address, es[i].Program, es[i].Message = events.Sudo, "", "sudo", "deploy : TTY=pts/0 ; PWD=/srv ; USER=root ; COMMAND=/usr/bin/systemctl restart app"
		}
	}
	return es
}

// Ingest on SQLite, sealed (rows sealed, one events.batch entry a batch
// of 1000), against inserting the same rows into the same table without
// seals or ledger in the same run: events/s of each and their ratio.
func BenchmarkIngestSQLite(b *testing.B) {
	dir := b.TempDir()
	e := newEnv(b, storetest.Open(b, filepath.Join(dir, "sealed.db")), nil)
	e.svc = events.NewService(storeOf(e), e.log, events.Options{Now: e.c.Now}) // no alerts: the ingest alone
	plain := plainDB(b, filepath.Join(dir, "plain.db"))
	ctx := context.Background()
	batches := max(1, b.N/benchBatch)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := range batches {
		es := benchEvents(e.c.Now().Add(-time.Hour+time.Duration(i)*time.Second), benchBatch)
		if _, err := e.svc.Ingest(ctx, events.Sender{Actor: "agent", Source: events.SourceAgent}, events.Batch{Version: 1, HostID: "web-1", Events: es}); err != nil {
			b.Fatal(err)
		}
	}
	sealed, sealedCPU := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	start, cpu0 = time.Now(), cpuTime()
	for i := range batches {
		plainInsert(b, plain, benchEvents(e.c.Now().Add(-time.Hour+time.Duration(i)*time.Second), benchBatch))
	}
	unsealed, unsealedCPU := time.Since(start), cpuTime()-cpu0
	n := float64(batches * benchBatch)
	// Wall time counts what other processes of a shared machine take;
	// CPU time (this process's, user and system) what the ingest costs.
	b.ReportMetric(n/sealed.Seconds(), "events/s")
	b.ReportMetric(n/unsealed.Seconds(), "plain_events/s")
	b.ReportMetric(n/sealedCPU.Seconds(), "events/cpu-s")
	b.ReportMetric(n/unsealedCPU.Seconds(), "plain_events/cpu-s")
	b.ReportMetric(sealedCPU.Seconds()/unsealedCPU.Seconds(), "sealed/plain_cpu")
}

// plainDB is a SQLite database with the events table and its indexes and
// the store's pragmas, but no seal triggers and no ledger.
func plainDB(b *testing.B, path string) *sql.DB {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_pragma=mmap_size(1073741824)&_pragma=temp_store(MEMORY)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`CREATE TABLE events (id TEXT PRIMARY KEY, host TEXT NOT NULL, at_us BIGINT NOT NULL, kind TEXT NOT NULL,
			user_name TEXT NOT NULL, address TEXT NOT NULL, program TEXT NOT NULL, message TEXT NOT NULL)`,
		`CREATE INDEX events_time ON events (at_us)`, `CREATE INDEX events_host ON events (host, at_us)`,
		`CREATE INDEX events_kind_address ON events (kind, address, at_us)`, `CREATE INDEX events_user ON events (user_name, at_us)`,
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// plainInsert writes a batch's rows as the store does (200 to a
// statement, one transaction), with ids made the same way.
func plainInsert(b *testing.B, db *sql.DB, es []events.Event) {
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	batch, k := id.New("evb"), 0
	for len(es) > 0 {
		n := min(len(es), 200)
		q := "INSERT INTO events VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ")
		args := make([]any, 0, n*8)
		for i, e := range es[:n] {
			args = append(args, batch+"."+strconv.Itoa(100000 + k + i)[1:], e.Host, e.At.UnixMicro(), e.Kind, e.User, e.Address, e.Program, e.Message)
		}
		k += n
		if _, err := tx.Exec(q, args...); err != nil {
			b.Fatal(err)
		}
		es = es[n:]
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
