package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/change/sources"
	"github.com/opsguard/opsguard/ledger"
)

// maxWebhook bounds a webhook delivery: GitHub caps payloads at 25 MB.
const maxWebhook = 25 << 20

// changeModule serves the change register: repositories, changes and
// tickets.
var changeModule = module{name: "change", routes: (*Server).changeRoutes,
	nav: []navLink{{"Changes", "/changes"}, {"Tickets", "/tickets"}}}

func (s *Server) changeRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/v1/repositories", Perm: auth.Read, Summary: "Watched repositories with their verdict counts", handle: s.apiRepositories},
		{Method: "POST", Pattern: "/api/v1/repositories", Perm: auth.ManageRepos, Summary: "Put a repository under watch", handle: s.apiAddRepository},
		{Method: "GET", Pattern: "/api/v1/repositories/{name}", Perm: auth.Read, Summary: "A repository, its verified heads and its rewritten histories", handle: s.apiRepository},
		{Method: "POST", Pattern: "/api/v1/repositories/{name}/sync", Perm: auth.ManageRepos, Summary: "Sync a repository now and verify what arrived", handle: s.apiSync},
		{Method: "GET", Pattern: "/api/v1/changes", Perm: auth.Read, Summary: "The change register, newest first", handle: s.apiChanges},
		{Method: "GET", Pattern: "/api/v1/changes/{id}", Perm: auth.Read, Summary: "One change (by id or commit SHA) with its reviews", handle: s.apiChange},
		{Method: "POST", Pattern: "/api/v1/changes/{id}/review", Perm: auth.ReviewChanges, Summary: "Record a post-facto review with the CM-6 checklist (not by the author)", handle: s.apiReview},
		{Method: "POST", Pattern: "/api/v1/changes/{id}/exception", Perm: auth.GrantExceptions, Summary: "Mark a failed change as a justified exception (security officer)", handle: s.apiException},
		{Method: "GET", Pattern: "/api/v1/repository-violations", Perm: auth.Read, Summary: "Rewritten histories of every repository", handle: s.apiRepoViolations},
		{Method: "POST", Pattern: "/api/v1/repository-violations/{id}/exception", Perm: auth.GrantExceptions, Summary: "Mark a rewritten history as a justified exception (security officer)", handle: s.apiRewriteException},
		{Method: "POST", Pattern: "/api/v1/webhooks/{provider}", Public: true, Summary: "GitHub or GitLab push and pull request events, verified with the shared secret; syncs the repository at once", handle: s.apiWebhook},
		{Method: "GET", Pattern: "/api/v1/tickets", Perm: auth.Read, Summary: "Change tickets, newest first", handle: s.apiTickets},
		{Method: "POST", Pattern: "/api/v1/tickets", Perm: auth.ReviewChanges, Summary: "Open a change ticket as a draft", handle: s.apiCreateTicket},
		{Method: "POST", Pattern: "/api/v1/tickets/unapproved", Perm: auth.ReviewChanges, Summary: "Record a change already carried out without an approval (it shows as a CM-5 violation)", handle: s.apiRecordUnapproved},
		{Method: "GET", Pattern: "/api/v1/tickets/{id}", Perm: auth.Read, Summary: "One change ticket", handle: s.apiTicket},
		{Method: "PUT", Pattern: "/api/v1/tickets/{id}", Perm: auth.ReviewChanges, Summary: "Edit a draft ticket (its owner or creator)", handle: s.apiEditTicket},
		{Method: "POST", Pattern: "/api/v1/tickets/{id}/submit", Perm: auth.ReviewChanges, Summary: "Submit a draft ticket for approval", handle: s.apiTicketStep("submit")},
		{Method: "POST", Pattern: "/api/v1/tickets/{id}/approve", Perm: auth.ApproveChanges, Summary: "Approve a ticket (an engineering head or security officer who does not own it)", handle: s.apiTicketStep("approve")},
		{Method: "POST", Pattern: "/api/v1/tickets/{id}/reject", Perm: auth.ApproveChanges, Summary: "Reject a ticket with a reason", handle: s.apiTicketStep("reject")},
		{Method: "POST", Pattern: "/api/v1/tickets/{id}/implement", Perm: auth.ReviewChanges, Summary: "Record that an approved ticket was carried out (not by its approver)", handle: s.apiTicketStep("implement")},
		{Method: "POST", Pattern: "/api/v1/tickets/{id}/verify", Perm: auth.ReviewChanges, Summary: "Record that an implemented ticket was verified", handle: s.apiTicketStep("verify")},
		{Method: "POST", Pattern: "/api/v1/tickets/{id}/rollback", Perm: auth.ReviewChanges, Summary: "Record that an implemented ticket was rolled back", handle: s.apiTicketStep("rollback")},

		{Method: "GET", Pattern: "/changes", Perm: auth.Read, UI: true, Summary: "Repositories and the change register", handle: s.uiChanges},
		{Method: "GET", Pattern: "/changes/{id}", Perm: auth.Read, UI: true, Summary: "A change with its evidence", handle: s.uiChange},
		{Method: "POST", Pattern: "/changes/{id}/review", Perm: auth.ReviewChanges, UI: true, Summary: "Record a post-facto review", handle: s.uiChangeAction},
		{Method: "POST", Pattern: "/changes/{id}/exception", Perm: auth.GrantExceptions, UI: true, Summary: "Grant an exception", handle: s.uiChangeAction},
		{Method: "POST", Pattern: "/repositories", Perm: auth.ManageRepos, UI: true, Summary: "Put a repository under watch", handle: s.uiAddRepository},
		{Method: "POST", Pattern: "/repositories/{name}/sync", Perm: auth.ManageRepos, UI: true, Summary: "Sync a repository", handle: s.uiSync},
		{Method: "GET", Pattern: "/tickets", Perm: auth.Read, UI: true, Summary: "The change ticket board", handle: s.uiTickets},
		{Method: "POST", Pattern: "/tickets", Perm: auth.ReviewChanges, UI: true, Summary: "Open a change ticket", handle: s.uiCreateTicket},
		{Method: "GET", Pattern: "/tickets/{id}", Perm: auth.Read, UI: true, Summary: "A change ticket and its history", handle: s.uiTicket},
		{Method: "POST", Pattern: "/tickets/{id}/approve", Perm: auth.ApproveChanges, UI: true, Summary: "Approve a ticket", handle: s.uiTicketAction},
		{Method: "POST", Pattern: "/tickets/{id}/reject", Perm: auth.ApproveChanges, UI: true, Summary: "Reject a ticket", handle: s.uiTicketAction},
		{Method: "POST", Pattern: "/tickets/{id}/{action}", Perm: auth.ReviewChanges, UI: true, Summary: "Submit, implement, verify or roll back a ticket", handle: s.uiTicketAction},
	}
}

// changeActor is the principal as the change rules see it. The command
// line in-process is Local: its operator reads the data directory's files
// anyway, so may watch a local path.
func changeActor(p auth.Principal) change.Actor {
	return change.Actor{Name: p.Name(), Username: p.User.Username, Email: p.User.Email, DisplayName: p.User.DisplayName,
		Approver: p.Can(auth.ApproveChanges), SecurityOfficer: p.Can(auth.GrantExceptions), Local: p.Via == "cli"}
}

func (s *Server) apiRepositories(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	sums, err := s.app.Change.Summaries(r.Context())
	return answer(w, http.StatusOK, items(sums), err)
}

func (s *Server) apiAddRepository(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req change.Repository
	if err := decode(w, r, &req); err != nil {
		return err
	}
	repo, err := s.app.Change.AddRepository(r.Context(), changeActor(p), req)
	return answer(w, http.StatusCreated, repo, err)
}

type repositoryView struct {
	change.Repository
	Heads      []change.Head          `json:"heads"`
	Violations []change.RepoViolation `json:"violations"`
}

func (s *Server) apiRepository(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	repo, heads, err := s.app.Change.Repository(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	vs, err := s.app.Change.Violations(r.Context(), repo.Name)
	return answer(w, http.StatusOK, repositoryView{Repository: repo, Heads: nonNil(heads), Violations: nonNil(vs)}, err)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// syncError turns a failed sync into a client error: what went wrong is
// the repository's, not the server's, and the message says what.
func syncError(err error) error {
	var oe *opsguard.Error
	if errors.As(err, &oe) {
		return err
	}
	return &opsguard.Error{Code: opsguard.EConflict, Message: "sync failed, the last verified state is kept: " + err.Error()}
}

func (s *Server) apiSync(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	res, err := s.app.Change.Sync(r.Context(), p.Name(), r.PathValue("name"), nil)
	if err != nil {
		return syncError(err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// changeFilter reads the register's filters from a query.
func changeFilter(r *http.Request) (change.Filter, error) {
	q := r.URL.Query()
	f := change.Filter{Repo: q.Get("repo"), Branch: q.Get("branch"), Verdict: q.Get("verdict"), Kind: q.Get("kind")}
	var err error
	if f.Since, err = dateParam(r, "since"); err != nil {
		return f, err
	}
	f.Limit, f.Offset, err = pageParams(r)
	return f, err
}

func (s *Server) apiChanges(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	f, err := changeFilter(r)
	if err != nil {
		return err
	}
	cs, total, err := s.app.Change.List(r.Context(), f)
	return answer(w, http.StatusOK, map[string]any{"items": nonNil(cs), "total": total}, err)
}

func (s *Server) apiChange(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	d, err := s.app.Change.Get(r.Context(), r.PathValue("id"))
	return answer(w, http.StatusOK, d, err)
}

func (s *Server) apiReview(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req change.ReviewRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	d, err := s.app.Change.Review(r.Context(), changeActor(p), r.PathValue("id"), req)
	return answer(w, http.StatusCreated, d, err)
}

type exceptionRequest struct {
	Justification string `json:"justification"`
}

func (s *Server) apiException(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req exceptionRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	d, err := s.app.Change.GrantException(r.Context(), changeActor(p), r.PathValue("id"), req.Justification)
	return answer(w, http.StatusOK, d, err)
}

func (s *Server) apiRepoViolations(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	vs, err := s.app.Change.Violations(r.Context(), r.URL.Query().Get("repo"))
	return answer(w, http.StatusOK, items(vs), err)
}

func (s *Server) apiRewriteException(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req exceptionRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	v, err := s.app.Change.ExceptRewrite(r.Context(), changeActor(p), r.PathValue("id"), req.Justification)
	return answer(w, http.StatusOK, v, err)
}

// apiWebhook takes a forge's delivery. It is public: the shared secret,
// not a token, authenticates it.
func (s *Server) apiWebhook(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	provider := r.PathValue("provider")
	if provider != change.SourceGitHub && provider != change.SourceGitLab {
		return opsguard.Errorf(opsguard.ENotFound, "no webhook for %q: github or gitlab", provider)
	}
	body, err := readAll(http.MaxBytesReader(w, r.Body, maxWebhook), r.ContentLength, maxWebhook)
	if err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "reading the delivery: %v", err)
	}
	res, err := s.app.Webhook(r.Context(), provider, r.Header, body, s.clientIP(r))
	if errors.Is(err, sources.ErrSignature) {
		return &opsguard.Error{Code: opsguard.EUnauthenticated, Message: "webhook signature or token does not match the shared secret"}
	}
	if err != nil {
		var oe *opsguard.Error
		if !errors.As(err, &oe) {
			err = &opsguard.Error{Code: opsguard.EInvalid, Message: err.Error()}
		}
		return err
	}
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

func (s *Server) apiTickets(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	q := r.URL.Query()
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	ts, err := s.app.Tickets.List(r.Context(), change.TicketFilter{State: q.Get("state"), Owner: q.Get("owner"), Limit: limit})
	return answer(w, http.StatusOK, items(ts), err)
}

func (s *Server) apiCreateTicket(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req change.NewTicket
	if err := decode(w, r, &req); err != nil {
		return err
	}
	t, err := s.app.Tickets.Create(r.Context(), changeActor(p), req)
	return answer(w, http.StatusCreated, t, err)
}

type unapprovedRequest struct {
	change.NewTicket
	Note string `json:"note"`
}

func (s *Server) apiRecordUnapproved(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req unapprovedRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	t, err := s.app.Tickets.RecordImplemented(r.Context(), changeActor(p), req.NewTicket, req.Note)
	return answer(w, http.StatusCreated, t, err)
}

func (s *Server) apiTicket(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	t, err := s.app.Tickets.Get(r.Context(), r.PathValue("id"))
	return answer(w, http.StatusOK, t, err)
}

func (s *Server) apiEditTicket(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req change.NewTicket
	if err := decode(w, r, &req); err != nil {
		return err
	}
	t, err := s.app.Tickets.Edit(r.Context(), changeActor(p), r.PathValue("id"), req)
	return answer(w, http.StatusOK, t, err)
}

type noteRequest struct {
	Note string `json:"note"`
}

func (s *Server) apiTicketStep(action string) Handler {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		var req noteRequest
		if r.ContentLength != 0 {
			if err := decode(w, r, &req); err != nil {
				return err
			}
		}
		t, err := s.app.Tickets.Step(r.Context(), changeActor(p), r.PathValue("id"), action, req.Note)
		return answer(w, http.StatusOK, t, err)
	}
}

// The pages.

type changesView struct {
	Repos  []change.RepoSummary
	Items  []change.Change
	Total  int
	Filter change.Filter
	pager
	Now       time.Time
	CanManage bool
	Flash     string
}

func (s *Server) changesPage(w http.ResponseWriter, r *http.Request, p auth.Principal, st int, flash, problem string) error {
	f, err := changeFilter(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("limit") == "" {
		f.Limit = 50
	}
	sums, err := s.app.Change.Summaries(r.Context())
	if err != nil {
		return err
	}
	cs, total, err := s.app.Change.List(r.Context(), f)
	if err != nil {
		return err
	}
	v := changesView{Repos: sums, Items: cs, Total: total, Filter: f, Now: s.app.Now(), CanManage: p.Can(auth.ManageRepos), Flash: flash,
		pager: pageLinks(r, f.Offset, f.Limit, len(cs), total)}
	s.render(w, st, "changes.html", page{Title: "Changes", Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiChanges(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.changesPage(w, r, p, http.StatusOK, "", "")
}

func (s *Server) uiAddRepository(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	split := func(v string) []string {
		var out []string
		for f := range strings.FieldsFuncSeq(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			out = append(out, f)
		}
		return out
	}
	repo, err := s.app.Change.AddRepository(r.Context(), changeActor(p), change.Repository{
		Name: r.PostFormValue("name"), URL: r.PostFormValue("url"), Branches: split(r.PostFormValue("branches")),
		Source: r.PostFormValue("source"), Project: r.PostFormValue("project"), APIURL: r.PostFormValue("api_url"),
		TokenSecret: r.PostFormValue("token_secret"), Token: r.PostFormValue("token"), Bots: split(r.PostFormValue("bots")), RequiredChecks: split(r.PostFormValue("required_checks"))})
	r.URL.RawQuery = ""
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.changesPage(w, r, p, st, "", msg) })
	}
	return s.changesPage(w, r, p, http.StatusCreated, "Watching "+repo.Name+": sync it to verify its history.", "")
}

func (s *Server) uiSync(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	res, err := s.app.Change.Sync(r.Context(), p.Name(), r.PathValue("name"), nil)
	r.URL.RawQuery = ""
	if err != nil {
		return formError(syncError(err), func(st int, msg string) error { return s.changesPage(w, r, p, st, "", msg) })
	}
	var parts []string
	for _, b := range res.Branches {
		parts = append(parts, fmt.Sprintf("%s: %d new, %d failing%s", b.Branch, b.New, b.Violations, map[bool]string{true: ", history rewritten"}[b.Rewritten]))
	}
	return s.changesPage(w, r, p, http.StatusOK, "Synced "+res.Repo+" ("+strings.Join(parts, "; ")+").", "")
}

type changeView struct {
	C          change.Detail
	History    []ledger.Entry
	Checklist  []string
	CanReview  bool
	CanExcept  bool
	Flash      string
	Violations []change.RepoViolation
}

func (s *Server) changePage(w http.ResponseWriter, r *http.Request, p auth.Principal, id string, st int, flash, problem string) error {
	d, err := s.app.Change.Get(r.Context(), id)
	if err != nil {
		return err
	}
	h, err := s.app.Entries(r.Context(), ledger.EntryFilter{Subject: "change/" + d.ID, Limit: 1000})
	if err != nil {
		return err
	}
	v := changeView{C: d, History: h, Checklist: change.ChecklistItems, CanReview: p.Can(auth.ReviewChanges), CanExcept: p.Can(auth.GrantExceptions), Flash: flash}
	s.render(w, st, "change.html", page{Title: d.Repo + "@" + d.SHA[:min(12, len(d.SHA))], Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiChange(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.changePage(w, r, p, r.PathValue("id"), http.StatusOK, "", "")
}

func (s *Server) uiChangeAction(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	var flash string
	var err error
	if strings.HasSuffix(r.URL.Path, "/review") {
		req := change.ReviewRequest{Comment: r.PostFormValue("comment"), Checklist: map[string]string{}}
		for _, item := range change.ChecklistItems {
			if v := r.PostFormValue(item); v != "" {
				req.Checklist[item] = v
			}
		}
		var d change.Detail
		d, err = s.app.Change.Review(r.Context(), changeActor(p), id, req)
		flash = "Review recorded: the change now " + map[string]string{change.Pass: "passes", change.Fail: "fails"}[d.Verdict] + "."
	} else {
		_, err = s.app.Change.GrantException(r.Context(), changeActor(p), id, r.PostFormValue("justification"))
		flash = "Exception granted; the violations stay on record."
	}
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.changePage(w, r, p, id, st, "", msg) })
	}
	return s.changePage(w, r, p, id, http.StatusOK, flash, "")
}

type ticketsView struct {
	Columns    []ticketColumn
	Categories []string
	Risks      []string
	CanCreate  bool
	Flash      string
}

type ticketColumn struct {
	State   string
	Tickets []change.Ticket
}

func (s *Server) ticketsPage(w http.ResponseWriter, r *http.Request, p auth.Principal, st int, flash, problem string) error {
	all, err := s.app.Tickets.List(r.Context(), change.TicketFilter{Limit: 1000})
	if err != nil {
		return err
	}
	v := ticketsView{Categories: change.TicketCategories, Risks: change.TicketRisks, CanCreate: p.Can(auth.ReviewChanges), Flash: flash}
	for _, state := range change.TicketStates {
		col := ticketColumn{State: state}
		for _, t := range all {
			if t.State == state {
				col.Tickets = append(col.Tickets, t)
			}
		}
		v.Columns = append(v.Columns, col)
	}
	s.render(w, st, "tickets.html", page{Title: "Change tickets", Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiTickets(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.ticketsPage(w, r, p, http.StatusOK, "", "")
}

// formTime reads a datetime-local field; empty is no time.
func formTime(r *http.Request, name string) (*time.Time, error) {
	v := r.PostFormValue(name)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return &t, nil
		}
	}
	return nil, &opsguard.Error{Code: opsguard.EInvalid, Message: name + ": want a date and time", Details: map[string]any{"field": name}}
}

func (s *Server) uiCreateTicket(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	render := func(st int, msg string) error { return s.ticketsPage(w, r, p, st, "", msg) }
	from, err := formTime(r, "window_start")
	if err != nil {
		return formError(err, render)
	}
	to, err := formTime(r, "window_end")
	if err != nil {
		return formError(err, render)
	}
	t, err := s.app.Tickets.Create(r.Context(), changeActor(p), change.NewTicket{Title: r.PostFormValue("title"), Description: r.PostFormValue("description"),
		Category: r.PostFormValue("category"), Approver: r.PostFormValue("approver"), Impact: r.PostFormValue("impact"), Risk: r.PostFormValue("risk"),
		Rollback: r.PostFormValue("rollback"), WindowStart: from, WindowEnd: to})
	if err != nil {
		return formError(err, render)
	}
	if r.PostFormValue("submit") != "" {
		if t, err = s.app.Tickets.Submit(r.Context(), changeActor(p), t.ID); err != nil {
			return formError(err, func(st int, msg string) error {
				return s.ticketPage(w, r, p, t.ID, st, "", "Created as a draft, not submitted: "+msg)
			})
		}
	}
	return s.ticketPage(w, r, p, t.ID, http.StatusCreated, "Ticket "+t.ID+" is "+t.State+".", "")
}

type ticketView struct {
	T       change.Ticket
	History []ledger.Entry
	Me      change.Actor
	Flash   string
	CanWork bool
	CanSign bool
}

func (s *Server) ticketPage(w http.ResponseWriter, r *http.Request, p auth.Principal, id string, st int, flash, problem string) error {
	t, err := s.app.Tickets.Get(r.Context(), id)
	if err != nil {
		return err
	}
	h, err := s.app.Entries(r.Context(), ledger.EntryFilter{Subject: "ticket/" + t.ID, Limit: 1000})
	if err != nil {
		return err
	}
	v := ticketView{T: t, History: h, Me: changeActor(p), Flash: flash, CanWork: p.Can(auth.ReviewChanges), CanSign: p.Can(auth.ApproveChanges)}
	s.render(w, st, "ticket.html", page{Title: t.Title, Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiTicket(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.ticketPage(w, r, p, r.PathValue("id"), http.StatusOK, "", "")
}

func (s *Server) uiTicketAction(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	action := r.PathValue("action")
	if action == "" {
		action = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	t, err := s.app.Tickets.Step(r.Context(), changeActor(p), id, action, r.PostFormValue("note"))
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.ticketPage(w, r, p, id, st, "", msg) })
	}
	return s.ticketPage(w, r, p, id, http.StatusOK, "Ticket "+t.ID+" is "+strings.ReplaceAll(t.State, "_", " ")+".", "")
}
