package web

import (
	"bytes"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/vuln"
)

type ledgerReport = ledger.Report

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

func parsePages() *template.Template {
	funcs := template.FuncMap{
		"hex":  hex.EncodeToString,
		"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"short": func(s string, n int) string {
			if len(s) <= n {
				return s
			}
			return s[:n] + "…"
		},
		"statusLabel": func(s control.Status) string { return strings.ReplaceAll(string(s), "_", " ") },
		"str":         func(b []byte) string { return string(b) },
		"date":        func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"list":        func(xs ...string) []string { return xs },
		"breached":    func(f vuln.Finding, now time.Time) bool { return f.Breached(now) },
		"where":       where,
		"overdue":     func(c change.Change, now time.Time) bool { return c.Overdue(now) },
		"refLink":     refLink,
		"nav":         navigation,
		"sum": func(m map[string]int) int {
			n := 0
			for _, v := range m {
				n += v
			}
			return n
		},
	}
	return template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
}

func (s *Server) uiRoutes() []Route {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(static)))
	return []Route{
		{Method: "GET", Pattern: "/static/", Public: true, UI: true, Summary: "Style sheet, images and the upload script", handle: func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
			w.Header().Set("Cache-Control", "public, max-age=3600")
			files.ServeHTTP(w, r)
			return nil
		}},
		{Method: "GET", Pattern: "/login", Public: true, UI: true, Summary: "Sign-in page", handle: s.uiLogin},
		{Method: "POST", Pattern: "/login", Public: true, UI: true, Summary: "Sign in", handle: s.uiLoginPost},
		{Method: "POST", Pattern: "/logout", Perm: auth.Read, UI: true, BeforePasswordChange: true, Summary: "Sign out", handle: s.uiLogout},
		{Method: "GET", Pattern: "/{$}", Perm: auth.Read, UI: true, Summary: "Compliance dashboard", handle: s.uiDashboard},
		{Method: "POST", Pattern: "/controls/run", Perm: auth.RunControls, UI: true, Summary: "Run every control now", handle: s.uiRunControls},
		{Method: "GET", Pattern: "/controls/{id}", Perm: auth.Read, UI: true, Summary: "A control and its history", handle: s.uiControl},
		{Method: "GET", Pattern: "/users", Perm: auth.Read, UI: true, Summary: "Users", handle: s.uiUsers},
		{Method: "POST", Pattern: "/users", Perm: auth.ManageUsers, UI: true, Summary: "Create a user", handle: s.uiCreateUser},
		{Method: "POST", Pattern: "/users/{username}/disable", Perm: auth.ManageUsers, UI: true, Summary: "Disable a user", handle: s.uiDisableUser},
		{Method: "POST", Pattern: "/users/{username}/role", Perm: auth.ManageUsers, UI: true, Summary: "Change a user's role", handle: s.uiSetRole},
		{Method: "POST", Pattern: "/users/{username}/password/reset", Perm: auth.ManageUsers, UI: true, Summary: "Reset a user's password to a one-time value", handle: s.uiResetPassword},
		{Method: "GET", Pattern: "/account", Perm: auth.OwnAccount, UI: true, Summary: "Your account", handle: s.uiAccount},
		{Method: "POST", Pattern: "/account/password", Perm: auth.OwnAccount, UI: true, Summary: "Change your password", handle: s.uiSetPassword},
		{Method: "GET", Pattern: "/tokens", Perm: auth.Read, UI: true, Summary: "API tokens", handle: s.uiTokens},
		{Method: "POST", Pattern: "/tokens", Perm: auth.OwnTokens, UI: true, Summary: "Create an API token", handle: s.uiCreateToken},
		{Method: "POST", Pattern: "/tokens/{id}/revoke", Perm: auth.OwnTokens, UI: true, Summary: "Revoke an API token", handle: s.uiRevokeToken},
		{Method: "GET", Pattern: "/ledger", Perm: auth.Read, UI: true, Summary: "Ledger page", handle: s.uiLedger},
		{Method: "POST", Pattern: "/ledger/verify", Perm: auth.Read, UI: true, Summary: "Verify the ledger now", handle: s.uiVerify},
		{Method: "GET", Pattern: "/jobs", Perm: auth.Read, UI: true, Summary: "Scheduled jobs and their runs", handle: s.uiJobs},
	}
}

// page is what every template gets.
type page struct {
	Title string
	Me    *auth.Principal
	CSRF  string
	Data  any
	Error string
	// Refresh reloads the page every so many seconds (a drill running).
	Refresh int
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, p); err != nil {
		s.logger.Error("render", "template", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage shows an error with the navigation when the browser is signed
// in, so that a wrong link is not a dead end.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	pg := page{Title: http.StatusText(status), Error: msg, Data: requestIDOf(r)}
	if r.Header.Get("Authorization") == "" {
		if p, bySession, err := s.principal(r); err == nil && bySession {
			pg.Me, pg.CSRF = &p, p.CSRFToken
		}
	}
	s.render(w, status, "error.html", pg)
}

func (s *Server) uiLogin(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	s.render(w, http.StatusOK, "login.html", page{Title: "Sign in", Data: safeNext(r.URL.Query().Get("next"))})
	return nil
}

// safeNext keeps redirects after sign-in on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/"
	}
	return next
}

func (s *Server) uiLoginPost(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "sign-in form: %v", err)
	}
	next := safeNext(r.PostFormValue("next"))
	p, secret, err := s.app.Auth.SignIn(r.Context(), r.PostFormValue("username"), r.PostFormValue("password"), s.clientIP(r))
	if err != nil {
		code := opsguard.ErrorCode(err)
		if code != opsguard.EUnauthenticated && code != opsguard.ERateLimited {
			return err
		}
		s.render(w, status(code), "login.html", page{Title: "Sign in", Error: opsguard.ErrorMessage(err), Data: next})
		return nil
	}
	s.setSession(w, r, secret)
	if p.Restricted() {
		next = "/account" // a one-time password serves only to choose a new one
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (s *Server) uiLogout(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if c, err := r.Cookie(sessionCookie); err == nil && p.Via == "session" {
		if err := s.app.Auth.SignOut(r.Context(), p, c.Value); err != nil {
			return err
		}
	}
	s.clearSession(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// areaView is one policy area on the dashboard.
type areaView struct {
	control.Area
	Items  []control.Item
	Counts map[string]int
}

type dashboard struct {
	Areas   []areaView
	Totals  map[string]int
	LastRun *control.Run
	CanRun  bool
}

func (s *Server) uiDashboard(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	cat, err := s.app.Controls.Catalog(r.Context())
	if err != nil {
		return err
	}
	d := dashboard{Totals: map[string]int{}, CanRun: p.Can(auth.RunControls)}
	for _, a := range control.Areas {
		av := areaView{Area: a, Counts: map[string]int{}}
		for _, it := range cat {
			if it.Area == a.Code {
				av.Items = append(av.Items, it)
				av.Counts[string(it.Status)]++
				d.Totals[string(it.Status)]++
			}
		}
		d.Areas = append(d.Areas, av)
	}
	if last, ok, err := s.app.Controls.LastRun(r.Context()); err != nil {
		return err
	} else if ok {
		d.LastRun = &last
	}
	s.render(w, http.StatusOK, "dashboard.html", page{Title: "Compliance", Me: &p, CSRF: p.CSRFToken, Data: d})
	return nil
}

func (s *Server) uiRunControls(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if _, err := s.app.Controls.Run(r.Context(), p.Name(), "manual"); err != nil {
		return err
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

type ledgerView struct {
	Head    *ledger.Checkpoint
	Entries []ledger.Entry
	Next    int64 // seq for the older page, 0 when none
	Seals   bool  // the row seals are listed
	Report  *ledger.Report
	Public  string
}

func (s *Server) ledgerView(r *http.Request) (ledgerView, error) {
	var v ledgerView
	before, err := intParam(r, "before", 0)
	if err != nil {
		return v, err
	}
	cp, ok, err := s.app.Head(r.Context())
	if err != nil {
		return v, err
	}
	if ok {
		v.Head = &cp
	}
	const pageSize = 50
	// Row seals (an import writes one per part) are shown on request.
	v.Seals = r.URL.Query().Get("seals") == "1"
	if v.Entries, err = s.app.Entries(r.Context(), ledger.EntryFilter{Before: before, Limit: pageSize, NoSeals: !v.Seals}); err != nil {
		return v, err
	}
	if n := len(v.Entries); n == pageSize && v.Entries[n-1].Seq > 1 {
		v.Next = v.Entries[n-1].Seq
	}
	v.Public = s.app.Log.Key().Public
	return v, nil
}

func (s *Server) uiLedger(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	v, err := s.ledgerView(r)
	if err != nil {
		return err
	}
	s.render(w, http.StatusOK, "ledger.html", page{Title: "Ledger", Me: &p, CSRF: p.CSRFToken, Data: v})
	return nil
}

func (s *Server) uiVerify(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	v, err := s.ledgerView(r)
	if err != nil {
		return err
	}
	if v.Report, err = s.app.VerifyLedger(r.Context()); err != nil {
		return err
	}
	s.render(w, http.StatusOK, "ledger.html", page{Title: "Ledger", Me: &p, CSRF: p.CSRFToken, Data: v})
	return nil
}

type controlView struct {
	Control control.Control
	Req     control.Requirement
	History []control.Result
}

func (s *Server) uiControl(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	var v controlView
	found := false
	for _, c := range s.app.Controls.Controls() {
		if c.ID == id {
			v.Control, found = c, true
		}
	}
	if !found {
		return opsguard.Errorf(opsguard.ENotFound, "no control %q", id)
	}
	v.Req, _ = control.RequirementByID(v.Control.Requirement)
	var err error
	if v.History, err = s.app.Controls.History(r.Context(), id, 100); err != nil {
		return err
	}
	s.render(w, http.StatusOK, "control.html", page{Title: v.Control.ID, Me: &p, CSRF: p.CSRFToken, Data: v})
	return nil
}

type usersView struct {
	Users     []auth.User
	Roles     []auth.Role
	CanManage bool
	Flash     string
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, flash, problem string) error {
	us, err := s.app.Auth.ListUsers(r.Context())
	if err != nil {
		return err
	}
	v := usersView{Users: us, Roles: auth.Roles, CanManage: p.Can(auth.ManageUsers), Flash: flash}
	s.render(w, status, "users.html", page{Title: "Users", Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiUsers(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.usersPage(w, r, p, http.StatusOK, "", "")
}

// formError re-renders a page with the message of a user's mistake; other
// errors go to the error page.
func formError(err error, render func(status int, msg string) error) error {
	switch code := opsguard.ErrorCode(err); code {
	case opsguard.EInvalid, opsguard.EConflict, opsguard.EForbidden, opsguard.ENotFound:
		return render(status(code), opsguard.ErrorMessage(err))
	}
	return err
}

func (s *Server) uiCreateUser(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	u, err := s.app.Auth.CreateUser(r.Context(), p, auth.NewUser{Username: r.PostFormValue("username"), DisplayName: r.PostFormValue("display_name"),
		Email: r.PostFormValue("email"), Role: auth.Role(r.PostFormValue("role")), Password: r.PostFormValue("password")})
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.usersPage(w, r, p, st, "", msg) })
	}
	return s.usersPage(w, r, p, http.StatusCreated, "Created "+u.Username+" ("+string(u.Role)+").", "")
}

func (s *Server) uiDisableUser(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	u, err := s.app.Auth.DisableUser(r.Context(), p, r.PathValue("username"))
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.usersPage(w, r, p, st, "", msg) })
	}
	return s.usersPage(w, r, p, http.StatusOK, "Disabled "+u.Username+": their sessions and tokens no longer work.", "")
}

type tokensView struct {
	Tokens    []auth.Token
	Users     []auth.User
	CanCreate bool
	CanManage bool
	Me        string
	NewSecret string
	NewToken  *auth.Token
	Flash     string
}

func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, v tokensView, problem string) error {
	owner := p.User.Username
	if p.Can(auth.ManageUsers) {
		owner = "" // administrators see every token
	}
	var err error
	if v.Tokens, err = s.app.Auth.ListTokens(r.Context(), p, owner); err != nil {
		return err
	}
	if p.Can(auth.ManageUsers) {
		if v.Users, err = s.app.Auth.ListUsers(r.Context()); err != nil {
			return err
		}
	}
	v.CanCreate, v.CanManage, v.Me = p.Can(auth.OwnTokens), p.Can(auth.ManageUsers), p.User.Username
	s.render(w, status, "tokens.html", page{Title: "API tokens", Me: &p, CSRF: p.CSRFToken, Data: v, Error: problem})
	return nil
}

func (s *Server) uiTokens(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	return s.tokensPage(w, r, p, http.StatusOK, tokensView{}, "")
}

func (s *Server) uiCreateToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	days, err := strconv.Atoi(r.PostFormValue("ttl_days"))
	if err != nil || days < 0 {
		days = s.app.Config.Auth.TokenTTLDays
	}
	t, secret, err := s.app.Auth.CreateToken(r.Context(), p, r.PostFormValue("user"), r.PostFormValue("name"), time.Duration(days)*24*time.Hour)
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.tokensPage(w, r, p, st, tokensView{}, msg) })
	}
	return s.tokensPage(w, r, p, http.StatusCreated, tokensView{NewSecret: secret, NewToken: &t}, "")
}

func (s *Server) uiRevokeToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	t, err := s.app.Auth.RevokeToken(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.tokensPage(w, r, p, st, tokensView{}, msg) })
	}
	return s.tokensPage(w, r, p, http.StatusOK, tokensView{Flash: "Revoked " + t.Name + " of " + t.Username + "."}, "")
}

func (s *Server) uiSetRole(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	u, err := s.app.Auth.SetRole(r.Context(), p, r.PathValue("username"), auth.Role(r.PostFormValue("role")))
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.usersPage(w, r, p, st, "", msg) })
	}
	return s.usersPage(w, r, p, http.StatusOK, u.Username+" is now "+string(u.Role)+".", "")
}

func (s *Server) uiResetPassword(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	name := r.PathValue("username")
	pw, err := s.app.Auth.ResetPassword(r.Context(), p, name)
	if err != nil {
		return formError(err, func(st int, msg string) error { return s.usersPage(w, r, p, st, "", msg) })
	}
	return s.usersPage(w, r, p, http.StatusOK, "The password of "+name+" is now the one-time value "+pw+
		" (shown this once): hand it over in person; "+name+" must choose a new one at the next sign-in and is notified of the reset.", "")
}

func (s *Server) uiAccount(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	s.render(w, http.StatusOK, "account.html", page{Title: "Your account", Me: &p, CSRF: p.CSRFToken})
	return nil
}

func (s *Server) uiSetPassword(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if r.PostFormValue("password") != r.PostFormValue("password_again") {
		s.render(w, http.StatusBadRequest, "account.html", page{Title: "Your account", Me: &p, CSRF: p.CSRFToken, Error: "the two new passwords differ"})
		return nil
	}
	err := s.app.Auth.SetPassword(r.Context(), p, p.User.Username, r.PostFormValue("current_password"), r.PostFormValue("password"))
	if err != nil {
		return formError(err, func(st int, msg string) error {
			s.render(w, st, "account.html", page{Title: "Your account", Me: &p, CSRF: p.CSRFToken, Error: msg})
			return nil
		})
	}
	// Every session ended with the old password: sign in again.
	s.clearSession(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// refLink is the page of what a control's result points at, or "" when
// it has none.
func refLink(r control.Ref) string {
	switch r.Kind {
	case "finding":
		return "/findings/" + url.PathEscape(r.ID)
	case "change":
		return "/changes/" + url.PathEscape(r.ID)
	case "ticket":
		return "/tickets/" + url.PathEscape(r.ID)
	case "repository":
		return "/changes?" + url.Values{"repo": {r.ID}}.Encode()
	case "asset":
		return "/findings?" + url.Values{"asset": {r.ID}}.Encode()
	}
	return ""
}

// where is a finding's location, or its package with the version unless
// the package is a purl, which carries it.
func where(location, pkg, version string) string {
	if location != "" {
		return location
	}
	if version != "" && !strings.Contains(pkg, "@") {
		return pkg + " " + version
	}
	return pkg
}
