package host

import (
	"context"
	"sort"
)

// Configuration is a host's baseline results and drift (CF-1, CF-2).
type Configuration struct {
	Host string `json:"host"`
	// Baseline is the approved baseline of the host's groups, "" when
	// none: the agent then evaluates the default one.
	Baseline string        `json:"baseline"`
	Results  []CheckResult `json:"results"`
	Drifts   []Drift       `json:"drifts"`
}

// Configuration returns a host's newest baseline results and its drifts.
func (s *Service) Configuration(ctx context.Context, name string) (Configuration, error) {
	var c Configuration
	err := s.store.View(ctx, func(tx Tx) error {
		h, err := tx.HostByName(ctx, name)
		if err != nil {
			return err
		}
		c.Host = h.Name
		if b, ok, err := approvedOf(ctx, tx, h.Groups); err != nil {
			return err
		} else if ok {
			c.Baseline = b.ID
		}
		if c.Results, err = tx.BaselineResults(ctx, h.ID); err != nil {
			return err
		}
		c.Drifts, err = tx.Drifts(ctx, h.ID, false)
		return err
	})
	if c.Results == nil {
		c.Results = []CheckResult{}
	}
	if c.Drifts == nil {
		c.Drifts = []Drift{}
	}
	return c, err
}

// HostDrift is a drift with its host's name.
type HostDrift struct {
	Host string `json:"host"`
	Drift
}

// Drifts lists the drifts of one host (by name or ID), or of every host
// for "", open ones first, newest first.
func (s *Service) Drifts(ctx context.Context, name string) ([]HostDrift, error) {
	var out []HostDrift
	err := s.store.View(ctx, func(tx Tx) error {
		names := map[string]string{}
		hostID := ""
		if name != "" {
			h, err := tx.HostByName(ctx, name)
			if err != nil {
				return err
			}
			hostID, names[h.ID] = h.ID, h.Name
		} else {
			hs, err := tx.ListHosts(ctx)
			if err != nil {
				return err
			}
			for _, h := range hs {
				names[h.ID] = h.Name
			}
		}
		ds, err := tx.Drifts(ctx, hostID, false)
		for _, d := range ds {
			out = append(out, HostDrift{Host: names[d.HostID], Drift: d})
		}
		return err
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Open() && !out[j].Open() })
	if out == nil {
		out = []HostDrift{}
	}
	return out, err
}
