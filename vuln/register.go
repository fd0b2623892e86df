package vuln

import (
	"context"
	"time"

	"github.com/opsguard/opsguard"
)

// Filter selects findings for the register.
type Filter struct {
	Asset     string
	Status    Status
	Severity  Severity
	Risk      Risk
	Breached  bool
	DueBefore time.Time
	Now       time.Time // for Breached; set by the service
	Limit     int       // a page: opsguard.DefaultPage when 0, at most opsguard.MaxPage
	Offset    int
}

// List returns a page of the register, most urgent first, and the total.
func (s *Service) List(ctx context.Context, f Filter) ([]Finding, int, error) {
	var err error
	if f.Limit, err = opsguard.PageLimit(f.Limit); err != nil {
		return nil, 0, err
	}
	f.Now = s.now().UTC()
	var out []Finding
	var total int
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		out, total, err = tx.ListFindings(ctx, f)
		return err
	})
	return out, total, err
}

// Count returns how many findings a filter selects.
func (s *Service) Count(ctx context.Context, f Filter) (int, error) {
	f.Now = s.now().UTC()
	var n int
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		n, err = tx.CountFindings(ctx, f)
		return err
	})
	return n, err
}

// Get returns one finding.
func (s *Service) Get(ctx context.Context, findingID string) (Finding, error) {
	var f Finding
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		f, err = tx.FindingByID(ctx, findingID)
		return err
	})
	return f, err
}
