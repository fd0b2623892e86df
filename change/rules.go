package change

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	githubMerge = regexp.MustCompile(`^Merge pull request #(\d+) `)
	gitlabMerge = regexp.MustCompile(`(?m)^See merge request [^\s!]*!(\d+)\s*$`)
	squashPR    = regexp.MustCompile(`\(#(\d+)\)\s*$`)
	revertOf    = regexp.MustCompile(`(?m)^This reverts commit ([0-9a-f]{7,64})\b`)
)

// Classify says how a commit arrived on the branch, from what git holds:
// the pull request it names, the reviewers its trailers name, the
// emergency it declares and the change it reverts.
func Classify(repo Repository, branch string, c Commit) Change {
	ch := Change{RepoID: repo.ID, Repo: repo.Name, Branch: branch, SHA: c.SHA, Parents: c.Parents, Subject: c.Subject(),
		Author: c.Author, AuthorEmail: c.AuthorEmail, Committer: c.Committer, CommitterEmail: c.CommitterEmail,
		AuthoredAt: c.AuthoredAt, CommittedAt: c.CommittedAt, Kind: KindDirect}
	trailers := Trailers(c.Message)
	has := func(key string) bool {
		return slices.ContainsFunc(trailers, func(t Trailer) bool { return strings.EqualFold(t.Key, key) })
	}
	merge := len(c.Parents) > 1
	if merge {
		// Whoever merges authors the merge commit: on GitHub and GitLab,
		// whoever pressed the button. A forge's record replaces it.
		ch.MergedBy = c.Author
	}
	switch {
	case merge && strings.HasPrefix(ch.Subject, "Merge pull request #"):
		if m := githubMerge.FindStringSubmatch(ch.Subject); m != nil {
			ch.Kind, ch.PR = KindMerge, atoi(m[1])
		}
	case merge && strings.Contains(c.Message, "See merge request "):
		if m := gitlabMerge.FindStringSubmatch(c.Message); m != nil {
			ch.Kind, ch.PR = KindMerge, atoi(m[1])
		}
	case !merge && strings.HasSuffix(strings.TrimSpace(ch.Subject), ")") && strings.Contains(ch.Subject, "(#"):
		if m := squashPR.FindStringSubmatch(ch.Subject); m != nil {
			ch.Kind, ch.PR = KindSquash, atoi(m[1])
		}
	}
	if ch.Kind == KindDirect && has("Reviewed-on") {
		ch.Kind = KindGerrit
	}
	for _, t := range trailers {
		switch strings.ToLower(t.Key) {
		case "reviewed-by", "approved-by":
			// Co-authored-by is not a review: a co-author wrote the change.
			if who := identity(t.Value); who != "" {
				ch.Approvers = append(ch.Approvers, Approval{By: who, Source: "trailer:" + t.Key})
			}
		case strings.ToLower(repo.emergencyTrailer()):
			ch.Emergency, ch.EmergencyWhy = true, t.Value
		}
	}
	// The regexp is costly on every message; most are not reverts.
	if strings.Contains(c.Message, "This reverts commit ") {
		if m := revertOf.FindStringSubmatch(c.Message); m != nil {
			ch.Reverts = m[1]
		}
	}
	return ch
}

// identity reduces "Name <email>" to the e-mail, which is what the author
// is compared with; a bare name or login is kept as it is.
func identity(v string) string {
	if i, j := strings.LastIndexByte(v, '<'), strings.LastIndexByte(v, '>'); i >= 0 && j > i {
		return strings.TrimSpace(v[i+1 : j])
	}
	return strings.TrimSpace(v)
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func (r Repository) emergencyTrailer() string {
	if r.EmergencyTrailer == "" {
		return "Emergency"
	}
	return r.EmergencyTrailer
}

func (r Repository) emergencyLabel() string {
	if r.EmergencyLabel == "" {
		return "emergency"
	}
	return r.EmergencyLabel
}

// AddPullRequest merges what the forge knows of the change's request.
func (ch *Change) AddPullRequest(repo Repository, pr *PullRequest) {
	if pr == nil {
		return
	}
	if ch.Kind == KindDirect {
		// A rebase merge leaves no trace in the message; the forge
		// knows the commit came through a request.
		ch.Kind = KindSquash
	}
	ch.PR, ch.PRURL, ch.PRAuthor, ch.MergedBy = pr.Number, pr.URL, pr.Author, pr.MergedBy
	ch.Approvers = append(ch.Approvers, pr.Approvals...)
	ch.Checks = pr.Checks
	ch.Labels = pr.Labels
	if slices.ContainsFunc(pr.Labels, func(l string) bool { return strings.EqualFold(l, repo.emergencyLabel()) }) && !ch.Emergency {
		ch.Emergency, ch.EmergencyWhy = true, pr.Title
	}
}

// looksLikeBot is the forges' convention for machine accounts.
func looksLikeBot(who ...string) bool {
	return slices.ContainsFunc(who, func(w string) bool { return strings.Contains(strings.ToLower(w), "[bot]") })
}

// Evaluate applies the rules CM-2, CM-3, CM-4, CM-7 and CM-8 to a
// classified change and sets its violations and verdict. pr is what the
// forge said (nil for git alone); merged, for a merge commit, are the
// names and e-mails of the authors and committers of the commits it
// brought in (Mirror.Merged); revertFound says whether the change it
// reverts is on the branch.
func Evaluate(repo Repository, ch *Change, pr *PullRequest, merged []string, reviewDays int, revertFound bool) {
	var vs []Violation
	add := func(rule, format string, args ...any) {
		vs = append(vs, Violation{Rule: rule, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case ch.Kind != KindDirect:
	case len(ch.Parents) == 0:
		add("CM-2", "the repository's first commit was pushed straight to %s (an initial import is an exception to grant)", ch.Branch)
	case len(ch.Parents) > 1:
		add("CM-2", "a merge pushed straight to %s, not through a pull request", ch.Branch)
	default:
		add("CM-2", "pushed straight to %s without a pull request", ch.Branch)
	}

	// Requester, approver and implementer: an approval counts only from
	// someone who is neither the author, the request's author nor its
	// last committer, and who is a person.
	requesters := []string{ch.Author, ch.AuthorEmail}
	if len(ch.Parents) > 1 && (len(merged) > 0 || pr != nil && ch.Kind == KindMerge) {
		// A merge commit is authored by whoever merged, on a forge
		// whoever pressed the button, who may well be the approver: the
		// requesters are those who wrote or committed what it brings in.
		// The merger is the implementer, whose approval counts unless
		// they wrote or committed a commit of the branch too.
		requesters = slices.Clone(merged)
	}
	var head string
	if pr != nil {
		requesters = append(requesters, pr.Author, pr.LastCommitter)
		head = pr.HeadSHA
	}
	var valid []string
	for _, a := range ch.Approvers {
		switch {
		case sameAny(a.By, requesters...):
		case repo.IsBot(a.By) || looksLikeBot(a.By):
		case a.Commit != "" && head != "" && a.Commit != head:
			// approved an earlier version: not what was merged
		default:
			valid = append(valid, a.By)
		}
	}
	bot := repo.IsBot(ch.Author, ch.AuthorEmail) || pr != nil && repo.IsBot(pr.Author)
	if !bot && (looksLikeBot(ch.Author, ch.AuthorEmail) || pr != nil && looksLikeBot(pr.Author)) {
		add("CM-3", "authored by %s, a bot that is not among the repository's allowed bots", firstNonEmpty(prAuthor(pr), ch.Author))
	}
	if len(valid) == 0 {
		switch {
		case len(ch.Approvers) > 0 && len(merged) > 0:
			add("CM-3", "approved only by someone who wrote or committed a commit it merges (%s), a bot or at an earlier commit: no one else approved what was merged",
				strings.Join(emails(merged), ", "))
		case len(ch.Approvers) > 0:
			add("CM-3", "approved only by its author, its last committer, a bot or at an earlier commit: no one else approved what was merged")
		case ch.Kind == KindDirect:
			add("CM-3", "no one but its author saw it before it reached %s", ch.Branch)
		case pr == nil && repo.Source == SourceGit:
			add("CM-3", "no approval is recorded: git holds none for request #%d (a Reviewed-by or Approved-by trailer, or a GitHub or GitLab source, would)", ch.PR)
		default:
			add("CM-3", "merged without an approval by someone other than its author")
		}
	}

	if pr != nil {
		if bad := failingChecks(repo.RequiredChecks, pr.Checks); bad != "" {
			add("CM-4", "%s", bad)
		}
	}

	if ch.Emergency {
		if strings.TrimSpace(ch.EmergencyWhy) == "" {
			add("CM-7", "marked as an emergency without saying what it fixes")
		}
		due := addBusinessDays(ch.CommittedAt, reviewDays)
		ch.ReviewDueAt = &due
	}

	switch {
	case ch.Reverts != "" && !revertFound:
		add("CM-8", "reverts %s, which is not on %s", short(ch.Reverts), ch.Branch)
	case ch.Reverts == "" && strings.HasPrefix(ch.Subject, `Revert "`):
		add("CM-8", "a revert that does not name the commit it reverts (git revert writes \"This reverts commit <sha>.\")")
	}

	ch.Violations = vs
	ch.Verdict = verdict(*ch)
}

// verdict derives the verdict from the violations and the reviews. An
// emergency change's skipped review (CM-2, CM-3) waits for its post-facto
// review instead of failing.
func verdict(ch Change) string {
	if ch.ExceptionAt != nil {
		return Exception
	}
	rest := ch.Violations
	if ch.Emergency {
		rest = slices.DeleteFunc(slices.Clone(rest), func(v Violation) bool { return v.Rule == "CM-2" || v.Rule == "CM-3" })
	}
	switch {
	case len(rest) > 0:
		return Fail
	case len(ch.Violations) > 0 && ch.ReviewedAt == nil:
		return Emergency
	default:
		return Pass
	}
}

func failingChecks(required []string, checks []Check) string {
	if len(required) == 0 {
		if len(checks) == 0 {
			return "no automated check ran on the request"
		}
		var failed []string
		for _, c := range checks {
			if !c.Passed() {
				failed = append(failed, c.Name+" ("+c.Conclusion+")")
			}
		}
		if len(failed) > 0 {
			return "checks did not pass at merge: " + strings.Join(failed, ", ")
		}
		return ""
	}
	var bad []string
	for _, name := range required {
		i := slices.IndexFunc(checks, func(c Check) bool { return c.Name == name })
		switch {
		case i < 0:
			bad = append(bad, name+" (did not run)")
		case !checks[i].Passed():
			bad = append(bad, name+" ("+checks[i].Conclusion+")")
		}
	}
	if len(bad) > 0 {
		return "required checks did not pass at merge: " + strings.Join(bad, ", ")
	}
	return ""
}

// addBusinessDays counts n working days (Monday to Friday) after t. Public
// holidays are not known to opsguard and count as working days.
func addBusinessDays(t time.Time, n int) time.Time {
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return t
}

func sameAny(who string, others ...string) bool {
	who = strings.ToLower(strings.TrimSpace(who))
	return who != "" && slices.ContainsFunc(others, func(o string) bool { return strings.ToLower(strings.TrimSpace(o)) == who })
}

// emails keeps the e-mails of a list of names and e-mails, or the whole
// list when it holds none.
func emails(who []string) []string {
	out := slices.DeleteFunc(slices.Clone(who), func(w string) bool { return !strings.Contains(w, "@") })
	if len(out) == 0 {
		return who
	}
	return out
}

func prAuthor(pr *PullRequest) string {
	if pr == nil {
		return ""
	}
	return pr.Author
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func short(sha string) string { return sha[:min(12, len(sha))] }
