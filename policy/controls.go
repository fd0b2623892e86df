package policy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
)

// AttestedSuffix ends the ID of a control that reads attestations: the
// compliance view does not count it as automated.
const AttestedSuffix = ".attested"

// Controls returns the governance controls: GV-1, GV-2, GV-5, the
// attestation controls and the freshness of the vulnerability feeds.
func (s *Service) Controls() []control.Control {
	cs := []control.Control{
		{ID: "GV-1.documents-approved", Requirement: "GV-1", Title: "Every document's current version was approved by the Information Security Officer, who is not its author", Evaluate: s.approvedControl},
		{ID: "GV-2.reviews-current", Requirement: "GV-2", Title: "No document's review is overdue and no significant change awaits its review", Evaluate: s.reviewControl},
		{ID: "GV-1.documents-acknowledged", Requirement: "GV-1", Title: "Every holder of a staff role acknowledged the current version of every published document", Evaluate: s.ackControl},
		{ID: "GV-5.documents-classified", Requirement: "GV-5", Title: "Every document carries a classification", Evaluate: s.classifiedControl},
		{ID: "VM-8.feeds-fresh", Requirement: "VM-8", Title: "The known-exploited (KEV) and exploit-prediction (EPSS) feeds were imported recently", Evaluate: s.feedsControl},
	}
	for _, req := range []string{"CM-9", "CM-10", "VM-8"} {
		cs = append(cs, control.Control{ID: req + AttestedSuffix, Requirement: req, Title: "A valid, reviewed attestation vouches for " + req,
			Evaluate: func(ctx context.Context) (control.Outcome, error) { return s.attestedControl(ctx, req) }})
	}
	return cs
}

func (s *Service) approvedControl(ctx context.Context) (control.Outcome, error) {
	ds, err := s.Documents(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	var bad []string
	var refs []control.Ref
	for _, d := range ds {
		why := ""
		switch c := d.Current; {
		case c == nil:
			why = "no approved version is published"
		case c.DecidedBy == "" || c.DecidedAt == nil:
			why = fmt.Sprintf("version %d has no approval", c.Number)
		case strings.EqualFold(c.DecidedBy, c.Author):
			why = fmt.Sprintf("version %d was approved by its author %s", c.Number, c.Author)
		case textHash(c.Text) != c.SHA256:
			why = fmt.Sprintf("the text of version %d differs from the approved one", c.Number)
		}
		if why != "" {
			bad = append(bad, d.ID+": "+why)
			refs = append(refs, control.Ref{Kind: "policy", ID: d.ID, Note: why})
		}
	}
	if len(ds) == 0 {
		return control.Outcome{Status: control.Fail, Summary: "No policy document is on record."}, nil
	}
	if len(bad) > 0 {
		return control.Outcome{Status: control.Fail, Refs: refs, Summary: fmt.Sprintf("%d of %d documents lack a current version approved by someone other than its author: %s.", len(bad), len(ds), control.Examples(bad, 3, "; "))}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("All %d documents have a current version approved by the Information Security Officer, who did not write it.", len(ds))}, nil
}

func (s *Service) reviewControl(ctx context.Context) (control.Outcome, error) {
	ds, err := s.Documents(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	var bad []string
	var refs []control.Ref
	for _, d := range ds {
		why := ""
		switch {
		case d.ReviewFlag != "":
			why = "significant change awaiting review: " + d.ReviewFlag
		case d.ReviewDue == nil:
			why = "never approved, so never reviewed"
		case d.Overdue:
			why = "review overdue since " + d.ReviewDue.UTC().Format(time.DateOnly)
		}
		if why != "" {
			bad = append(bad, d.ID+": "+why)
			refs = append(refs, control.Ref{Kind: "policy", ID: d.ID, Note: why})
		}
	}
	if len(bad) > 0 {
		return control.Outcome{Status: control.Fail, Refs: refs, Summary: fmt.Sprintf("%d of %d documents need a review: %s.", len(bad), len(ds), control.Examples(bad, 3, "; "))}, nil
	}
	if len(ds) == 0 {
		return control.Outcome{Status: control.Fail, Summary: "No policy document is on record."}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("All %d documents were reviewed within %d days and no significant change awaits review.", len(ds), int(s.opts.ReviewInterval.Hours()/24))}, nil
}

func (s *Service) classifiedControl(ctx context.Context) (control.Outcome, error) {
	ds, err := s.Documents(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	var bad []string
	for _, d := range ds {
		v := d.Latest
		if d.Current != nil {
			v = *d.Current
		}
		if strings.TrimSpace(v.Classification) == "" {
			bad = append(bad, d.ID)
		}
	}
	switch {
	case len(ds) == 0:
		return control.Outcome{Status: control.NotApplicable, Summary: "No policy document is on record."}, nil
	case len(bad) > 0:
		return control.Outcome{Status: control.Fail, Summary: fmt.Sprintf("%d documents carry no classification: %s.", len(bad), control.Examples(bad, 3, ", "))}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("All %d documents carry a classification.", len(ds))}, nil
}

func (s *Service) feedsControl(ctx context.Context) (control.Outcome, error) {
	if s.opts.FeedImports == nil {
		return control.Outcome{Status: control.NotApplicable, Summary: "No feed register is wired."}, nil
	}
	last, err := s.opts.FeedImports(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	now := s.now()
	var bad []string
	for _, kind := range []string{"kev", "epss"} {
		at, ok := last[kind]
		switch {
		case !ok:
			bad = append(bad, kind+" never imported")
		case now.Sub(at) > s.opts.FeedMaxAge:
			bad = append(bad, fmt.Sprintf("%s last imported %s", kind, at.UTC().Format(time.DateOnly)))
		}
	}
	if len(bad) > 0 {
		return control.Outcome{Status: control.Fail, Summary: fmt.Sprintf("The vulnerability feeds are stale (older than %d days): %s.", int(s.opts.FeedMaxAge.Hours()/24), strings.Join(bad, "; "))}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("KEV and EPSS were imported within the last %d days.", int(s.opts.FeedMaxAge.Hours()/24))}, nil
}

// attestedControl passes on a valid attestation, fails on an expired or
// unreviewed one, and does not apply when none was ever filed (the
// compliance view shows that as a gap).
func (s *Service) attestedControl(ctx context.Context, req string) (control.Outcome, error) {
	as, err := s.Attestations(ctx, req)
	if err != nil {
		return control.Outcome{}, err
	}
	now := s.now()
	var expired, pending int
	for _, a := range as {
		switch {
		case a.Valid(now):
			return control.Outcome{Status: control.Pass, Refs: []control.Ref{{Kind: "attestation", ID: a.ID}},
				Summary: fmt.Sprintf("Attested by %s, reviewed by %s, valid until %s.", a.AttestedBy, a.ReviewedBy, a.ValidUntil.UTC().Format(time.DateOnly))}, nil
		case a.State == Accepted:
			expired++
		case a.State == Pending:
			pending++
		}
	}
	switch {
	case expired > 0:
		return control.Outcome{Status: control.Fail, Summary: fmt.Sprintf("The attestation of %s expired and was not renewed.", req)}, nil
	case pending > 0:
		return control.Outcome{Status: control.Fail, Summary: fmt.Sprintf("%d attestations of %s await review; none is valid.", pending, req)}, nil
	}
	return control.Outcome{Status: control.NotApplicable, Summary: "No attestation of " + req + " is on record."}, nil
}

// ReviewNotices sends policy.review_due before a document's review date
// and policy.review_overdue after it, each once per review date.
func (s *Service) ReviewNotices(ctx context.Context, n Notifier) (int, error) {
	ds, err := s.Documents(ctx)
	if err != nil {
		return 0, err
	}
	now, sent := s.now(), 0
	for _, d := range ds {
		if d.ReviewDue == nil {
			continue
		}
		kind := ""
		switch {
		case d.Overdue:
			kind = "policy.review_overdue"
		case !now.Before(d.ReviewDue.Add(-s.opts.ReviewNotice)):
			kind = "policy.review_due"
		default:
			continue
		}
		due := *d.ReviewDue
		err := s.store.Update(ctx, func(tx Tx) error {
			first, err := tx.PolicyNoticeSent(ctx, d.ID, kind, due)
			if err != nil || !first {
				return err
			}
			summary := fmt.Sprintf("The review of %s is due on %s.", d.Title, due.UTC().Format(time.DateOnly))
			if d.Overdue {
				summary = fmt.Sprintf("The review of %s is overdue since %s.", d.Title, due.UTC().Format(time.DateOnly))
			}
			data := map[string]any{"document": d.ID, "review_due": due}
			if _, err := s.log.Append(ctx, tx, ledger.Event{Actor: "system", Kind: kind, Subject: "policy/" + d.ID, Payload: data}); err != nil {
				return err
			}
			sent++
			return n.Notify(ctx, tx, kind, "policy/"+d.ID, summary, data)
		})
		if err != nil {
			return sent, fmt.Errorf("review notice %s: %w", d.ID, err)
		}
	}
	return sent, nil
}
