package host_test

import (
	"math"
	"testing"
	"time"

	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/store/storetest"
)

// The per-day sums kept at ingest equal a fit over the hourly averages
// read back, across days and with several reports (some late) in an hour.
func TestFitSumsKeptAtIngest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		c := &clock{t: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
		s := newService(t, db, c, nil)
		origin := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		send := func(at time.Time, used uint64) {
			t.Helper()
			if _, err := s.Ingest(t.Context(), host.Sender{Actor: "agent"}, report(at, used)); err != nil {
				t.Fatal(err)
			}
		}
		for h := 0; h < 60; h += 3 {
			at := origin.Add(time.Duration(h)*time.Hour + 5*time.Minute)
			send(at, uint64(200+7*h))
			send(at.Add(20*time.Minute), uint64(203+7*h+h%5))
		}
		// Late reports into past hours change their averages.
		send(origin.Add(3*time.Hour+50*time.Minute), 990)
		send(origin.Add(30*time.Hour+45*time.Minute), 11)
		hours, err := s.Hours(t.Context(), "m-1", "disk:/", origin)
		if err != nil {
			t.Fatal(err)
		}
		var xs, ys []float64
		for _, h := range hours {
			xs, ys = append(xs, h.Hour.Sub(origin).Hours()), append(ys, math.Round(h.Avg))
		}
		want := host.Fit(xs, ys)
		var got []host.FitSum
		err = db.View(t.Context(), func(tx *store.Tx) error {
			got, err = tx.FitSums(t.Context(), origin)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range got {
			if f.Series != "disk:/" {
				continue
			}
			if f.N != want.N || f.SX != want.SX || f.SXX != want.SXX || f.SY != want.SY || f.SXY != want.SXY || f.Total != 1000 {
				t.Fatalf("kept sums %+v, want %+v over %d hours", f, want, len(hours))
			}
			return
		}
		t.Fatalf("no sums for disk:/ in %+v", got)
	})
}
