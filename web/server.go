// Package web is opsguard's HTTP face: the JSON API under /api/v1, the
// server-rendered UI, health and metrics. It translates requests into calls
// on the services of app and answers in one error shape; it holds no
// business rules. Every route names the permission it needs in one table,
// and that table is what the authorisation test walks.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
)

// Handler serves one route for an authenticated principal (the zero
// Principal on public routes). A returned error becomes the error answer.
type Handler func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

// Route is one entry of the route table.
type Route struct {
	Method  string
	Pattern string // http.ServeMux path pattern
	// Perm is the permission the route needs; Public routes need none.
	Perm   auth.Permission
	Public bool
	// UI routes answer in HTML and send the unauthenticated to /login.
	UI      bool
	Summary string
	handle  Handler

	// BeforePasswordChange opens the route to a session signed in with a
	// one-time password too (signing out, reading who one is).
	BeforePasswordChange bool
}

// Server is the HTTP server of one opsguard instance.
type Server struct {
	app     *app.App
	logger  *slog.Logger
	routes  []Route
	mux     *http.ServeMux
	metrics *metrics
	pages   *template.Template
	secure  *bool // Secure attribute on cookies; nil: decide per request
	cop     *http.CrossOriginProtection
	proxies []netip.Prefix // whose X-Forwarded-For is believed
}

// New builds the server and its route table.
func New(a *app.App, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{app: a, logger: logger, mux: http.NewServeMux(), cop: http.NewCrossOriginProtection()}
	s.secure = a.Config.Server.SecureCookies
	for _, p := range a.Config.Server.TrustedProxies {
		if pr, err := config.ParseProxy(p); err == nil { // Validate has refused the others
			s.proxies = append(s.proxies, pr)
		}
	}
	s.metrics = newMetrics(a)
	s.pages = parsePages()
	s.routes = slices.Concat(s.apiRoutes(), s.uiRoutes(), s.notifyRoutes())
	for _, m := range modules {
		s.routes = append(s.routes, m.routes(s)...)
	}
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ui := !strings.HasPrefix(r.URL.Path, "/api/") && r.Method == http.MethodGet
		s.fail(w, r, ui, opsguard.Errorf(opsguard.ENotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	return s
}

// Routes returns the route table (for tests and the OpenAPI check).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Handler returns the whole HTTP handler with its middleware.
func (s *Server) Handler() http.Handler {
	return s.requestID(s.accessLog(s.recoverPanics(s.cop.Handler(s.mux))))
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.app.DB.Ping(ctx); err != nil {
		s.logger.Error("readyz", "err", err)
		writeError(w, r, http.StatusServiceUnavailable, "unavailable", "the database does not answer", nil)
		return
	}
	if err := s.app.LedgerFailed(); err != nil {
		writeError(w, r, http.StatusServiceUnavailable, "ledger_failed", "the ledger failed verification; writes are refused: "+err.Error(), nil)
		return
	}
	body := map[string]any{"status": "ready"}
	if js := s.readyJobs(ctx); js != nil {
		body["jobs"] = js
	}
	writeJSON(w, http.StatusOK, body)
}

const sessionCookie = "opsguard_session"

// principal authenticates a request by bearer token or session cookie.
func (s *Server) principal(r *http.Request) (auth.Principal, bool, error) {
	if p, ok := inProcess(r); ok {
		return p, false, nil
	}
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return auth.Principal{}, false, opsguard.Errorf(opsguard.EUnauthenticated, "the Authorization header must be \"Bearer <token>\"")
		}
		p, err := s.app.Auth.AuthenticateToken(r.Context(), strings.TrimSpace(tok))
		return p, false, err
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return auth.Principal{}, false, opsguard.Errorf(opsguard.EUnauthenticated, "authentication required: sign in or send a bearer token")
	}
	p, err := s.app.Auth.Authenticate(r.Context(), c.Value)
	return p, true, err
}

// presentedCredentials reports whether the request carried a token or a
// session cookie (as opposed to none at all).
func presentedCredentials(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	_, err := r.Cookie(sessionCookie)
	return err == nil
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// wrap enforces the route's rule: authentication, permission, and for
// cookie sessions the anti-forgery token on every unsafe method.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setRoute(r, rt.Method+" "+rt.Pattern)
		if rt.Public {
			if err := rt.handle(w, r, auth.Principal{}); err != nil {
				s.fail(w, r, rt.UI, err)
			}
			return
		}
		p, bySession, err := s.principal(r)
		if err != nil && opsguard.ErrorCode(err) == opsguard.EUnauthenticated && presentedCredentials(r) {
			kind := "token"
			if r.Header.Get("Authorization") == "" {
				kind = "session"
			}
			s.app.Auth.RecordRejected(r.Context(), s.clientIP(r), kind)
		}
		if err != nil {
			if rt.UI && r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.fail(w, r, rt.UI, err)
			return
		}
		setActor(r, p.Name())
		r = r.WithContext(auth.Attribute(r.Context(), p))
		if p.Restricted() && !p.Can(rt.Perm) && !rt.BeforePasswordChange {
			if rt.UI && r.Method == http.MethodGet {
				http.Redirect(w, r, "/account", http.StatusSeeOther)
				return
			}
			s.fail(w, r, rt.UI, &opsguard.Error{Code: opsguard.EForbidden,
				Message: "you signed in with a one-time password: choose a new password first", Details: map[string]any{"must_change_password": true}})
			return
		}
		if !p.Can(rt.Perm) && !(p.Restricted() && rt.BeforePasswordChange) {
			s.app.Auth.RecordDenied(r.Context(), p, rt.Method+" "+rt.Pattern, s.clientIP(r))
			s.fail(w, r, rt.UI, &opsguard.Error{Code: opsguard.EForbidden,
				Message: "your role " + string(p.User.Role) + " may not do this", Details: map[string]any{"needs": string(rt.Perm)}})
			return
		}
		if bySession && unsafeMethod(r.Method) && !csrfOK(r, p.CSRFToken) {
			s.fail(w, r, rt.UI, &opsguard.Error{Code: opsguard.EForbidden,
				Message: "missing or wrong CSRF token: send the session's token in the X-CSRF-Token header or the csrf_token form field"})
			return
		}
		if err := rt.handle(w, r, p); err != nil {
			s.fail(w, r, rt.UI, err)
		}
	})
}

func csrfOK(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	ct := r.Header.Get("Content-Type")
	switch {
	case got != "":
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		got = r.PostFormValue("csrf_token")
	case strings.HasPrefix(ct, "multipart/form-data"):
		// Uploads: the form is parsed here (large parts spill to disk) and
		// the handler reads it again for free.
		if r.ParseMultipartForm(32<<20) == nil {
			got = r.PostFormValue("csrf_token")
		}
	}
	return want != "" && len(got) == len(want) && subtleEq(got, want)
}

// statuses maps the error kinds to HTTP statuses; any other is a 500.
var statuses = map[opsguard.Code]int{
	opsguard.EInvalid:         http.StatusBadRequest,
	opsguard.EUnauthenticated: http.StatusUnauthorized,
	opsguard.EForbidden:       http.StatusForbidden,
	opsguard.ENotFound:        http.StatusNotFound,
	opsguard.EConflict:        http.StatusConflict,
	opsguard.ERateLimited:     http.StatusTooManyRequests,
	opsguard.ETooLarge:        http.StatusRequestEntityTooLarge,
}

// status maps an error kind to its HTTP status.
func status(code opsguard.Code) int {
	if st, ok := statuses[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// fail answers err in the error shape (or as an HTML page for the UI).
// Internal errors are logged with the request id and hidden from the client.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, ui bool, err error) {
	code := opsguard.ErrorCode(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		code, err = opsguard.ETooLarge, opsguard.Errorf(opsguard.ETooLarge, "request body is larger than %d bytes", mbe.Limit)
	}
	st := status(code)
	if code == opsguard.EInternal {
		s.logger.Error("request failed", "request_id", requestIDOf(r), "route", routeOf(r), "err", err)
	}
	var details map[string]any
	var oe *opsguard.Error
	if errors.As(err, &oe) {
		details = oe.Details
	}
	if secs, ok := details["retry_after_seconds"].(int); ok && code == opsguard.ERateLimited {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	if ui {
		s.errorPage(w, r, st, opsguard.ErrorMessage(err))
		return
	}
	writeError(w, r, st, string(code), opsguard.ErrorMessage(err), details)
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
