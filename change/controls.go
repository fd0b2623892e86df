package change

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsguard/opsguard/control"
)

// state is what the CM controls check, read in one snapshot.
type state struct {
	repos    []Repository
	rewrites []RepoViolation // without an exception
	total    int
	failing  []Change
}

func (s *Service) state(ctx context.Context) (state, error) {
	var st state
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if st.repos, err = tx.ListRepositories(ctx); err != nil {
			return err
		}
		vs, err := tx.RepoViolations(ctx, "")
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.ExceptionAt == nil {
				st.rewrites = append(st.rewrites, v)
			}
		}
		st.total, st.failing, err = tx.FailingChanges(ctx, s.now())
		return err
	})
	return st, err
}

// Controls returns the controls of CM-1, CM-2, CM-3, CM-4, CM-7 and CM-8.
func (s *Service) Controls() []control.Control {
	// what is said of one change and, after "|", of several.
	rule := func(req, id, title, what string) control.Control {
		one, many, _ := strings.Cut(what, "|")
		return control.Control{ID: req + "." + id, Requirement: req, Title: title, Evaluate: func(ctx context.Context) (control.Outcome, error) {
			st, err := s.state(ctx)
			if err != nil {
				return control.Outcome{}, err
			}
			if len(st.repos) == 0 || st.total == 0 {
				return control.Outcome{Status: control.NotApplicable, Summary: "No change is on record: no repository has been synced yet."}, nil
			}
			var bad []Change
			now := s.now()
			for _, c := range st.failing {
				if c.Verdict == Fail && c.Breaks(req) || req == "CM-7" && c.Overdue(now) {
					bad = append(bad, c)
				}
			}
			if len(bad) == 0 {
				return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("None of the %d changes %s.", st.total, one)}, nil
			}
			verb := many
			if len(bad) == 1 {
				verb = one
			}
			return control.Outcome{Status: control.Fail, Refs: changeRefs(bad),
				Summary: fmt.Sprintf("%d of %d changes %s: %s.", len(bad), st.total, verb, examples(bad))}, nil
		}}
	}
	return []control.Control{
		{ID: "CM-1.history-retrievable", Requirement: "CM-1", Title: "Every watched repository's full history is retrievable: synced, not shallow, not rewritten", Evaluate: s.historyControl},
		rule("CM-2", "no-direct-push", "No change reached a protected branch without a pull request", "was pushed straight to a protected branch|were pushed straight to a protected branch"),
		rule("CM-3", "approved-by-another", "Every change was approved by someone other than its author", "lacks an approval by someone other than its author|lack an approval by someone other than their author"),
		{ID: "CM-4.checks-passed", Requirement: "CM-4", Title: "Automated checks ran and passed on every change, and are recorded", Evaluate: s.checksControl},
		{ID: "CM-6.checklist-recorded", Requirement: "CM-6", Title: "Post-facto reviews record the reviewer's checklist", Evaluate: s.checklistControl},
		rule("CM-7", "emergency-reviewed", "Every emergency change was reviewed after the fact within the window", "is an emergency change not reviewed in time|are emergency changes not reviewed in time"),
		rule("CM-8", "reverts-linked", "Every revert links to the change it reverts", "is a revert that does not link to what it reverts|are reverts that do not link to what they revert"),
	}
}

func (s *Service) historyControl(ctx context.Context) (control.Outcome, error) {
	st, err := s.state(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	if len(st.repos) == 0 {
		return control.Outcome{Status: control.Fail, Summary: "No repository is under watch: nothing proves that changes are under version control."}, nil
	}
	var problems []string
	var refs []control.Ref
	for _, r := range st.repos {
		switch {
		case r.Shallow:
			problems = append(problems, r.Name+" is a shallow clone")
		case r.SyncedAt == nil && r.SyncError != "":
			problems = append(problems, r.Name+" was never synced ("+r.SyncError+")")
		case r.SyncedAt == nil:
			problems = append(problems, r.Name+" was never synced")
		case r.SyncError != "":
			problems = append(problems, r.Name+"'s last sync failed ("+r.SyncError+")")
		default:
			continue
		}
		refs = append(refs, control.Ref{Kind: "repository", ID: r.Name})
	}
	for _, v := range st.rewrites {
		problems = append(problems, fmt.Sprintf("%s %s was rewritten (%s → %s)", v.Repo, v.Branch, short(v.OldHead), short(v.NewHead)))
		refs = append(refs, control.Ref{Kind: "repository", ID: v.Repo, Note: v.ID})
	}
	if len(problems) > 0 {
		return control.Outcome{Status: control.Fail, Refs: refs, Summary: control.Examples(problems, 5, "; ") + "."}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("All %d repositories are synced with their full history; no history was rewritten.", len(st.repos))}, nil
}

// checksControl fails on changes whose checks failed, and on repositories
// watched through git alone: git does not record checks, so CM-4 cannot
// be proved for them.
func (s *Service) checksControl(ctx context.Context) (control.Outcome, error) {
	st, err := s.state(ctx)
	if err != nil {
		return control.Outcome{}, err
	}
	if len(st.repos) == 0 || st.total == 0 {
		return control.Outcome{Status: control.NotApplicable, Summary: "No change is on record: no repository has been synced yet."}, nil
	}
	var gitOnly []string
	var refs []control.Ref
	for _, r := range st.repos {
		if r.Source == SourceGit {
			gitOnly = append(gitOnly, r.Name)
			refs = append(refs, control.Ref{Kind: "repository", ID: r.Name, Note: "git source: no check results"})
		}
	}
	var bad []Change
	for _, c := range st.failing {
		if c.Verdict == Fail && c.Breaks("CM-4") {
			bad = append(bad, c)
		}
	}
	var problems []string
	if len(bad) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d changes were merged without passing checks: %s", len(bad), st.total, examples(bad)))
	}
	if len(gitOnly) > 0 {
		problems = append(problems, fmt.Sprintf("%s %s watched through git alone, which records no check results (watch through GitHub or GitLab)",
			strings.Join(gitOnly, ", "), map[bool]string{true: "is", false: "are"}[len(gitOnly) == 1]))
	}
	if len(problems) > 0 {
		return control.Outcome{Status: control.Fail, Refs: append(changeRefs(bad), refs...), Summary: strings.Join(problems, "; ") + "."}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("Checks ran and passed on all %d changes.", st.total)}, nil
}

func changeRefs(cs []Change) []control.Ref {
	var out []control.Ref
	for _, c := range cs[:min(20, len(cs))] {
		out = append(out, control.Ref{Kind: "change", ID: c.ID, Note: c.Repo + "@" + short(c.SHA)})
	}
	return out
}

func examples(cs []Change) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Repo + "@" + short(c.SHA)
	}
	return control.Examples(out, 3, ", ")
}

// checklistControl checks that reviews recorded after the fact carry the
// CM-6 checklist: a review without a single answer is a comment, not the
// review the policy describes.
func (s *Service) checklistControl(ctx context.Context) (control.Outcome, error) {
	var total int
	var bare []Change
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		total, bare, err = tx.ReviewsWithoutChecklist(ctx)
		return err
	})
	if err != nil {
		return control.Outcome{}, err
	}
	if total == 0 {
		return control.Outcome{Status: control.NotApplicable, Summary: "No review has been recorded after the fact yet."}, nil
	}
	if len(bare) > 0 {
		return control.Outcome{Status: control.Fail, Refs: changeRefs(bare),
			Summary: fmt.Sprintf("%d of %d post-facto reviews record no checklist answer: %s.", len(bare), total, examples(bare))}, nil
	}
	return control.Outcome{Status: control.Pass, Summary: fmt.Sprintf("All %d post-facto reviews record the reviewer's checklist.", total)}, nil
}
