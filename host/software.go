package host

import (
	"context"

	"github.com/opsguard/opsguard/host/baseline"
)

// Software is a host's installed packages against its group's approved
// list (CF-4).
type Software struct {
	Host string `json:"host"`
	// Baseline is the approved baseline whose list applies; "" when the
	// host's groups have none, and then no list approves anything.
	Baseline string `json:"baseline"`
	// Listed says whether that baseline has a software list.
	Listed   bool            `json:"listed"`
	Packages []PackageStatus `json:"packages"`
	Count    map[string]int  `json:"count"` // by status
}

// PackageStatus is an installed package and why it may be there.
type PackageStatus struct {
	baseline.Package
	// Status is allowed (by Rule), ticket (an approved change ticket
	// names it: TicketID) or violation.
	Status   string `json:"status"`
	Rule     string `json:"rule,omitempty"`
	TicketID string `json:"ticket_id,omitempty"`
}

// The statuses of an installed package.
const (
	PackageAllowed   = "allowed"
	PackageTicket    = "ticket"
	PackageViolation = "violation"
)

// Software returns a host's packages, each allowed by its group's list,
// named by an approved change ticket, or a violation.
func (s *Service) Software(ctx context.Context, name string) (Software, error) {
	var out Software
	var tickets []Ticket
	if s.opts.Tickets != nil {
		var err error
		if tickets, err = s.opts.Tickets(ctx); err != nil {
			return out, err
		}
	}
	err := s.store.View(ctx, func(tx Tx) error {
		h, err := tx.HostByName(ctx, name)
		if err != nil {
			return err
		}
		out.Host = h.Name
		b, ok, err := approvedOf(ctx, tx, h.Groups)
		if err != nil {
			return err
		}
		var rules []baseline.Rule
		if ok {
			d, err := b.Parsed()
			if err != nil {
				return err
			}
			out.Baseline, out.Listed, rules = b.ID, d.Software != nil, d.Software
		}
		pkgs, err := tx.HostPackages(ctx, h.ID)
		if err != nil {
			return err
		}
		out.Packages, out.Count = classify(h, pkgs, rules, tickets)
		return nil
	})
	return out, err
}

func classify(h Host, pkgs []baseline.Package, rules []baseline.Rule, tickets []Ticket) ([]PackageStatus, map[string]int) {
	out := make([]PackageStatus, len(pkgs))
	count := map[string]int{PackageAllowed: 0, PackageTicket: 0, PackageViolation: 0}
	for i, p := range pkgs {
		ps := PackageStatus{Package: p, Status: PackageViolation}
		if r, ok := baseline.Allowed(rules, p); ok {
			ps.Status, ps.Rule = PackageAllowed, r.String()
		} else {
			for _, t := range tickets {
				if t.names(h, p.Name) {
					ps.Status, ps.TicketID = PackageTicket, t.ID
					break
				}
			}
		}
		count[ps.Status]++
		out[i] = ps
	}
	return out, count
}
