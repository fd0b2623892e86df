package host_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// The day's record holds the peaks of that day only, is sealed once with
// the records as evidence, and reads back newest first.
func TestCapacityDayRecord(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 3, 2, 0, 10, 0, 0, time.UTC)}
		s := newService(t, db, c, nil)
		send := func(used uint64, cpu float64) {
			t.Helper()
			r := report(c.Now(), used)
			r.CPU.Percent = cpu
			if _, err := s.Ingest(t.Context(), host.Sender{Actor: "agent"}, r); err != nil {
				t.Fatal(err)
			}
		}
		for h := range 24 {
			c.Set(time.Date(2026, 3, 2, h, 10, 0, 0, time.UTC))
			send(uint64(300+10*h), float64(20+h))
		}
		c.Set(time.Date(2026, 3, 3, 0, 10, 0, 0, time.UTC))
		send(900, 99) // the next day's: in no record of March 2nd
		c.Set(time.Date(2026, 3, 3, 1, 0, 0, 0, time.UTC))
		day, n, err := s.RecordDay(t.Context())
		if err != nil || day != "2026-03-02" || n != 1 {
			t.Fatalf("record day: %s, %d hosts, %v", day, n, err)
		}
		if _, n, err := s.RecordDay(t.Context()); err != nil || n != 0 {
			t.Fatalf("a second run recorded %d hosts (%v), want none", n, err)
		}
		rs, err := s.CapacityHistory(t.Context(), "db-1", 30)
		if err != nil || len(rs) != 1 {
			t.Fatalf("history %+v, %v", rs, err)
		}
		r := rs[0]
		if r.CPUPeak != 43 || r.Host != "db-1" || len(r.Filesystems) != 1 || r.Filesystems[0].PeakUsedPercent != 53 || r.Filesystems[0].DaysUntilFull == nil {
			b, _ := json.Marshal(r)
			t.Fatalf("record %s: want a CPU peak of 43, the disk's of 53%% and a projection", b)
		}
		if _, err := s.CapacityHistory(t.Context(), "db-1", 0); opsguard.ErrorCode(err) != opsguard.EInvalid {
			t.Fatalf("limit 0: %v", err)
		}
		err = db.View(t.Context(), func(tx *store.Tx) error {
			es, err := tx.ListEntries(t.Context(), ledger.EntryFilter{Kind: "capacity.day_recorded", Limit: 10})
			if err != nil || len(es) != 1 || es[0].Subject != "capacity/2026-03-02" {
				t.Fatalf("entries %+v, %v: want one for the day", es, err)
			}
			var p struct{ Evidence []string }
			json.Unmarshal(es[0].Payload, &p)
			if len(p.Evidence) != 1 {
				t.Fatalf("payload %s: no evidence", es[0].Payload)
			}
			b, err := tx.Blob(t.Context(), strings.TrimPrefix(p.Evidence[0], "sha256:"))
			if err != nil || !strings.Contains(string(b.Content), `"cpu_peak_percent":43`) {
				t.Fatalf("evidence %s, %v", b.Content, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
