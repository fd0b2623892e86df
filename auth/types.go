package auth

import (
	"context"
	"strings"
	"time"

	"github.com/opsguard/opsguard/ledger"
)

// User is a person (or, with role agent, a machine) known to opsguard.
type User struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	DisplayName string     `json:"display_name"`
	Email       string     `json:"email"`
	Role        Role       `json:"role"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by"`
	DisabledAt  *time.Time `json:"disabled_at,omitempty"`
	// MustChangePassword is set when an administrator reset the password
	// to a one-time value: signed in with it, the user may only change it.
	MustChangePassword bool `json:"must_change_password,omitempty"`
}

// Active reports whether the user may sign in.
func (u User) Active() bool { return u.DisabledAt == nil }

// Token is an API token; its secret is shown once, at creation, and only
// its hash is kept.
type Token struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	Username  string     `json:"username"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Session is a signed-in browser.
type Session struct {
	IDHash     []byte
	UserID     string
	CSRFToken  string
	RemoteAddr string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	EndedAt    *time.Time
}

// Principal is who is making a request: a user, by session or by token, or
// the local command line acting with admin rights on the data directory.
type Principal struct {
	User User
	// Via says how: "session", "token:<id>" or "cli".
	Via string
	// CSRFToken is the session's anti-forgery token (sessions only).
	CSRFToken string
}

// Name is what the ledger records as the actor.
func (p Principal) Name() string {
	if p.Via == "cli" {
		return "cli:" + p.User.Username
	}
	return p.User.Username
}

// Can reports whether the principal's role holds permission perm. A
// session opened with a one-time password may only change it.
func (p Principal) Can(perm Permission) bool {
	if p.Restricted() {
		return perm == OwnAccount
	}
	return p.User.Role.Can(perm)
}

// Restricted reports whether the principal is a session opened with a
// one-time password, good for nothing but choosing a new one.
func (p Principal) Restricted() bool { return p.Via == "session" && p.User.MustChangePassword }

// TokenID is the id of the token the principal acts with, or "".
func (p Principal) TokenID() string {
	id, _ := strings.CutPrefix(p.Via, "token:")
	if id == p.Via {
		return ""
	}
	return id
}

// Attribute returns ctx in which the ledger entries that p's actions make
// name the token p acts with ("so1 via tok_…"), so that the ledger tells
// which credential did what. Sessions and the command line are named by
// the user alone.
func Attribute(ctx context.Context, p Principal) context.Context {
	if id := p.TokenID(); id != "" {
		return ledger.WithCredential(ctx, p.Name(), id)
	}
	return ctx
}

// CLI returns the principal of the local command line run by osUser: whoever
// can read the data directory and the ledger key is its administrator.
func CLI(osUser string) Principal {
	return Principal{User: User{ID: "cli", Username: osUser, Role: Admin}, Via: "cli"}
}
