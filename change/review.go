package change

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// minJustification is the shortest justification of an exception taken.
const minJustification = 15

// List returns the changes a filter selects, newest first, and how many
// match.
func (s *Service) List(ctx context.Context, f Filter) ([]Change, int, error) {
	if f.Verdict != "" && !slices.Contains(Verdicts, f.Verdict) {
		return nil, 0, invalid("verdict", "verdict %q: one of %s", f.Verdict, strings.Join(Verdicts, ", "))
	}
	var err error
	if f.Limit, err = opsguard.PageLimit(f.Limit); err != nil {
		return nil, 0, err
	}
	f.Now = s.now()
	var out []Change
	var n int
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		out, n, err = tx.ListChanges(ctx, f)
		return err
	})
	return out, n, err
}

// Detail is a change with its reviews.
type Detail struct {
	Change
	Reviews []Review `json:"reviews"`
	Overdue bool     `json:"overdue"`
	// Cleared says which violations the post-facto review cleared
	// (Change.ClearedNote), or is empty.
	Cleared string `json:"cleared,omitempty"`
}

// Get returns a change by id, or by a commit SHA (or its prefix of at
// least 7 characters) when one change of the register has it.
func (s *Service) Get(ctx context.Context, ref string) (Detail, error) {
	var d Detail
	err := s.store.View(ctx, func(tx Tx) error {
		c, err := s.find(ctx, tx, ref)
		if err != nil {
			return err
		}
		d.Change = c
		d.Reviews, err = tx.Reviews(ctx, c.ID)
		return err
	})
	d.Overdue = d.Change.Overdue(s.now())
	d.Cleared = d.Change.ClearedNote()
	return d, err
}

func (s *Service) find(ctx context.Context, tx Tx, ref string) (Change, error) {
	ref = strings.TrimSpace(ref)
	if strings.HasPrefix(ref, "chg_") {
		return tx.ChangeByID(ctx, ref)
	}
	if len(ref) < 7 {
		return Change{}, invalid("id", "%q is neither a change id nor a commit SHA of at least 7 characters", ref)
	}
	cs, _, err := tx.ListChanges(ctx, Filter{SHA: strings.ToLower(ref), Limit: 2, Now: s.now()})
	switch {
	case err != nil:
		return Change{}, err
	case len(cs) == 0:
		return Change{}, opsguard.Errorf(opsguard.ENotFound, "no change has commit %s", ref)
	case len(cs) > 1:
		return Change{}, opsguard.Errorf(opsguard.EConflict, "commit %s is on more than one branch: give the change id", ref)
	}
	return cs[0], nil
}

// ReviewRequest is a post-facto review.
type ReviewRequest struct {
	Checklist map[string]string `json:"checklist"`
	Comment   string            `json:"comment"`
}

// Review records a post-facto review of a change (CM-7) with the CM-6
// checklist. The reviewer may not be the change's author, committer or
// merger. An emergency change reviewed within its window passes; reviewed
// late, it fails CM-7 for good.
func (s *Service) Review(ctx context.Context, by Actor, ref string, req ReviewRequest) (Detail, error) {
	for k, v := range req.Checklist {
		if !slices.Contains(ChecklistItems, k) {
			return Detail{}, invalid("checklist."+k, "checklist item %q: one of %s", k, strings.Join(ChecklistItems, ", "))
		}
		if !slices.Contains(ChecklistAnswers, v) {
			return Detail{}, invalid("checklist."+k, "answer %q to %s: one of %s", v, k, strings.Join(ChecklistAnswers, ", "))
		}
	}
	req.Comment = strings.TrimSpace(req.Comment)
	if req.Comment == "" && len(req.Checklist) == 0 {
		return Detail{}, invalid("comment", "a review needs a comment or the checklist's answers")
	}
	return s.alter(ctx, by, ref, "review", func(tx Tx, c *Change) (ledger.Event, error) {
		if c.ReviewedAt != nil {
			return ledger.Event{}, opsguard.Errorf(opsguard.EConflict, "change %s was already reviewed by %s", short(c.SHA), c.ReviewedBy)
		}
		now := s.now()
		r := Review{ID: id.New("rev"), ChangeID: c.ID, Reviewer: by.Name, Checklist: req.Checklist, Comment: req.Comment, ReviewedAt: now}
		if r.Checklist == nil {
			r.Checklist = map[string]string{}
		}
		if c.Emergency && c.ReviewDueAt != nil && now.After(*c.ReviewDueAt) {
			r.Late = true
			days := int(math.Ceil(now.Sub(*c.ReviewDueAt).Hours() / 24))
			c.Violations = append(c.Violations, Violation{Rule: "CM-7", Message: fmt.Sprintf("reviewed after the fact %d day(s) after its window closed on %s", days, c.ReviewDueAt.Format("2006-01-02"))})
		}
		c.ReviewedBy, c.ReviewedAt = by.Name, &now
		c.Verdict = verdict(*c)
		if err := tx.InsertReview(ctx, r); err != nil {
			return ledger.Event{}, err
		}
		return ledger.Event{Actor: by.Name, Kind: "change.reviewed", Subject: "change/" + c.ID,
			Payload: map[string]any{"sha": c.SHA, "review": r, "verdict": c.Verdict}}, nil
	})
}

// alter changes a change in one transaction: it finds it, refuses anyone
// who wrote or merged it (segregation of duties: what they may not do is
// named by action), lets fn change it and name the ledger event, stores
// it and ledgers the event.
func (s *Service) alter(ctx context.Context, by Actor, ref, action string, fn func(tx Tx, c *Change) (ledger.Event, error)) (Detail, error) {
	var changeID string
	err := s.store.Update(ctx, func(tx Tx) error {
		c, err := s.find(ctx, tx, ref)
		if err != nil {
			return err
		}
		changeID = c.ID
		if by.Is(c.Author, c.AuthorEmail, c.Committer, c.CommitterEmail, c.PRAuthor, c.MergedBy) {
			return opsguard.Errorf(opsguard.EForbidden, "%s wrote or merged change %s and may not %s it: segregation of duties", by.Username, short(c.SHA), action)
		}
		ev, err := fn(tx, &c)
		if err != nil {
			return err
		}
		if err := tx.UpdateChangeState(ctx, c); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ev)
		return err
	})
	if err != nil {
		return Detail{}, err
	}
	return s.Get(ctx, changeID)
}

// GrantException marks a failed change as an exception: legitimate (an
// initial import, a history migration) and justified by a security
// officer who is not its author. The violations stay on record.
func (s *Service) GrantException(ctx context.Context, by Actor, ref, justification string) (Detail, error) {
	justification = strings.TrimSpace(justification)
	if !by.SecurityOfficer {
		return Detail{}, opsguard.Errorf(opsguard.EForbidden, "only a security officer may grant an exception")
	}
	if len(justification) < minJustification {
		return Detail{}, invalid("justification", "an exception needs a justification of at least %d characters", minJustification)
	}
	return s.alter(ctx, by, ref, "grant an exception to", func(tx Tx, c *Change) (ledger.Event, error) {
		if c.Verdict != Fail && !c.Overdue(s.now()) {
			return ledger.Event{}, opsguard.Errorf(opsguard.EConflict, "change %s is %s: only a failed or overdue change takes an exception", short(c.SHA), c.Verdict)
		}
		now := s.now()
		c.ExceptionBy, c.ExceptionAt, c.ExceptionWhy = by.Name, &now, justification
		c.Verdict = verdict(*c)
		return ledger.Event{Actor: by.Name, Kind: "change.exception_granted", Subject: "change/" + c.ID,
			Payload: map[string]any{"sha": c.SHA, "justification": justification, "violations": c.Violations}}, nil
	})
}

// Violations returns the repository-level violations (rewritten
// histories) of a repository, or of all when name is empty.
func (s *Service) Violations(ctx context.Context, name string) ([]RepoViolation, error) {
	var out []RepoViolation
	err := s.store.View(ctx, func(tx Tx) error {
		repoID := ""
		if name != "" {
			r, err := tx.RepositoryByName(ctx, name)
			if err != nil {
				return err
			}
			repoID = r.ID
		}
		var err error
		out, err = tx.RepoViolations(ctx, repoID)
		return err
	})
	return out, err
}

// ExceptRewrite grants an exception to a rewritten history (a planned
// history migration), by a security officer with a justification.
func (s *Service) ExceptRewrite(ctx context.Context, by Actor, violationID, justification string) (RepoViolation, error) {
	justification = strings.TrimSpace(justification)
	if !by.SecurityOfficer {
		return RepoViolation{}, opsguard.Errorf(opsguard.EForbidden, "only a security officer may grant an exception")
	}
	if len(justification) < minJustification {
		return RepoViolation{}, invalid("justification", "an exception needs a justification of at least %d characters", minJustification)
	}
	var v RepoViolation
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if v, err = tx.RepoViolationByID(ctx, violationID); err != nil {
			return err
		}
		if v.ExceptionAt != nil {
			return opsguard.Errorf(opsguard.EConflict, "violation %s already has an exception", v.ID)
		}
		now := s.now()
		v.ExceptionBy, v.ExceptionAt, v.ExceptionWhy = by.Name, &now, justification
		if err := tx.UpdateRepoViolation(ctx, v); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "repository.exception_granted", Subject: "repository/" + v.RepoID,
			Payload: map[string]any{"violation": v.ID, "justification": justification}})
		return err
	})
	return v, err
}
