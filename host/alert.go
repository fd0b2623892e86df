package host

import (
	"context"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/ledger"
)

// Alert states.
const (
	Pending  = "pending"  // crossed, not yet for alert_after
	Firing   = "firing"   // alerted (capacity.alert)
	Clearing = "clearing" // firing, below the threshold less the hysteresis
)

// AlertState is one host's metric at one level: its crossing and whether
// it was alerted. Key is host|metric|level.
type AlertState struct {
	Key       string     `json:"key"`
	HostID    string     `json:"host_id"`
	Metric    string     `json:"metric"` // cpu, memory, disk:/, inodes:/, full:/
	Level     string     `json:"level"`
	State     string     `json:"state"` // pending, firing, clearing, ok
	Since     time.Time  `json:"since"` // when the crossing began
	FiredAt   *time.Time `json:"fired_at,omitempty"`
	ClearFrom *time.Time `json:"clear_from,omitempty"`
	Value     float64    `json:"value"`
	Threshold float64    `json:"threshold"`
}

// reading is a metric's value against one level's threshold: above for
// percentages, below for days until full.
type reading struct {
	metric, level string
	value, limit  float64
	below         bool // crossing is value < limit (days until full)
}

func (r reading) crossed() bool {
	if r.below {
		return r.value < r.limit
	}
	return r.value >= r.limit
}

// cleared: past the threshold by the hysteresis margin.
func (r reading) cleared(h float64) bool {
	if r.below {
		return r.value >= r.limit*1.2
	}
	return r.value < r.limit-h
}

func (s *Service) readings(st Status, h Host) []reading {
	t := s.opts.Capacity.thresholds(h.Groups)
	var rs []reading
	add := func(metric string, v float64, l Level) {
		rs = append(rs, reading{metric, Warning, v, l.Warning, false}, reading{metric, Critical, v, l.Critical, false})
	}
	add("cpu", st.CPUPercent, t.CPU)
	add("memory", st.MemoryPercent, t.Memory)
	for _, m := range st.Metrics {
		if l, ok := s.opts.Capacity.Metrics[m.Name]; ok {
			add("metric:"+m.Name, m.Value, l)
		}
	}
	for _, f := range st.Filesystems {
		add("disk:"+f.Mount, f.UsedPercent, t.Disk)
		add("inodes:"+f.Mount, f.InodePercent, t.Inodes)
		days := f.DaysUntilFull
		if d := f.DaysUntilInodesFull; d != nil && (days == nil || *d < *days) {
			days = d
		}
		if days != nil {
			rs = append(rs, reading{"full:" + f.Mount, Warning, *days, float64(s.opts.Capacity.DiskFullWarnDays), true})
		}
	}
	return rs
}

// Check steps every host's alerts: a crossing that lasted alert_after is
// alerted once (capacity.alert), and resolved once (capacity.resolved)
// when its value stayed past the threshold less the hysteresis for
// alert_after. A silent host's alerts stay as they are. Each day's first
// check seals a capacity record per host (capacity.daily).
func (s *Service) Check(ctx context.Context) error {
	sts, err := s.Status(ctx)
	if err != nil {
		return err
	}
	hs, err := s.Hosts(ctx)
	if err != nil {
		return err
	}
	byID := map[string]Host{}
	for _, h := range hs {
		byID[h.ID] = h
	}
	now := s.now()
	return s.store.Update(ctx, func(tx Tx) error {
		old, err := tx.AlertStates(ctx)
		if err != nil {
			return err
		}
		states := map[string]AlertState{}
		for _, a := range old {
			states[a.Key] = a
		}
		var events []ledger.Event
		for _, st := range sts {
			if st.Silent {
				continue
			}
			for _, r := range s.readings(st, byID[st.HostID]) {
				key := st.HostID + "|" + r.metric + "|" + r.level
				a, changed, note := s.step(states[key], r, now)
				if !changed {
					continue
				}
				a.Key, a.HostID = key, st.HostID
				if err := tx.PutAlertState(ctx, a); err != nil {
					return err
				}
				events = append(events, ledger.Event{Actor: "system", Kind: "capacity.state", Subject: "host/" + st.HostID, Payload: a})
				if note != "" && s.opts.Notifier != nil {
					summary := fmt.Sprintf("%s %s %s on %s: %.1f (threshold %.1f)", r.metric, r.level, map[string]string{"capacity.alert": "crossed", "capacity.resolved": "resolved"}[note], st.Host, r.value, r.limit)
					if err := s.opts.Notifier.Notify(ctx, tx, note, "host/"+st.HostID, summary,
						map[string]any{"host": st.Host, "metric": r.metric, "level": r.level, "value": r.value, "threshold": r.limit}); err != nil {
						return err
					}
				}
			}
		}
		daily, err := s.daily(ctx, tx, states["daily"], sts, now)
		if err != nil {
			return err
		}
		events = append(events, daily...)
		if len(events) == 0 {
			return nil
		}
		_, err = s.log.Append(ctx, tx, events...)
		return err
	})
}

// step moves one alert state by a reading at now; note is the
// notification kind to send, if any.
func (s *Service) step(a AlertState, r reading, now time.Time) (AlertState, bool, string) {
	after := s.opts.Capacity.AlertAfter
	a.Metric, a.Level, a.Threshold = r.metric, r.level, r.limit
	switch a.State {
	case "", OK:
		if !r.crossed() {
			return a, false, ""
		}
		a.State, a.Since, a.Value, a.FiredAt, a.ClearFrom = Pending, now, r.value, nil, nil
		return a, true, ""
	case Pending:
		if !r.crossed() {
			a.State = OK
			return a, true, ""
		}
		if now.Sub(a.Since) >= after {
			a.State, a.FiredAt, a.Value = Firing, &now, r.value
			return a, true, "capacity.alert"
		}
		return a, false, ""
	case Firing:
		if r.cleared(s.opts.Capacity.Hysteresis) {
			a.State, a.ClearFrom = Clearing, &now
			return a, true, ""
		}
		return a, false, ""
	case Clearing:
		if !r.cleared(s.opts.Capacity.Hysteresis) {
			a.State, a.ClearFrom = Firing, nil
			return a, true, ""
		}
		if a.ClearFrom != nil && now.Sub(*a.ClearFrom) >= after {
			a.State, a.Value = OK, r.value
			return a, true, "capacity.resolved"
		}
	}
	return a, false, ""
}

// daily seals each host's capacity record on the first check of a day.
func (s *Service) daily(ctx context.Context, tx Tx, last AlertState, sts []Status, now time.Time) ([]ledger.Event, error) {
	day := now.Truncate(24 * time.Hour)
	if !last.Since.Before(day) || len(sts) == 0 {
		return nil, nil
	}
	if err := tx.PutAlertState(ctx, AlertState{Key: "daily", HostID: "", Metric: "daily", Level: "", State: OK, Since: day}); err != nil {
		return nil, err
	}
	var es []ledger.Event
	for _, st := range sts {
		es = append(es, ledger.Event{Actor: "system", Kind: "capacity.daily", Subject: "host/" + st.HostID,
			Payload: map[string]any{"day": day.Format(time.DateOnly), "status": st}})
	}
	return es, nil
}
