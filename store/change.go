package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/opsguard/opsguard/change"
)

// The queries of the change register. *Tx implements change.Tx.

var _ change.Tx = (*Tx)(nil)

const repoColumns = `id, name, url, branches, source, project, api_url, token_file, bots, required_checks,
	emergency_trailer, emergency_label, created_at, created_by, synced_at, sync_error, shallow,
	token_secret, token_sealed, added_locally`

func scanRepo(sc row) (change.Repository, error) {
	var r change.Repository
	var branches, bots, checks, created string
	var synced sql.NullString
	err := sc.Scan(&r.ID, &r.Name, &r.URL, &branches, &r.Source, &r.Project, &r.APIURL, &r.LegacyTokenFile, &bots, &checks,
		&r.EmergencyTrailer, &r.EmergencyLabel, &created, &r.CreatedBy, &synced, &r.SyncError, &r.Shallow,
		&r.TokenSecret, &r.SealedToken, &r.AddedLocally)
	if err != nil {
		return r, err
	}
	r.TokenSet = r.SealedToken != ""
	if err := unmarshalAll(branches, &r.Branches, bots, &r.Bots, checks, &r.RequiredChecks); err != nil {
		return r, fmt.Errorf("repository %s: %w", r.Name, err)
	}
	if r.CreatedAt, err = parseTS(created); err != nil {
		return r, err
	}
	r.SyncedAt, err = parseNullTS(synced)
	return r, err
}

// unmarshalAll decodes JSON columns into their targets: text, target,
// text, target…
func unmarshalAll(pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := json.Unmarshal([]byte(pairs[i].(string)), pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain domain values are marshalled here
	}
	return string(b)
}

// InsertRepository stores a watched repository.
func (tx *Tx) InsertRepository(ctx context.Context, r change.Repository) error {
	// token_file is written empty: a new repository names its token among
	// the server's secrets.
	_, err := tx.exec(ctx, "INSERT INTO repositories ("+repoColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.Name, r.URL, mustJSON(r.Branches), r.Source, r.Project, r.APIURL, "", mustJSON(r.Bots), mustJSON(r.RequiredChecks),
		r.EmergencyTrailer, r.EmergencyLabel, ts(r.CreatedAt), r.CreatedBy, nullTS(r.SyncedAt), r.SyncError, r.Shallow,
		r.TokenSecret, r.SealedToken, r.AddedLocally)
	return conflict(err, "repository %s already exists", r.Name)
}

// UpdateRepositorySync stores a repository's sync state.
func (tx *Tx) UpdateRepositorySync(ctx context.Context, r change.Repository) error {
	_, err := tx.exec(ctx, "UPDATE repositories SET synced_at = ?, sync_error = ?, shallow = ? WHERE id = ?", nullTS(r.SyncedAt), r.SyncError, r.Shallow, r.ID)
	return err
}

// RepositoryByName returns a repository.
func (tx *Tx) RepositoryByName(ctx context.Context, name string) (change.Repository, error) {
	r, err := scanRepo(tx.queryRow(ctx, "SELECT "+repoColumns+" FROM repositories WHERE name = ?", name))
	return r, notFound(err, "repository "+name)
}

// RepositoryByID returns a repository.
func (tx *Tx) RepositoryByID(ctx context.Context, id string) (change.Repository, error) {
	r, err := scanRepo(tx.queryRow(ctx, "SELECT "+repoColumns+" FROM repositories WHERE id = ?", id))
	return r, notFound(err, "repository "+id)
}

// ListRepositories returns every repository by name.
func (tx *Tx) ListRepositories(ctx context.Context) ([]change.Repository, error) {
	return queryAll(ctx, tx, scanRepo, "SELECT "+repoColumns+" FROM repositories ORDER BY name")
}

// Heads returns the verified heads of a repository's branches.
func (tx *Tx) Heads(ctx context.Context, repoID string) ([]change.Head, error) {
	rows, err := tx.query(ctx, "SELECT repo_id, branch, head, verified_at, changes FROM repository_heads WHERE repo_id = ? ORDER BY branch", repoID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []change.Head
	for rows.Next() {
		var h change.Head
		var at string
		if err := rows.Scan(&h.RepoID, &h.Branch, &h.Head, &at, &h.Changes); err != nil {
			return nil, err
		}
		if h.VerifiedAt, err = parseTS(at); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// PutHead stores a branch's verified head.
func (tx *Tx) PutHead(ctx context.Context, h change.Head) error {
	_, err := tx.exec(ctx, `INSERT INTO repository_heads (repo_id, branch, head, verified_at, changes) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (repo_id, branch) DO UPDATE SET head = excluded.head, verified_at = excluded.verified_at, changes = excluded.changes`,
		h.RepoID, h.Branch, h.Head, ts(h.VerifiedAt), h.Changes)
	return err
}

const changeInsertColumns = `id, repo_id, branch, sha, parents, kind, pr, pr_url, pr_author, subject, author, author_email, committer, committer_email,
	authored_at, committed_at, merged_by, approvers, checks, labels, emergency, emergency_reason, review_due_at, reverts, reverted_by,
	violations, verdict, reviewed_by, reviewed_at, exception_by, exception_at, exception_reason, recorded_at`

var changeColumns = "c." + strings.ReplaceAll(changeInsertColumns, ", ", ", c.") + ", r.name"

func changeRow(c change.Change) []any {
	return []any{c.ID, c.RepoID, c.Branch, c.SHA, strings.Join(c.Parents, " "), c.Kind, c.PR, c.PRURL, c.PRAuthor, c.Subject, c.Author, c.AuthorEmail, c.Committer, c.CommitterEmail,
		ts(c.AuthoredAt), ts(c.CommittedAt), c.MergedBy, mustJSON(nonNil(c.Approvers)), mustJSON(nonNil(c.Checks)), mustJSON(nonNil(c.Labels)),
		c.Emergency, c.EmergencyWhy, nullTS(c.ReviewDueAt), c.Reverts, c.RevertedBy,
		mustJSON(nonNil(c.Violations)), c.Verdict, c.ReviewedBy, nullTS(c.ReviewedAt), c.ExceptionBy, nullTS(c.ExceptionAt), c.ExceptionWhy, ts(c.RecordedAt)}
}

func scanChange(sc row) (change.Change, error) {
	var c change.Change
	var parents, authored, committed, approvers, checks, labels, violations, recorded string
	var due, reviewed, excepted sql.NullString
	err := sc.Scan(&c.ID, &c.RepoID, &c.Branch, &c.SHA, &parents, &c.Kind, &c.PR, &c.PRURL, &c.PRAuthor, &c.Subject, &c.Author, &c.AuthorEmail, &c.Committer, &c.CommitterEmail,
		&authored, &committed, &c.MergedBy, &approvers, &checks, &labels, &c.Emergency, &c.EmergencyWhy, &due, &c.Reverts, &c.RevertedBy,
		&violations, &c.Verdict, &c.ReviewedBy, &reviewed, &c.ExceptionBy, &excepted, &c.ExceptionWhy, &recorded, &c.Repo)
	if err != nil {
		return c, err
	}
	c.Parents = strings.Fields(parents)
	if c.Parents == nil {
		c.Parents = []string{}
	}
	if err := unmarshalAll(approvers, &c.Approvers, checks, &c.Checks, labels, &c.Labels, violations, &c.Violations); err != nil {
		return c, fmt.Errorf("change %s: %w", c.ID, err)
	}
	for _, t := range []struct {
		s  string
		to *time.Time
	}{{authored, &c.AuthoredAt}, {committed, &c.CommittedAt}, {recorded, &c.RecordedAt}} {
		if *t.to, err = parseTS(t.s); err != nil {
			return c, err
		}
	}
	for _, t := range []struct {
		s  sql.NullString
		to **time.Time
	}{{due, &c.ReviewDueAt}, {reviewed, &c.ReviewedAt}, {excepted, &c.ExceptionAt}} {
		if *t.to, err = parseNullTS(t.s); err != nil {
			return c, err
		}
	}
	return c, nil
}

// InsertChanges stores changes with multi-row INSERTs that skip commits
// already on record and return the ids of those stored.
func (tx *Tx) InsertChanges(ctx context.Context, cs []change.Change) (map[string]bool, error) {
	// Large statements: SQLite takes 32766 parameters, PostgreSQL 65535.
	const cols = 33
	per := 30000 / cols
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, s := range stmts {
			s.Close()
		}
	}()
	inserted := make(map[string]bool, len(cs))
	args := make([]any, 0, per*cols)
	for len(cs) > 0 {
		n := min(per, len(cs))
		stmt, ok := stmts[n]
		if !ok {
			var err error
			stmt, err = tx.prepare(ctx, "INSERT INTO changes ("+changeInsertColumns+") VALUES "+strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")+
				" ON CONFLICT (repo_id, branch, sha) DO NOTHING RETURNING id")
			if err != nil {
				return nil, err
			}
			stmts[n] = stmt
		}
		args = args[:0]
		for _, c := range cs[:n] {
			args = append(args, changeRow(c)...)
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("insert changes: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			inserted[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		cs = cs[n:]
	}
	return inserted, nil
}

// ChangeBySHA returns a branch's change of a commit.
func (tx *Tx) ChangeBySHA(ctx context.Context, repoID, branch, sha string) (change.Change, error) {
	c, err := scanChange(tx.queryRow(ctx, "SELECT "+changeColumns+" FROM changes c JOIN repositories r ON r.id = c.repo_id WHERE c.repo_id = ? AND c.branch = ? AND c.sha = ?", repoID, branch, sha))
	return c, notFound(err, "change of commit "+sha)
}

// ChangeByID returns a change.
func (tx *Tx) ChangeByID(ctx context.Context, id string) (change.Change, error) {
	c, err := scanChange(tx.queryRow(ctx, "SELECT "+changeColumns+" FROM changes c JOIN repositories r ON r.id = c.repo_id WHERE c.id = ?", id))
	return c, notFound(err, "change "+id)
}

// SetRevertedBy links a change to the commit that reverts it.
func (tx *Tx) SetRevertedBy(ctx context.Context, repoID, branch, sha, by string) error {
	_, err := tx.exec(ctx, "UPDATE changes SET reverted_by = ? WHERE repo_id = ? AND branch = ? AND sha = ?", by, repoID, branch, sha)
	return err
}

// UpdateChangeState stores a change's verdict, review and exception.
func (tx *Tx) UpdateChangeState(ctx context.Context, c change.Change) error {
	_, err := tx.exec(ctx, `UPDATE changes SET violations = ?, verdict = ?, reviewed_by = ?, reviewed_at = ?, exception_by = ?, exception_at = ?, exception_reason = ?
		WHERE id = ?`, mustJSON(nonNil(c.Violations)), c.Verdict, c.ReviewedBy, nullTS(c.ReviewedAt), c.ExceptionBy, nullTS(c.ExceptionAt), c.ExceptionWhy, c.ID)
	return err
}

func changeWhere(f change.Filter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, a ...any) { conds = append(conds, cond); args = append(args, a...) }
	if f.Repo != "" {
		add("r.name = ?", f.Repo)
	}
	if f.Branch != "" {
		add("c.branch = ?", f.Branch)
	}
	switch f.Verdict {
	case "":
	case "overdue":
		add("c.verdict = ? AND c.review_due_at < ?", change.Emergency, ts(f.Now))
	default:
		add("c.verdict = ?", f.Verdict)
	}
	if f.Kind != "" {
		add("c.kind = ?", f.Kind)
	}
	if f.SHA != "" {
		// A prefix as a range, which the sha index serves on both
		// engines (LIKE would not on PostgreSQL); "g" follows every hex
		// digit.
		add("c.sha >= ? AND c.sha < ?", f.SHA, f.SHA+"g")
	}
	if !f.Since.IsZero() {
		add("c.committed_at >= ?", ts(f.Since))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ListChanges returns a page of the changes a filter selects, newest
// first, and how many match.
func (tx *Tx) ListChanges(ctx context.Context, f change.Filter) ([]change.Change, int, error) {
	where, args := changeWhere(f)
	from := " FROM changes c JOIN repositories r ON r.id = c.repo_id" + where
	var total int
	if err := tx.queryRow(ctx, "SELECT count(*)"+from, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	out, err := queryAll(ctx, tx, scanChange, "SELECT "+changeColumns+from+" ORDER BY c.id DESC LIMIT ? OFFSET ?", append(args, f.Limit, f.Offset)...)
	return out, total, err
}

// FailingChanges returns the number of changes and those that fail or are
// overdue.
func (tx *Tx) FailingChanges(ctx context.Context, now time.Time) (int, []change.Change, error) {
	var total int
	if err := tx.queryRow(ctx, "SELECT count(*) FROM changes").Scan(&total); err != nil {
		return 0, nil, err
	}
	out, err := queryAll(ctx, tx, scanChange, "SELECT "+changeColumns+` FROM changes c JOIN repositories r ON r.id = c.repo_id
		WHERE c.verdict = ? OR (c.verdict = ? AND c.review_due_at < ?) ORDER BY c.id`, change.Fail, change.Emergency, ts(now))
	return total, out, err
}

// InsertReview stores a post-facto review.
func (tx *Tx) InsertReview(ctx context.Context, r change.Review) error {
	_, err := tx.exec(ctx, "INSERT INTO change_reviews (id, change_id, reviewer, checklist, comment, reviewed_at, late) VALUES (?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.ChangeID, r.Reviewer, mustJSON(r.Checklist), r.Comment, ts(r.ReviewedAt), r.Late)
	return err
}

// Reviews returns a change's reviews, oldest first.
func (tx *Tx) Reviews(ctx context.Context, changeID string) ([]change.Review, error) {
	rows, err := tx.query(ctx, "SELECT id, change_id, reviewer, checklist, comment, reviewed_at, late FROM change_reviews WHERE change_id = ? ORDER BY id", changeID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []change.Review{}
	for rows.Next() {
		var r change.Review
		var checklist, at string
		if err := rows.Scan(&r.ID, &r.ChangeID, &r.Reviewer, &checklist, &r.Comment, &at, &r.Late); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(checklist), &r.Checklist); err != nil {
			return nil, fmt.Errorf("review %s: %w", r.ID, err)
		}
		if r.ReviewedAt, err = parseTS(at); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const repoViolationColumns = `v.id, v.repo_id, r.name, v.branch, v.rule, v.message, v.old_head, v.new_head, v.detected_at, v.exception_by, v.exception_at, v.exception_reason`

func scanRepoViolation(sc row) (change.RepoViolation, error) {
	var v change.RepoViolation
	var at string
	var excepted sql.NullString
	err := sc.Scan(&v.ID, &v.RepoID, &v.Repo, &v.Branch, &v.Rule, &v.Message, &v.OldHead, &v.NewHead, &at, &v.ExceptionBy, &excepted, &v.ExceptionWhy)
	if err != nil {
		return v, err
	}
	if v.DetectedAt, err = parseTS(at); err != nil {
		return v, err
	}
	v.ExceptionAt, err = parseNullTS(excepted)
	return v, err
}

// InsertRepoViolation stores a repository's violation.
func (tx *Tx) InsertRepoViolation(ctx context.Context, v change.RepoViolation) error {
	_, err := tx.exec(ctx, `INSERT INTO repository_violations (id, repo_id, branch, rule, message, old_head, new_head, detected_at, exception_by, exception_at, exception_reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, v.ID, v.RepoID, v.Branch, v.Rule, v.Message, v.OldHead, v.NewHead, ts(v.DetectedAt), v.ExceptionBy, nullTS(v.ExceptionAt), v.ExceptionWhy)
	return err
}

// RepoViolationByID returns a repository's violation.
func (tx *Tx) RepoViolationByID(ctx context.Context, id string) (change.RepoViolation, error) {
	v, err := scanRepoViolation(tx.queryRow(ctx, "SELECT "+repoViolationColumns+" FROM repository_violations v JOIN repositories r ON r.id = v.repo_id WHERE v.id = ?", id))
	return v, notFound(err, "violation "+id)
}

// UpdateRepoViolation stores a violation's exception.
func (tx *Tx) UpdateRepoViolation(ctx context.Context, v change.RepoViolation) error {
	_, err := tx.exec(ctx, "UPDATE repository_violations SET exception_by = ?, exception_at = ?, exception_reason = ? WHERE id = ?", v.ExceptionBy, nullTS(v.ExceptionAt), v.ExceptionWhy, v.ID)
	return err
}

// RepoViolations returns a repository's violations, or every one when
// repoID is empty, newest first.
func (tx *Tx) RepoViolations(ctx context.Context, repoID string) ([]change.RepoViolation, error) {
	q := "SELECT " + repoViolationColumns + " FROM repository_violations v JOIN repositories r ON r.id = v.repo_id"
	var args []any
	if repoID != "" {
		q += " WHERE v.repo_id = ?"
		args = append(args, repoID)
	}
	return queryAll(ctx, tx, scanRepoViolation, q+" ORDER BY v.id DESC", args...)
}

// ChangeSummaries counts each repository's changes per verdict.
func (tx *Tx) ChangeSummaries(ctx context.Context, now time.Time) ([]change.RepoSummary, error) {
	repos, err := tx.ListRepositories(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]change.RepoSummary, len(repos))
	at := map[string]*change.RepoSummary{}
	for i, r := range repos {
		out[i] = change.RepoSummary{Repository: r, Verdicts: map[string]int{}}
		at[r.ID] = &out[i]
	}
	rows, err := tx.query(ctx, `SELECT repo_id, verdict, count(*), sum(CASE WHEN verdict = ? AND review_due_at < ? THEN 1 ELSE 0 END)
		FROM changes GROUP BY repo_id, verdict`, change.Emergency, ts(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var repo, verdict string
		var n, overdue int
		if err := rows.Scan(&repo, &verdict, &n, &overdue); err != nil {
			return nil, err
		}
		if s := at[repo]; s != nil {
			s.Verdicts[verdict] = n
			s.Overdue += overdue
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows2, err := tx.query(ctx, "SELECT repo_id, count(*) FROM repository_violations WHERE exception_at IS NULL GROUP BY repo_id")
	if err != nil {
		return nil, err
	}
	defer rows2.Close()
	for rows2.Next() {
		var repo string
		var n int
		if err := rows2.Scan(&repo, &n); err != nil {
			return nil, err
		}
		if s := at[repo]; s != nil {
			s.Rewrites = n
		}
	}
	return out, rows2.Err()
}

// ReviewsWithoutChecklist counts the post-facto reviews and returns the
// changes of those without a checklist answer.
func (tx *Tx) ReviewsWithoutChecklist(ctx context.Context) (int, []change.Change, error) {
	var total int
	if err := tx.queryRow(ctx, "SELECT count(*) FROM change_reviews").Scan(&total); err != nil {
		return 0, nil, err
	}
	out, err := queryAll(ctx, tx, scanChange, "SELECT "+changeColumns+` FROM changes c JOIN repositories r ON r.id = c.repo_id
		WHERE c.id IN (SELECT change_id FROM change_reviews WHERE checklist = '{}') ORDER BY c.id`)
	return total, out, err
}
