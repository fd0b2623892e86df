package change

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/egress"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Tx is what the register needs from a store transaction.
type Tx interface {
	ledger.Tx
	InsertRepository(ctx context.Context, r Repository) error
	// UpdateRepositorySync stores a repository's sync state: SyncedAt,
	// SyncError and Shallow.
	UpdateRepositorySync(ctx context.Context, r Repository) error
	RepositoryByName(ctx context.Context, name string) (Repository, error)
	RepositoryByID(ctx context.Context, id string) (Repository, error)
	ListRepositories(ctx context.Context) ([]Repository, error)
	Heads(ctx context.Context, repoID string) ([]Head, error)
	PutHead(ctx context.Context, h Head) error
	// InsertChanges stores changes, skipping those the register already
	// holds for the same repository, branch and commit; it returns the ids
	// of those it stored.
	InsertChanges(ctx context.Context, cs []Change) (map[string]bool, error)
	ChangeBySHA(ctx context.Context, repoID, branch, sha string) (Change, error)
	ChangeByID(ctx context.Context, id string) (Change, error)
	// SetRevertedBy links a change to the commit that reverts it.
	SetRevertedBy(ctx context.Context, repoID, branch, sha, by string) error
	// UpdateChangeState stores a change's violations, verdict, review and
	// exception.
	UpdateChangeState(ctx context.Context, c Change) error
	ListChanges(ctx context.Context, f Filter) ([]Change, int, error)
	InsertReview(ctx context.Context, r Review) error
	Reviews(ctx context.Context, changeID string) ([]Review, error)
	InsertRepoViolation(ctx context.Context, v RepoViolation) error
	RepoViolationByID(ctx context.Context, id string) (RepoViolation, error)
	UpdateRepoViolation(ctx context.Context, v RepoViolation) error
	RepoViolations(ctx context.Context, repoID string) ([]RepoViolation, error)
	// FailingChanges returns how many changes the register holds and those
	// that fail (or are overdue emergency changes), with their ids, commits
	// and violations.
	FailingChanges(ctx context.Context, now time.Time) (int, []Change, error)
	// ReviewsWithoutChecklist returns how many post-facto reviews there are
	// and the changes of those recorded without any checklist answer.
	ReviewsWithoutChecklist(ctx context.Context) (int, []Change, error)
	// ChangeSummaries counts each repository's changes per verdict and its
	// overdue emergency changes.
	ChangeSummaries(ctx context.Context, now time.Time) ([]RepoSummary, error)
}

// Store runs transactions.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Filter selects changes.
type Filter struct {
	Repo    string // a repository's name
	Branch  string
	Verdict string // pass | fail | emergency | exception | overdue
	Kind    string
	SHA     string    // a commit SHA or its prefix
	Since   time.Time // committed at or after
	Now     time.Time // for "overdue"
	Limit   int
	Offset  int
}

// RepoSummary is a repository's verdicts at a glance.
type RepoSummary struct {
	Repository Repository     `json:"repository"`
	Verdicts   map[string]int `json:"verdicts"`
	Overdue    int            `json:"overdue"`
	Rewrites   int            `json:"rewrites"` // rewritten histories without an exception
}

// Options configure the service.
type Options struct {
	// ReposDir is where the mirrors live (the data directory's "repos").
	ReposDir string
	// ReviewDays is the post-facto review window of an emergency change,
	// in business days (CM-7).
	ReviewDays int
	// Provider returns the forge of a repository whose source is GitHub or
	// GitLab.
	Provider func(r Repository, progress Progress) (Provider, error)
	// Lock runs a sync under a lock shared by every replica (PostgreSQL's
	// advisory lock); nil runs it as it is.
	Lock func(name string) func(ctx context.Context, job func(context.Context) error) error
	Git  string // the git binary
	Now  func() time.Time
	// BatchSize is how many commits one transaction records, so that a
	// first sync of a long history, stopped half-way by an API error,
	// keeps what it verified.
	BatchSize int
	// Egress says which URLs a repository and a forge's API may have.
	Egress egress.Policy
	// Secrets checks a token's secret name and seals a token sent
	// through the API; nil refuses both.
	Secrets Secrets
}

// Secrets is what the register needs of the server's secrets.
type Secrets interface {
	// Check reports whether a named secret may be read (a plain name, and
	// there); its error never depends on anything outside the secrets.
	Check(name string) error
	// Seal encrypts a value for context.
	Seal(value, context string) (string, error)
}

// Service is the change register.
type Service struct {
	store Store
	log   *ledger.Log
	opts  Options

	mu    sync.Mutex
	syncs map[string]*sync.Mutex // one sync per repository at a time
}

// NewService returns the register.
func NewService(store Store, log *ledger.Log, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.ReviewDays <= 0 {
		opts.ReviewDays = 3
	}
	return &Service{store: store, log: log, opts: opts, syncs: map[string]*sync.Mutex{}}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

func invalid(field, format string, args ...any) error {
	return &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf(format, args...), Details: map[string]any{"field": field}}
}

// AddRepository puts a repository under watch. Nothing is read from it
// until it is synced.
func (s *Service) AddRepository(ctx context.Context, by Actor, r Repository) (Repository, error) {
	r.Name, r.URL = strings.TrimSpace(r.Name), strings.TrimSpace(r.URL)
	if r.Source == "" {
		r.Source = SourceGit
	}
	if len(r.Branches) == 0 {
		r.Branches = []string{"main"}
	}
	if r.EmergencyTrailer == "" {
		r.EmergencyTrailer = "Emergency"
	}
	if r.EmergencyLabel == "" {
		r.EmergencyLabel = "emergency"
	}
	r.Bots, r.RequiredChecks = nonNil(r.Bots), nonNil(r.RequiredChecks)
	switch {
	case r.Name == "" || strings.ContainsAny(r.Name, " \t\n/\\") || len(r.Name) > 100:
		return r, invalid("name", "repository name %q: 1 to 100 characters, no spaces or slashes", r.Name)
	case r.URL == "":
		return r, invalid("url", "the repository's git URL or local path is missing")
	case !slices.Contains(Sources, r.Source):
		return r, invalid("source", "source %q: one of %s", r.Source, strings.Join(Sources, ", "))
	case r.Source != SourceGit && r.Project == "":
		return r, invalid("project", "a %s source needs the project (owner/name on GitHub, group/project on GitLab)", r.Source)
	}
	if u, err := url.Parse(r.URL); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			return r, invalid("url", "the URL carries a password: send the token in token, or name a secret in token_secret")
		}
	}
	for _, b := range r.Branches {
		if b == "" || strings.HasPrefix(b, "-") || strings.ContainsAny(b, " ~^:?*[\\") || strings.Contains(b, "..") {
			return r, invalid("branches", "branch %q is not a valid branch name", b)
		}
	}
	if err := s.checkRemotes(&r, by); err != nil {
		return r, err
	}
	r.ID, r.CreatedAt, r.CreatedBy = id.New("rep"), s.now(), by.Name
	if err := s.takeToken(&r); err != nil {
		return r, err
	}
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := tx.RepositoryByName(ctx, r.Name); err == nil {
			return opsguard.Errorf(opsguard.EConflict, "repository %s is already watched", r.Name)
		} else if opsguard.ErrorCode(err) != opsguard.ENotFound {
			return err
		}
		if err := tx.InsertRepository(ctx, r); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: by.Name, Kind: "repository.added", Subject: "repository/" + r.ID, Payload: r})
		return err
	})
	return r, err
}

// checkRemotes applies the egress policy to the repository's URL and its
// forge's API URL: what is refused is refused here, before anything is
// stored, with a message that says nothing of the server's files.
func (s *Service) checkRemotes(r *Repository, by Actor) error {
	u, kind, err := s.opts.Egress.RepoURL(r.URL, by.Local)
	if err != nil {
		return invalid("url", "url: %v", err)
	}
	r.URL, r.AddedLocally = u, by.Local && kind == egress.Local
	if r.APIURL != "" {
		if err := s.opts.Egress.APIURL(r.APIURL); err != nil {
			return invalid("api_url", "api_url: %v", err)
		}
	}
	return nil
}

// SecretDestination checks where a named secret of the server may be sent:
// to the forge's own public API (no api_url) or to a host the operator
// listed in change.allowed_hosts. A caller who may add repositories could
// otherwise name the company's token and an API URL of their own, and
// receive the token. A token the caller sent is theirs already and goes
// wherever the egress policy allows.
func SecretDestination(pol egress.Policy, apiURL string) error {
	if apiURL == "" || pol.Listed(egress.HostOf(apiURL)) {
		return nil
	}
	return fmt.Errorf("a secret of the server (token_secret) is sent only to the forge's public API or to a host listed in change.allowed_hosts; %s is not listed: send the token itself, or ask the operator to list the host", egress.HostOf(apiURL))
}

// maxToken bounds a forge token sent through the API.
const maxToken = 4096

// takeToken checks the token's secret name, or seals a token sent in
// clear, which then leaves the repository value: only its sealed form is
// stored and only "token_set" is ledgered.
func (s *Service) takeToken(r *Repository) error {
	r.SealedToken, r.TokenSet, r.LegacyTokenFile = "", false, ""
	tok := r.Token
	r.Token = ""
	switch {
	case tok != "" && r.TokenSecret != "":
		return invalid("token", "give the token or the name of its secret (token_secret), not both")
	case (tok != "" || r.TokenSecret != "") && r.Source == SourceGit:
		return invalid("token", "a git source asks no forge: it needs no token")
	case (tok != "" || r.TokenSecret != "") && s.opts.Secrets == nil:
		return invalid("token", "this server keeps no secrets")
	case r.TokenSecret != "":
		if err := s.opts.Secrets.Check(r.TokenSecret); err != nil {
			return invalid("token_secret", "token_secret: %v", err)
		}
		if err := SecretDestination(s.opts.Egress, r.APIURL); err != nil {
			return invalid("api_url", "%v", err)
		}
	case tok != "":
		if len(tok) > maxToken || strings.ContainsAny(tok, " \t\r\n") {
			return invalid("token", "token: one word of at most %d bytes", maxToken)
		}
		sealed, err := s.opts.Secrets.Seal(tok, "repository/"+r.ID)
		if err != nil {
			return fmt.Errorf("seal the token: %w", err)
		}
		r.SealedToken, r.TokenSet = sealed, true
	}
	return nil
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// Repositories lists the watched repositories.
func (s *Service) Repositories(ctx context.Context) ([]Repository, error) {
	var out []Repository
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ListRepositories(ctx)
		return err
	})
	return out, err
}

// Repository returns a repository by name, with its heads.
func (s *Service) Repository(ctx context.Context, name string) (Repository, []Head, error) {
	var r Repository
	var hs []Head
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if r, err = tx.RepositoryByName(ctx, name); err != nil {
			return err
		}
		hs, err = tx.Heads(ctx, r.ID)
		return err
	})
	return r, hs, err
}

// Summaries returns every repository's verdicts at a glance.
func (s *Service) Summaries(ctx context.Context) ([]RepoSummary, error) {
	var out []RepoSummary
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ChangeSummaries(ctx, s.now())
		return err
	})
	return out, err
}

// SyncResult says what a sync found.
type SyncResult struct {
	Repo       string         `json:"repo"`
	Branches   []BranchResult `json:"branches"`
	Shallow    bool           `json:"shallow"`
	DurationMS int64          `json:"duration_ms"`
}

// BranchResult is one branch's part of a sync.
type BranchResult struct {
	Branch     string `json:"branch"`
	From       string `json:"from,omitempty"`
	Head       string `json:"head"`
	New        int    `json:"new"`
	Violations int    `json:"violations"`
	Rewritten  bool   `json:"rewritten"`
}

// SyncActor is the ledger's actor of what a sync finds and records: the
// system, not whoever asked for the sync, who is named beside it in the
// payload (triggered_by) so that the ledger never reads as if they had
// committed the violations it found.
const SyncActor = "sync"

// Sync brings a repository's protected branches up to date: it fetches
// them into the mirror and verifies every commit that arrived since the
// last verified one. A failure keeps the last good state and is recorded
// on the repository; nothing that was not verified is recorded as such.
// trigger is who or what asked for the sync: a user, the scheduler, a
// webhook.
func (s *Service) Sync(ctx context.Context, trigger, name string, progress Progress) (SyncResult, error) {
	var r Repository
	if err := s.store.View(ctx, func(tx Tx) error {
		var err error
		r, err = tx.RepositoryByName(ctx, name)
		return err
	}); err != nil {
		return SyncResult{}, err
	}
	s.mu.Lock()
	mu := s.syncs[r.ID]
	if mu == nil {
		mu = &sync.Mutex{}
		s.syncs[r.ID] = mu
	}
	s.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()

	var res SyncResult
	ran := false
	run := func(ctx context.Context) error {
		ran = true
		var err error
		res, err = s.sync(ctx, trigger, r, progress)
		return err
	}
	var err error
	if s.opts.Lock != nil {
		err = s.opts.Lock("change-sync:"+r.ID)(ctx, run)
	} else {
		err = run(ctx)
	}
	if err == nil && !ran {
		// Another replica holds the repository's lock and records its own
		// outcome.
		return res, opsguard.Errorf(opsguard.EConflict, "repository %s is being synced by another replica", r.Name)
	}
	if serr := s.recordSync(ctx, trigger, r, res.Shallow, err); serr != nil && err == nil {
		err = serr
	}
	return res, err
}

// recordSync stores the outcome of a sync on the repository, with the
// entry that seals it: repository.sync_state after a sync that ran (the
// controls read when it last did), repository.sync_failed when a failure
// is new. A scheduled retry failing as before changes nothing.
func (s *Service) recordSync(ctx context.Context, trigger string, r Repository, shallow bool, syncErr error) error {
	return s.store.Update(ctx, func(tx Tx) error {
		cur, err := tx.RepositoryByID(ctx, r.ID)
		if err != nil {
			return err
		}
		msg := ""
		if syncErr != nil {
			msg = syncErr.Error()
		}
		if msg != "" && msg == cur.SyncError {
			return nil // a scheduled retry failing as before: nothing new
		}
		ev := ledger.Event{Actor: SyncActor, Kind: "repository.sync_failed", Subject: "repository/" + r.ID,
			Payload: map[string]any{"error": msg, "triggered_by": trigger}}
		if syncErr == nil {
			now := s.now()
			cur.SyncedAt = &now
			ev.Kind, ev.Payload = "repository.sync_state", map[string]any{"synced_at": now, "shallow": shallow, "triggered_by": trigger}
		}
		cur.SyncError, cur.Shallow = msg, shallow || (syncErr != nil && cur.Shallow)
		if err := tx.UpdateRepositorySync(ctx, cur); err != nil {
			return err
		}
		// The repository's row is sealed, so its sync state is recorded.
		_, err = s.log.Append(ctx, tx, ev)
		return err
	})
}

// reachable applies the egress policy again before a fetch: to a
// repository stored before it, under a policy since narrowed, and to the
// addresses its host resolves to now. It says whether the URL is local.
func (s *Service) reachable(ctx context.Context, r Repository) (bool, error) {
	_, kind, err := s.opts.Egress.RepoURL(r.URL, r.AddedLocally)
	if err != nil {
		return false, fmt.Errorf("url: %w", err)
	}
	if kind == egress.Local {
		return true, nil
	}
	if err := s.opts.Egress.Resolve(ctx, egress.HostOf(r.URL)); err != nil {
		return false, fmt.Errorf("url: %w", err)
	}
	return false, nil
}

func (s *Service) mirror(r Repository) *Mirror {
	return &Mirror{Dir: filepath.Join(s.opts.ReposDir, r.ID+".git"), Git: s.opts.Git}
}

// ErrShallow is a repository whose history opsguard received cut short.
var ErrShallow = errors.New("the repository is a shallow clone: its full history is not retrievable (CM-1)")

func (s *Service) sync(ctx context.Context, trigger string, r Repository, progress Progress) (SyncResult, error) {
	start := time.Now()
	res := SyncResult{Repo: r.Name}
	m := s.mirror(r)
	local, err := s.reachable(ctx, r)
	if err != nil {
		return res, err
	}
	m.AllowFile = local
	if err := m.Fetch(ctx, r.URL, r.Branches); err != nil {
		return res, err
	}
	shallow, err := m.Shallow(ctx)
	if err != nil {
		return res, err
	}
	if res.Shallow = shallow; shallow {
		return res, fmt.Errorf("%s: %w", r.URL, ErrShallow)
	}
	var prov Provider
	if r.Source != SourceGit {
		if s.opts.Provider == nil {
			return res, fmt.Errorf("no %s provider is configured", r.Source)
		}
		if prov, err = s.opts.Provider(r, progress); err != nil {
			return res, err
		}
	}
	var heads []Head
	if err := s.store.View(ctx, func(tx Tx) error {
		heads, err = tx.Heads(ctx, r.ID)
		return err
	}); err != nil {
		return res, err
	}
	for _, b := range r.Branches {
		i := slices.IndexFunc(heads, func(h Head) bool { return h.Branch == b })
		var prev *Head
		if i >= 0 {
			prev = &heads[i]
		}
		br, err := s.syncBranch(ctx, trigger, r, m, b, prev, prov, progress)
		res.Branches = append(res.Branches, br)
		if err != nil {
			return res, fmt.Errorf("branch %s: %w", b, err)
		}
	}
	res.DurationMS = time.Since(start).Milliseconds()
	return res, nil
}

func (s *Service) syncBranch(ctx context.Context, trigger string, r Repository, m *Mirror, branch string, prev *Head, prov Provider, progress Progress) (BranchResult, error) {
	br := BranchResult{Branch: branch}
	head, err := m.Resolve(ctx, "refs/heads/"+branch)
	if err != nil {
		return br, err
	}
	br.Head = head
	from := ""
	var rewrite *RepoViolation
	if prev != nil {
		br.From = prev.Head
		if prev.Head == head {
			return br, nil
		}
		ok, err := m.IsAncestor(ctx, prev.Head, head)
		if err != nil {
			return br, err
		}
		from = prev.Head
		if !ok {
			// The verified head is gone from the branch: the history was
			// rewritten. The old commits stay in the mirror under a ref
			// of ours; the new ones since the common ancestor are
			// verified like any others.
			br.Rewritten = true
			if from, err = m.MergeBase(ctx, prev.Head, head); err != nil {
				return br, err
			}
			rewrite = &RepoViolation{ID: id.New("rvi"), RepoID: r.ID, Repo: r.Name, Branch: branch, Rule: "CM-1",
				Message: fmt.Sprintf("the history of %s was rewritten: the verified commit %s is no longer on the branch, whose head is now %s", branch, short(prev.Head), short(head)),
				OldHead: prev.Head, NewHead: head, DetectedAt: s.now()}
			if err := m.Keep(ctx, "refs/opsguard/rewritten/"+branch+"/"+prev.Head, prev.Head); err != nil {
				return br, err
			}
		}
	}
	hist, err := m.Walk(ctx, from, head)
	if err != nil {
		return br, err
	}
	commits, merged := hist.Chain, hist.Merged
	// Where each commit of this sync sits, oldest first: a revert of an
	// earlier one is linked without asking git.
	order := make(map[string]int, len(commits))
	for i, c := range commits {
		order[c.SHA] = i
	}
	total := prevChanges(prev)
	for len(commits) > 0 || rewrite != nil {
		n := min(len(commits), s.opts.BatchSize)
		batch := commits[:n]
		commits = commits[n:]
		changes, err := s.verify(ctx, r, m, branch, batch, prov, order, merged)
		if err != nil {
			return br, err
		}
		batchHead := head
		if n > 0 {
			batchHead = batch[n-1].SHA
		}
		stored, bad, err := s.record(ctx, trigger, r, branch, batchHead, total, changes, merged, rewrite)
		if err != nil {
			return br, err
		}
		if err := m.Keep(ctx, "refs/opsguard/verified/"+branch, batchHead); err != nil {
			return br, err
		}
		total += stored
		br.New += stored
		br.Violations += bad
		rewrite = nil
		if progress != nil && len(commits) > 0 {
			progress(fmt.Sprintf("%s %s: %d commits verified, %d to go", r.Name, branch, br.New, len(commits)))
		}
	}
	return br, nil
}

func prevChanges(h *Head) int {
	if h == nil {
		return 0
	}
	return h.Changes
}

// verify classifies a batch of commits (oldest first) and applies the
// rules, asking the forge about each when there is one. merged holds the
// people of the commits each merge brought in (Mirror.Merged).
func (s *Service) verify(ctx context.Context, r Repository, m *Mirror, branch string, batch []Commit, prov Provider, order map[string]int, merged map[string][]string) ([]Change, error) {
	out := make([]Change, len(batch))
	for i, c := range batch {
		ch := Classify(r, branch, c)
		var pr *PullRequest
		if prov != nil {
			var err error
			if pr, err = prov.PullRequest(ctx, c.SHA, branch, ch.PR); err != nil {
				return nil, fmt.Errorf("commit %s: %w", short(c.SHA), err)
			}
			ch.AddPullRequest(r, pr)
		}
		found := false
		if at, ok := order[ch.Reverts]; ok {
			found = at < order[c.SHA]
		} else if ch.Reverts != "" {
			// An abbreviated SHA, or a commit verified by an earlier sync.
			if full, err := m.Resolve(ctx, ch.Reverts); err == nil {
				ch.Reverts = full
				anc, err := m.IsAncestor(ctx, full, c.SHA)
				found = err == nil && anc
			}
		}
		Evaluate(r, &ch, pr, merged[c.SHA], s.opts.ReviewDays, found)
		out[i] = ch
	}
	return out, nil
}

// syncRecord is what the ledger keeps of one batch: every commit verified
// and its verdict, as evidence.
type syncRecord struct {
	SHA       string   `json:"sha"`
	Kind      string   `json:"kind"`
	PR        int      `json:"pr,omitempty"`
	Approvers []string `json:"approvers,omitempty"`
	// Requesters are, for a merge, the authors and committers of the
	// commits it brought in.
	Requesters []string    `json:"requesters,omitempty"`
	Verdict    string      `json:"verdict"`
	Violations []Violation `json:"violations,omitempty"`
}

// record stores a batch of verified changes with their ledger entries,
// whose actor is the sync and whose payload names its trigger.
func (s *Service) record(ctx context.Context, trigger string, r Repository, branch, head string, total int, changes []Change, merged map[string][]string, rewrite *RepoViolation) (stored, bad int, err error) {
	now := s.now()
	var evidence bytes.Buffer
	enc := json.NewEncoder(&evidence)
	for i := range changes {
		changes[i].ID, changes[i].RecordedAt = id.New("chg"), now
		c := changes[i]
		approvers := make([]string, len(c.Approvers))
		for j, a := range c.Approvers {
			approvers[j] = a.By
		}
		rec := syncRecord{SHA: c.SHA, Kind: c.Kind, PR: c.PR, Approvers: approvers, Requesters: merged[c.SHA], Verdict: c.Verdict, Violations: c.Violations}
		if err := enc.Encode(rec); err != nil {
			return 0, 0, err
		}
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		var err error
		var events []ledger.Event
		if rewrite != nil {
			if err := tx.InsertRepoViolation(ctx, *rewrite); err != nil {
				return err
			}
			events = append(events, ledger.Event{Actor: SyncActor, Kind: "repository.history_rewritten", Subject: "repository/" + r.ID,
				Payload: struct {
					*RepoViolation
					TriggeredBy string `json:"triggered_by"`
				}{rewrite, trigger}})
		}
		inserted := map[string]bool{}
		if len(changes) > 0 {
			if inserted, err = tx.InsertChanges(ctx, changes); err != nil {
				return err
			}
			stored = len(inserted)
		}
		for _, c := range changes {
			if inserted[c.ID] && c.Reverts != "" && !c.Breaks("CM-8") {
				if err := tx.SetRevertedBy(ctx, r.ID, branch, c.Reverts, c.SHA); err != nil {
					return err
				}
			}
		}
		blob, err := s.log.PutBlob(ctx, tx, "application/x-ndjson", evidence.Bytes())
		if err != nil {
			return err
		}
		if err := tx.PutHead(ctx, Head{RepoID: r.ID, Branch: branch, Head: head, VerifiedAt: now, Changes: total + stored}); err != nil {
			return err
		}
		events = append(events, ledger.Event{Actor: SyncActor, Kind: "repository.synced", Subject: "repository/" + r.ID,
			Payload: map[string]any{"branch": branch, "head": head, "verified": len(changes), "evidence": blob.Ref(), "triggered_by": trigger}})
		for _, c := range changes {
			if c.Verdict == Pass || !inserted[c.ID] {
				continue
			}
			bad++
			events = append(events, ledger.Event{Actor: SyncActor, Kind: "change.violation", Subject: "change/" + c.ID,
				Payload: map[string]any{"repo": r.Name, "branch": branch, "sha": c.SHA, "verdict": c.Verdict, "violations": c.Violations, "review_due_at": c.ReviewDueAt,
					"triggered_by": trigger}})
		}
		_, err = s.log.Append(ctx, tx, events...)
		return err
	})
	return stored, bad, err
}
