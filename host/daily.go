package host

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsguard/opsguard/ledger"
)

// Peak is a series' day: the average and the highest of its hours, in
// the series' unit (percent, load, bytes or inodes).
type Peak struct {
	HostID string
	Series string
	Avg    float64
	Max    float64
	Total  float64
}

// DayRecord is a host's capacity over one UTC day: its peaks, and its
// projections when the day was recorded. The records of a day are sealed
// together, one ledger entry with every host's record as its evidence, so
// capacity planning has evidence over time.
type DayRecord struct {
	Day         string  `json:"day"` // YYYY-MM-DD
	HostID      string  `json:"host_id"`
	Host        string  `json:"host"`
	Environment string  `json:"environment"`
	CPUAvg      float64 `json:"cpu_avg_percent"`
	CPUPeak     float64 `json:"cpu_peak_percent"`
	MemoryAvg   float64 `json:"memory_avg_percent"`
	MemoryPeak  float64 `json:"memory_peak_percent"`
	Load1Peak   float64 `json:"load1_peak"`
	Filesystems []FSDay `json:"filesystems"`
	// State is the host's capacity state when the day was recorded.
	State string `json:"state"`
}

// FSDay is a filesystem's day.
type FSDay struct {
	Mount               string   `json:"mount"`
	TotalBytes          uint64   `json:"total_bytes"`
	PeakUsedPercent     float64  `json:"peak_used_percent"`
	PeakInodePercent    float64  `json:"peak_inode_percent,omitempty"`
	DaysUntilFull       *float64 `json:"days_until_full,omitempty"`
	DaysUntilInodesFull *float64 `json:"days_until_inodes_full,omitempty"`
}

// DayTx is what the daily capacity record needs from a transaction.
type DayTx interface {
	// DayPeaks returns every host's series aggregated over [from, to).
	DayPeaks(ctx context.Context, from, to time.Time) ([]Peak, error)
	// CapacityDayRecorded reports whether a day's records are sealed.
	CapacityDayRecorded(ctx context.Context, day string) (bool, error)
	PutCapacityDay(ctx context.Context, r DayRecord) error
	// CapacityDays returns a host's records, newest first.
	CapacityDays(ctx context.Context, hostID string, limit int) ([]DayRecord, error)
}

// RecordDay seals the capacity record of the last complete UTC day for
// every host that reported in it, once: a run after the day is recorded
// does nothing. It returns the day and the number of hosts recorded.
func (s *Service) RecordDay(ctx context.Context) (string, int, error) {
	now := s.now()
	to := now.Truncate(24 * time.Hour)
	from := to.Add(-24 * time.Hour)
	day := from.Format(time.DateOnly)
	sts, err := s.Status(ctx)
	if err != nil {
		return day, 0, err
	}
	n := 0
	err = s.store.Update(ctx, func(tx Tx) error {
		if done, err := tx.CapacityDayRecorded(ctx, day); err != nil || done {
			return err
		}
		peaks, err := tx.DayPeaks(ctx, from, to)
		if err != nil {
			return err
		}
		recs := dayRecords(day, peaks, sts)
		if n = len(recs); n == 0 {
			return nil
		}
		for _, r := range recs {
			if err := tx.PutCapacityDay(ctx, r); err != nil {
				return fmt.Errorf("capacity record of %s on %s: %w", r.Host, day, err)
			}
		}
		body, err := json.Marshal(recs)
		if err != nil {
			return err
		}
		blob, err := s.log.PutBlob(ctx, tx, "application/json", body)
		if err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: "system", Kind: "capacity.day_recorded", Subject: "capacity/" + day,
			Payload: map[string]any{"day": day, "hosts": n, "evidence": []string{blob.Ref()}}})
		return err
	})
	return day, n, err
}

// dayRecords joins a day's peaks with each host's status (its name,
// environment, filesystems and projections), by host ID.
func dayRecords(day string, peaks []Peak, sts []Status) []DayRecord {
	byHost := map[string]map[string]Peak{}
	for _, p := range peaks {
		if byHost[p.HostID] == nil {
			byHost[p.HostID] = map[string]Peak{}
		}
		byHost[p.HostID][p.Series] = p
	}
	var out []DayRecord
	for _, st := range sts {
		ps, ok := byHost[st.HostID]
		if !ok {
			continue
		}
		r := DayRecord{Day: day, HostID: st.HostID, Host: st.Host, Environment: st.Environment, State: st.State, Filesystems: []FSDay{},
			CPUAvg: round1(ps["cpu"].Avg), CPUPeak: round1(ps["cpu"].Max), MemoryAvg: round1(ps["memory"].Avg), MemoryPeak: round1(ps["memory"].Max),
			Load1Peak: ps["load1"].Max}
		for _, f := range st.Filesystems {
			d := ps["disk:"+f.Mount]
			if d.Total == 0 {
				continue
			}
			fd := FSDay{Mount: f.Mount, TotalBytes: uint64(d.Total), PeakUsedPercent: round1(100 * d.Max / d.Total),
				DaysUntilFull: f.DaysUntilFull, DaysUntilInodesFull: f.DaysUntilInodesFull}
			if in := ps["inodes:"+f.Mount]; in.Total > 0 {
				fd.PeakInodePercent = round1(100 * in.Max / in.Total)
			}
			r.Filesystems = append(r.Filesystems, fd)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b DayRecord) int { return strings.Compare(a.HostID, b.HostID) })
	return out
}

// MaxHistoryDays bounds the days of one history answer.
const MaxHistoryDays = 400

// CapacityHistory returns a host's daily records, newest first, at most
// limit (1 … MaxHistoryDays).
func (s *Service) CapacityHistory(ctx context.Context, name string, limit int) ([]DayRecord, error) {
	if limit < 1 || limit > MaxHistoryDays {
		return nil, invalid("limit", "limit %d: 1 to %d days", limit, MaxHistoryDays)
	}
	var out []DayRecord
	err := s.store.View(ctx, func(tx Tx) error {
		h, err := tx.HostByName(ctx, name)
		if err != nil {
			return err
		}
		out, err = tx.CapacityDays(ctx, h.ID, limit)
		return err
	})
	return out, err
}
