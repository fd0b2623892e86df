// Package change is the change register (CM-1 … CM-8): the repositories
// under watch, every commit that reached one of their protected branches
// with how it arrived (a reviewed merge, a squash, a Gerrit submit, or a
// direct push), who approved it, the checks that ran, and the verdict of
// the rules; post-facto reviews of emergency changes; exceptions granted by
// a security officer; and the change tickets of non-code changes (CM-5).
//
// The register is built from the history itself: the git source walks the
// protected branch's first-parent history, incrementally from the last
// verified commit, and a provider (GitHub, GitLab) adds what only the
// forge knows: approvals, checks, labels and who merged.
package change

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The sources of review data.
const (
	SourceGit    = "git"
	SourceGitHub = "github"
	SourceGitLab = "gitlab"
)

// Sources lists the sources a repository may name.
var Sources = []string{SourceGit, SourceGitHub, SourceGitLab}

// Repository is a repository under watch.
type Repository struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	URL      string   `json:"url"`      // an https, ssh or scp-like git URL; a local path from the in-process CLI
	Branches []string `json:"branches"` // the protected branches
	Source   string   `json:"source"`   // git | github | gitlab
	// Project is owner/name on GitHub, the project's path on GitLab.
	Project string `json:"project,omitempty"`
	// APIURL is the forge's API base (GitHub Enterprise, self-hosted GitLab).
	APIURL string `json:"api_url,omitempty"`
	// TokenSecret names the forge's API token among the server's secrets
	// (a file in secrets_dir), read at each sync.
	TokenSecret string `json:"token_secret,omitempty"`
	// Token is the forge's API token sent once: it is sealed at rest and
	// never returned, logged nor ledgered.
	Token string `json:"token,omitempty"`
	// TokenSet says the repository holds a sealed token.
	TokenSet bool `json:"token_set"`
	// SealedToken is Token as stored, encrypted.
	SealedToken string `json:"-"`
	// LegacyTokenFile is the token file a repository named before tokens
	// became the server's secrets: it is read only when it lies in
	// secrets_dir under a secret's name.
	LegacyTokenFile string `json:"-"`
	// AddedLocally says the in-process CLI added the repository: its
	// local path is fetched even without change.allow_local_repos.
	AddedLocally   bool     `json:"added_locally"`
	Bots           []string `json:"bots"`
	RequiredChecks []string `json:"required_checks"`
	// EmergencyTrailer is the commit trailer that marks an emergency
	// change (default "Emergency"); EmergencyLabel the PR label
	// (default "emergency").
	EmergencyTrailer string     `json:"emergency_trailer"`
	EmergencyLabel   string     `json:"emergency_label"`
	CreatedAt        time.Time  `json:"created_at"`
	CreatedBy        string     `json:"created_by"`
	SyncedAt         *time.Time `json:"synced_at,omitempty"`
	SyncError        string     `json:"sync_error,omitempty"`
	Shallow          bool       `json:"shallow"`
}

// IsBot reports whether an identity (name, e-mail or login) is one of the
// repository's allowed bots.
func (r Repository) IsBot(who ...string) bool {
	for _, w := range who {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		for _, b := range r.Bots {
			b = strings.ToLower(b)
			if w == b || strings.HasPrefix(w, b+"@") || strings.Contains(w, "+"+b+"@") {
				return true
			}
		}
	}
	return false
}

// Head is the last verified commit of a protected branch.
type Head struct {
	RepoID     string    `json:"repo_id"`
	Branch     string    `json:"branch"`
	Head       string    `json:"head"`
	VerifiedAt time.Time `json:"verified_at"`
	Changes    int       `json:"changes"`
}

// How a change arrived on the branch.
const (
	KindMerge  = "merge"  // a merge commit of a pull or merge request
	KindSquash = "squash" // a squash or rebase merge carrying "(#N)"
	KindGerrit = "gerrit" // a commit submitted through Gerrit
	KindDirect = "direct" // pushed straight to the branch
)

// Verdicts.
const (
	Pass      = "pass"
	Fail      = "fail"
	Emergency = "emergency" // skipped review; its post-facto review is not yet due
	Exception = "exception" // failed, and a security officer granted an exception
)

// Verdicts lists the verdicts a filter may name, with "overdue" (an
// emergency change past its review window).
var Verdicts = []string{Pass, Fail, Emergency, Exception, "overdue"}

// Violation is one rule a change or a repository breaks.
type Violation struct {
	Rule    string `json:"rule"` // CM-1 … CM-8
	Message string `json:"message"`
}

// Approval is an approving review.
type Approval struct {
	By string    `json:"by"`
	At time.Time `json:"at,omitzero"`
	// Commit is the SHA the approval was given at (GitHub); empty when the
	// source does not say.
	Commit string `json:"commit,omitempty"`
	// Source says where the approval was found: a trailer, github, gitlab.
	Source string `json:"source"`
}

// Check is an automated check that ran on a change (CM-4).
type Check struct {
	Name       string `json:"name"`
	Conclusion string `json:"conclusion"` // success | failure | neutral | cancelled | skipped | timed_out | pending | ...
	URL        string `json:"url,omitempty"`
}

// Passed reports whether the check counts as passed.
func (c Check) Passed() bool {
	return c.Conclusion == "success" || c.Conclusion == "neutral" || c.Conclusion == "skipped"
}

// Change is one commit on a protected branch's first-parent history.
type Change struct {
	ID             string      `json:"id"`
	RepoID         string      `json:"repo_id"`
	Repo           string      `json:"repo"`
	Branch         string      `json:"branch"`
	SHA            string      `json:"sha"`
	Parents        []string    `json:"parents"`
	Kind           string      `json:"kind"`
	PR             int         `json:"pr,omitempty"`
	PRURL          string      `json:"pr_url,omitempty"`
	PRAuthor       string      `json:"pr_author,omitempty"` // the request's author on the forge
	Subject        string      `json:"subject"`
	Author         string      `json:"author"`
	AuthorEmail    string      `json:"author_email"`
	Committer      string      `json:"committer"`
	CommitterEmail string      `json:"committer_email"`
	AuthoredAt     time.Time   `json:"authored_at"`
	CommittedAt    time.Time   `json:"committed_at"`
	MergedBy       string      `json:"merged_by,omitempty"`
	Approvers      []Approval  `json:"approvers"`
	Checks         []Check     `json:"checks"`
	Labels         []string    `json:"labels"`
	Emergency      bool        `json:"emergency"`
	EmergencyWhy   string      `json:"emergency_reason,omitempty"`
	ReviewDueAt    *time.Time  `json:"review_due_at,omitempty"`
	Reverts        string      `json:"reverts,omitempty"`
	RevertedBy     string      `json:"reverted_by,omitempty"`
	Violations     []Violation `json:"violations"`
	Verdict        string      `json:"verdict"`
	ReviewedBy     string      `json:"reviewed_by,omitempty"`
	ReviewedAt     *time.Time  `json:"reviewed_at,omitempty"`
	ExceptionBy    string      `json:"exception_by,omitempty"`
	ExceptionAt    *time.Time  `json:"exception_at,omitempty"`
	ExceptionWhy   string      `json:"exception_reason,omitempty"`
	RecordedAt     time.Time   `json:"recorded_at"`
}

// Overdue reports whether an emergency change's post-facto review is late.
func (c Change) Overdue(now time.Time) bool {
	return c.Verdict == Emergency && c.ReviewDueAt != nil && now.After(*c.ReviewDueAt)
}

// ClearedByReview reports whether the change's post-facto review cleared
// violation v: an emergency change may skip its review before it reaches
// the branch (CM-2, CM-3) when it is reviewed after the fact (CM-7). The
// violation stays on record.
func (c Change) ClearedByReview(v Violation) bool {
	return c.Emergency && c.ReviewedAt != nil && (v.Rule == "CM-2" || v.Rule == "CM-3")
}

// ClearedNote says which violations the post-facto review cleared, and
// why, or "" when it cleared none.
func (c Change) ClearedNote() string {
	var rules []string
	for _, v := range c.Violations {
		if c.ClearedByReview(v) && !slices.Contains(rules, v.Rule) {
			rules = append(rules, v.Rule)
		}
	}
	if len(rules) == 0 {
		return ""
	}
	return fmt.Sprintf("The post-facto review by %s on %s cleared %s: an emergency change may skip its review before it reaches the branch when it is reviewed after the fact.",
		c.ReviewedBy, c.ReviewedAt.UTC().Format("2006-01-02 15:04 UTC"), strings.Join(rules, ", "))
}

// Breaks reports whether the change breaks rule.
func (c Change) Breaks(rule string) bool {
	return slices.ContainsFunc(c.Violations, func(v Violation) bool { return v.Rule == rule })
}

// Review is a post-facto review of a change (CM-7) with the reviewer's
// checklist (CM-6).
type Review struct {
	ID         string            `json:"id"`
	ChangeID   string            `json:"change_id"`
	Reviewer   string            `json:"reviewer"`
	Checklist  map[string]string `json:"checklist"`
	Comment    string            `json:"comment"`
	ReviewedAt time.Time         `json:"reviewed_at"`
	Late       bool              `json:"late"`
}

// ChecklistItems are the questions of CM-6, in the policy's order.
var ChecklistItems = []string{"solves_problem", "side_effects", "user_experience", "logic_errors", "environment_changes", "performance", "better_way"}

// ChecklistAnswers are the answers a checklist item takes.
var ChecklistAnswers = []string{"yes", "no", "n/a"}

// RepoViolation is a violation of a repository rather than of one change:
// a rewritten history (CM-1).
type RepoViolation struct {
	ID           string     `json:"id"`
	RepoID       string     `json:"repo_id"`
	Repo         string     `json:"repo"`
	Branch       string     `json:"branch"`
	Rule         string     `json:"rule"`
	Message      string     `json:"message"`
	OldHead      string     `json:"old_head"`
	NewHead      string     `json:"new_head"`
	DetectedAt   time.Time  `json:"detected_at"`
	ExceptionBy  string     `json:"exception_by,omitempty"`
	ExceptionAt  *time.Time `json:"exception_at,omitempty"`
	ExceptionWhy string     `json:"exception_reason,omitempty"`
}

// PullRequest is what a forge knows of the pull (merge) request that
// brought a commit to a branch.
type PullRequest struct {
	Number   int       `json:"number"`
	URL      string    `json:"url"`
	Title    string    `json:"title"`
	Author   string    `json:"author"`
	MergedBy string    `json:"merged_by"`
	MergedAt time.Time `json:"merged_at"`
	// HeadSHA is the last commit of the request when it was merged.
	HeadSHA string `json:"head_sha"`
	// LastCommitter is who pushed the head commit, when the forge says.
	LastCommitter string `json:"last_committer,omitempty"`
	// Approvals are the approving reviews still standing at merge: on
	// GitHub a reviewer's latest review, when it is APPROVED.
	Approvals []Approval `json:"approvals"`
	Checks    []Check    `json:"checks"`
	Labels    []string   `json:"labels"`
}

// Provider is a forge that knows about pull requests: GitHub or GitLab.
type Provider interface {
	// PullRequest returns the merged request that brought commit sha to
	// branch, using number when the commit message names one (0 when it
	// does not); nil without error when no request did.
	PullRequest(ctx context.Context, sha, branch string, number int) (*PullRequest, error)
}

// Progress receives what a long sync is doing (a rate limit wait, a page).
type Progress func(msg string)

// Actor is who acts on the register: the name the ledger records and what
// the rules need to know of them.
type Actor struct {
	Name        string // the ledger's actor: "alice", "cli:alice"
	Username    string
	Email       string
	DisplayName string
	// Approver may approve change tickets (engineering_head,
	// security_officer).
	Approver bool
	// SecurityOfficer may grant exceptions.
	SecurityOfficer bool
	// Local is the in-process CLI, whose user can read the server's files
	// anyway: it may watch a local path. Only the CLI's in-process backend
	// sets it; nothing an API request carries does.
	Local bool
}

// Is reports whether the actor is the person behind one of the identities
// (a git name or e-mail, a forge login, an opsguard user name).
func (a Actor) Is(who ...string) bool {
	for _, w := range who {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		for _, mine := range []string{a.Username, a.Email, a.DisplayName} {
			if mine != "" && strings.ToLower(mine) == w {
				return true
			}
		}
	}
	return false
}
