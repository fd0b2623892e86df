package web

import (
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	_ "embed"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
)

//go:embed openapi.json
var openAPI []byte

func (s *Server) apiRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/v1/session", Public: true, Summary: "Sign in with a password; sets the session cookie", handle: s.apiSignIn},
		{Method: "DELETE", Pattern: "/api/v1/session", Perm: auth.Read, BeforePasswordChange: true, Summary: "Sign out", handle: s.apiSignOut},
		{Method: "GET", Pattern: "/api/v1/me", Perm: auth.Read, BeforePasswordChange: true, Summary: "The signed-in user", handle: s.apiMe},
		{Method: "GET", Pattern: "/api/v1/openapi.json", Perm: auth.Read, Summary: "This API's OpenAPI document", handle: s.apiOpenAPI},
		{Method: "GET", Pattern: "/api/v1/config", Perm: auth.Read, Summary: "The process config in force", handle: s.apiConfig},

		{Method: "GET", Pattern: "/api/v1/users", Perm: auth.Read, Summary: "List users", handle: s.apiUsers},
		{Method: "POST", Pattern: "/api/v1/users", Perm: auth.ManageUsers, Summary: "Create a user", handle: s.apiCreateUser},
		{Method: "POST", Pattern: "/api/v1/users/{username}/disable", Perm: auth.ManageUsers, Summary: "Disable a user", handle: s.apiDisableUser},
		{Method: "POST", Pattern: "/api/v1/users/{username}/role", Perm: auth.ManageUsers, Summary: "Give a user another role", handle: s.apiSetRole},
		{Method: "POST", Pattern: "/api/v1/users/{username}/password", Perm: auth.OwnAccount, Summary: "Change your own password, given the current one", handle: s.apiSetPassword},
		{Method: "POST", Pattern: "/api/v1/users/{username}/password/reset", Perm: auth.ManageUsers, Summary: "Reset another user's password to a one-time value, shown once, that they must change at the next sign-in", handle: s.apiResetPassword},

		{Method: "GET", Pattern: "/api/v1/tokens", Perm: auth.Read, Summary: "List API tokens (never their secrets)", handle: s.apiTokens},
		{Method: "POST", Pattern: "/api/v1/tokens", Perm: auth.OwnTokens, Summary: "Create an API token; the secret is shown once", handle: s.apiCreateToken},
		{Method: "DELETE", Pattern: "/api/v1/tokens/{id}", Perm: auth.OwnTokens, Summary: "Revoke an API token", handle: s.apiRevokeToken},

		{Method: "GET", Pattern: "/api/v1/catalog", Perm: auth.Read, Summary: "Every requirement of the policy with its controls' latest results", handle: s.apiCatalog},
		{Method: "GET", Pattern: "/api/v1/controls", Perm: auth.Read, Summary: "Registered controls", handle: s.apiControls},
		{Method: "GET", Pattern: "/api/v1/controls/{id}/history", Perm: auth.Read, Summary: "Results of one control, newest first", handle: s.apiControlHistory},
		{Method: "POST", Pattern: "/api/v1/controls/runs", Perm: auth.RunControls, Summary: "Run every control now", handle: s.apiRunControls},

		{Method: "GET", Pattern: "/api/v1/ledger/checkpoint", Perm: auth.Read, Summary: "The newest signed checkpoint", handle: s.apiCheckpoint},
		{Method: "GET", Pattern: "/api/v1/ledger/entries", Perm: auth.Read, Summary: "Ledger entries, newest first", handle: s.apiEntries},
		{Method: "GET", Pattern: "/api/v1/ledger/entries/{seq}", Perm: auth.Read, Summary: "One ledger entry", handle: s.apiEntry},
		{Method: "POST", Pattern: "/api/v1/ledger/verify", Perm: auth.Read, Summary: "Verify the whole ledger now", handle: s.apiVerify},
		{Method: "GET", Pattern: "/api/v1/ledger/proof/inclusion", Perm: auth.Read, Summary: "Inclusion proof of an entry in a checkpoint", handle: s.apiInclusion},
		{Method: "GET", Pattern: "/api/v1/ledger/proof/consistency", Perm: auth.Read, Summary: "Consistency proof between two checkpoints", handle: s.apiConsistency},
		{Method: "GET", Pattern: "/api/v1/ledger/evidence/{sha256}", Perm: auth.Read, Summary: "An evidence file by its SHA-256", handle: s.apiEvidence},
		{Method: "GET", Pattern: "/api/v1/ledger/export", Perm: auth.Read, Summary: "The whole ledger, verifiable offline", handle: s.apiExport},

		{Method: "GET", Pattern: "/metrics", Perm: auth.Read, Summary: "Prometheus metrics", handle: s.serveMetrics},
	}
}

type signInRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type meResponse struct {
	User      auth.User `json:"user"`
	Via       string    `json:"via"`
	CSRFToken string    `json:"csrf_token,omitempty"`
}

func (s *Server) setSession(w http.ResponseWriter, r *http.Request, secret string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true, Secure: s.secureCookie(r),
		SameSite: http.SameSiteLaxMode, MaxAge: int(s.app.Config.Auth.SessionTTL / time.Second)})
}

func (s *Server) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secureCookie(r), SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// secureCookie decides the cookie's Secure attribute: the config's choice,
// else Secure unless the request is plain HTTP to a loopback host.
func (s *Server) secureCookie(r *http.Request) bool {
	if s.secure != nil {
		return *s.secure
	}
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip == nil || !ip.IsLoopback()
}

func (s *Server) apiSignIn(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	var req signInRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	p, secret, err := s.app.Auth.SignIn(r.Context(), req.Username, req.Password, s.clientIP(r))
	if err != nil {
		return err
	}
	s.setSession(w, r, secret)
	writeJSON(w, http.StatusOK, meResponse{User: p.User, Via: p.Via, CSRFToken: p.CSRFToken})
	return nil
}

func (s *Server) apiSignOut(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	if c, err := r.Cookie(sessionCookie); err == nil && p.Via == "session" {
		if err := s.app.Auth.SignOut(r.Context(), p, c.Value); err != nil {
			return err
		}
	}
	s.clearSession(w, r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	writeJSON(w, http.StatusOK, meResponse{User: p.User, Via: p.Via, CSRFToken: p.CSRFToken})
	return nil
}

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
	return nil
}

func (s *Server) apiConfig(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	cfg := s.app.Config
	if cfg.Server.Database != "" {
		cfg.Server.Database = "postgres://…" // may hold a password
	}
	writeJSON(w, http.StatusOK, cfg)
	return nil
}

type list[T any] struct {
	Items []T `json:"items"`
}

func items[T any](xs []T) list[T] {
	if xs == nil {
		xs = []T{}
	}
	return list[T]{Items: xs}
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	us, err := s.app.Auth.ListUsers(r.Context())
	return answer(w, http.StatusOK, items(us), err)
}

type createUserRequest struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email"`
	Role        string `json:"role"`
	Password    string `json:"password"`
}

func (s *Server) apiCreateUser(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req createUserRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	u, err := s.app.Auth.CreateUser(r.Context(), p, auth.NewUser{Username: req.Username, DisplayName: req.DisplayName,
		Email: req.Email, Role: auth.Role(req.Role), Password: req.Password})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (s *Server) apiDisableUser(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	u, err := s.app.Auth.DisableUser(r.Context(), p, r.PathValue("username"))
	return answer(w, http.StatusOK, u, err)
}

type setRoleRequest struct {
	Role string `json:"role"`
}

func (s *Server) apiSetRole(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req setRoleRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	u, err := s.app.Auth.SetRole(r.Context(), p, r.PathValue("username"), auth.Role(req.Role))
	return answer(w, http.StatusOK, u, err)
}

type setPasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	Password        string `json:"password"`
}

func (s *Server) apiSetPassword(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req setPasswordRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := s.app.Auth.SetPassword(r.Context(), p, r.PathValue("username"), req.CurrentPassword, req.Password); err != nil {
		return err
	}
	if p.Via == "session" && p.User.Username == r.PathValue("username") {
		s.clearSession(w, r) // the change ended this session too
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type resetPasswordResponse struct {
	Username        string `json:"username"`
	OneTimePassword string `json:"one_time_password"`
}

func (s *Server) apiResetPassword(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	pw, err := s.app.Auth.ResetPassword(r.Context(), p, r.PathValue("username"))
	return answer(w, http.StatusOK, resetPasswordResponse{Username: r.PathValue("username"), OneTimePassword: pw}, err)
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	ts, err := s.app.Auth.ListTokens(r.Context(), p, r.URL.Query().Get("user"))
	return answer(w, http.StatusOK, items(ts), err)
}

type createTokenRequest struct {
	Name    string `json:"name"`
	User    string `json:"user,omitempty"`
	TTLDays int    `json:"ttl_days,omitempty"`
}

type createTokenResponse struct {
	Token  auth.Token `json:"token"`
	Secret string     `json:"secret"`
}

func (s *Server) apiCreateToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req createTokenRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.TTLDays < 0 {
		return &opsguard.Error{Code: opsguard.EInvalid, Message: "ttl_days must not be negative", Details: map[string]any{"field": "ttl_days"}}
	}
	t, secret, err := s.app.Auth.CreateToken(r.Context(), p, req.User, req.Name, time.Duration(req.TTLDays)*24*time.Hour)
	return answer(w, http.StatusCreated, createTokenResponse{Token: t, Secret: secret}, err)
}

func (s *Server) apiRevokeToken(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	t, err := s.app.Auth.RevokeToken(r.Context(), p, r.PathValue("id"))
	return answer(w, http.StatusOK, t, err)
}

func (s *Server) apiCatalog(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	cat, err := s.app.Controls.Catalog(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Areas []control.Area `json:"areas"`
		Items []control.Item `json:"items"`
		Count map[string]int `json:"counts"`
	}{control.Areas, cat, countStatuses(cat)})
	return nil
}

func countStatuses(cat []control.Item) map[string]int {
	c := map[string]int{}
	for _, it := range cat {
		c[string(it.Status)]++
	}
	return c
}

type controlInfo struct {
	ID          string `json:"id"`
	Requirement string `json:"requirement"`
	Title       string `json:"title"`
}

func (s *Server) apiControls(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	var out []controlInfo
	for _, c := range s.app.Controls.Controls() {
		out = append(out, controlInfo{c.ID, c.Requirement, c.Title})
	}
	writeJSON(w, http.StatusOK, items(out))
	return nil
}

func (s *Server) apiControlHistory(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	h, err := s.app.Controls.History(r.Context(), r.PathValue("id"), limit)
	return answer(w, http.StatusOK, items(h), err)
}

func (s *Server) apiRunControls(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	run, err := s.app.Controls.Run(r.Context(), p.Name(), "manual")
	return answer(w, http.StatusCreated, run, err)
}

type checkpointResponse struct {
	Size      int64     `json:"size"`
	RootHash  string    `json:"root_hash"`
	Note      string    `json:"note"`
	Time      time.Time `json:"time"`
	PublicKey string    `json:"public_key"`
}

func (s *Server) apiCheckpoint(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	cp, ok, err := s.app.Head(r.Context())
	if err != nil {
		return err
	}
	if !ok {
		return opsguard.Errorf(opsguard.ENotFound, "the ledger is empty")
	}
	if p.Via == "cli" {
		// The operator at the data directory publishes it again (file
		// beside the key, witness); a network caller only reads it.
		s.app.Log.Publish(r.Context(), cp)
	}
	writeJSON(w, http.StatusOK, checkpointResponse{cp.Size, hex.EncodeToString(cp.Root), string(cp.Note), cp.Time, s.app.Log.Key().Public})
	return nil
}

func (s *Server) apiEntries(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	before, err := intParam(r, "before", 0)
	if err != nil {
		return err
	}
	limit, err := limitParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	es, err := s.app.Entries(r.Context(), ledger.EntryFilter{Kind: q.Get("kind"), Subject: q.Get("subject"), Actor: q.Get("actor"), Before: before, Limit: limit})
	return answer(w, http.StatusOK, items(es), err)
}

func pathInt(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n < 1 {
		return 0, opsguard.Errorf(opsguard.EInvalid, "%s must be a positive integer, got %q", name, r.PathValue(name))
	}
	return n, nil
}

func (s *Server) apiEntry(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	seq, err := pathInt(r, "seq")
	if err != nil {
		return err
	}
	e, err := s.app.Entry(r.Context(), seq)
	return answer(w, http.StatusOK, e, err)
}

func (s *Server) apiVerify(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	rep, err := s.app.VerifyLedger(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		OK bool `json:"ok"`
		*ledgerReport
	}{rep.OK(), rep})
	return nil
}

func (s *Server) apiInclusion(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	seq, err := requiredIntParam(r, "seq")
	if err != nil {
		return err
	}
	size, err := intParam(r, "size", 0)
	if err != nil {
		return err
	}
	p, err := s.app.Inclusion(r.Context(), seq, size)
	return answer(w, http.StatusOK, p, err)
}

func (s *Server) apiConsistency(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	from, err := requiredIntParam(r, "from")
	if err != nil {
		return err
	}
	to, err := intParam(r, "to", 0)
	if err != nil {
		return err
	}
	p, err := s.app.Consistency(r.Context(), from, to)
	return answer(w, http.StatusOK, p, err)
}

func (s *Server) apiEvidence(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	sha := strings.TrimPrefix(r.PathValue("sha256"), "sha256:")
	if len(sha) != 64 {
		return opsguard.Errorf(opsguard.EInvalid, "evidence is named by the 64 hex digits of its SHA-256")
	}
	b, err := s.app.Evidence(r.Context(), sha)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", b.MediaType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", "attachment")
	w.Write(b.Content)
	return nil
}

func (s *Server) apiExport(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	x, err := s.app.ExportLedger(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="opsguard-ledger.json"`)
	writeJSON(w, http.StatusOK, x)
	return nil
}

// remoteIP is the address of the connection's peer, without the port
// (the client itself, or a proxy: see clientIP).
func remoteIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
