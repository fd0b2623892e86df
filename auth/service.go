package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/id"
	"github.com/opsguard/opsguard/ledger"
)

// Tx is what the service needs from a store transaction.
type Tx interface {
	ledger.Tx
	InsertUser(ctx context.Context, u User, passwordHash string) error
	UserByName(ctx context.Context, username string) (User, string, error)
	UserByID(ctx context.Context, id string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	SetUserDisabled(ctx context.Context, id string, at time.Time) error
	SetUserPassword(ctx context.Context, id, hash string, mustChange bool) error
	SetUserRole(ctx context.Context, id string, r Role) error
	// EndUserSessions ends every open session of a user.
	EndUserSessions(ctx context.Context, userID string, at time.Time) (int64, error)
	InsertToken(ctx context.Context, t Token, secretHash []byte) error
	TokenByID(ctx context.Context, id string) (Token, []byte, error)
	ListTokens(ctx context.Context, userID string) ([]Token, error)
	SetTokenRevoked(ctx context.Context, id string, at time.Time) error
	InsertSession(ctx context.Context, s Session) error
	SessionByHash(ctx context.Context, hash []byte) (Session, error)
	EndSession(ctx context.Context, hash []byte, at time.Time) error
	// SignInFailures counts the failures of keys in windows started at or after since.
	SignInFailures(ctx context.Context, keys []string, since time.Time) (map[string]int, error)
	// AddSignInFailure counts a failure of each key; a window started before since starts anew.
	AddSignInFailure(ctx context.Context, keys []string, at, since time.Time) error
	ClearSignInFailures(ctx context.Context, keys []string) error
	// MarkSignInRefused marks key refused at at; true when it was not since since.
	MarkSignInRefused(ctx context.Context, key string, at, since time.Time) (bool, error)
	// LedgerSubjects maps each subject with an entry of kind to its first seq.
	LedgerSubjects(ctx context.Context, kind string) (map[string]int64, error)
}

// Store runs transactions.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Notifier tells a user of something done to their account (a password
// reset), besides the channels routed for the kind. It queues the notice in
// the transaction of the change (the app writes it to its outbox), so the
// notice exists exactly when the change does.
type Notifier interface {
	NotifyUser(ctx context.Context, tx Tx, u User, kind, summary string, data map[string]any) error
}

// Options tune the service.
type Options struct {
	SessionTTL time.Duration
	// MaxFailedSignIns is the limit per (user name, address) in a window;
	// MaxFailedSignInsPerUser (default 4×) per user name from anywhere,
	// MaxFailedSignInsPerAddress (default 100) per address for any names.
	MaxFailedSignIns           int
	MaxFailedSignInsPerUser    int
	MaxFailedSignInsPerAddress int
	SignInWindow               time.Duration
	Notifier                   Notifier
	TokenTTL                   time.Duration // default lifetime of a token; 0 means none
	Argon2                     Argon2Params
	Now                        func() time.Time
	Logger                     *slog.Logger
}

// Service manages users, tokens and sessions; every change is ledgered.
type Service struct {
	store Store
	log   *ledger.Log
	opts  Options
}

// NewService returns the service over store and log.
func NewService(store Store, log *ledger.Log, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Argon2 == (Argon2Params{}) {
		opts.Argon2 = DefaultArgon2
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.MaxFailedSignIns == 0 {
		opts.MaxFailedSignIns = 5
	}
	if opts.MaxFailedSignInsPerUser == 0 {
		opts.MaxFailedSignInsPerUser = 4 * opts.MaxFailedSignIns
	}
	if opts.MaxFailedSignInsPerAddress == 0 {
		opts.MaxFailedSignInsPerAddress = 100
	}
	if opts.SignInWindow == 0 {
		opts.SignInWindow = 15 * time.Minute
	}
	return &Service{store: store, log: log, opts: opts}
}

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)

// NewUser is the input of CreateUser.
type NewUser struct {
	Username    string
	DisplayName string
	Email       string
	Role        Role
	Password    string
}

func (n NewUser) validate() error {
	if !usernameRE.MatchString(n.Username) {
		return &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("username %q: use 2 to 64 lower-case letters, digits, '.', '_' or '-'", n.Username), Details: map[string]any{"field": "username"}}
	}
	if _, err := ParseRole(string(n.Role)); err != nil {
		return &opsguard.Error{Code: opsguard.EInvalid, Message: err.Error(), Details: map[string]any{"field": "role"}}
	}
	if err := checkNewPassword(n.Password); err != nil {
		return err
	}
	if strings.ContainsAny(n.DisplayName+n.Email, "\n\r") {
		return opsguard.Errorf(opsguard.EInvalid, "display name and email must be one line")
	}
	return nil
}

// CreateUser adds a user. Only an administrator may.
func (s *Service) CreateUser(ctx context.Context, by Principal, n NewUser) (User, error) {
	if !by.Can(ManageUsers) {
		return User{}, opsguard.Errorf(opsguard.EForbidden, "only an administrator may create users")
	}
	if err := n.validate(); err != nil {
		return User{}, err
	}
	u := User{ID: id.New("usr"), Username: n.Username, DisplayName: n.DisplayName, Email: n.Email, Role: n.Role,
		CreatedAt: s.now(), CreatedBy: by.Name()}
	if u.DisplayName == "" {
		u.DisplayName = u.Username
	}
	hash := HashPassword(n.Password, s.opts.Argon2)
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, _, err := tx.UserByName(ctx, u.Username); err == nil {
			return opsguard.Errorf(opsguard.EConflict, "user %q already exists", u.Username)
		} else if opsguard.ErrorCode(err) != opsguard.ENotFound {
			return err
		}
		if err := tx.InsertUser(ctx, u, hash); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: by.Name(), Kind: "user.created", Subject: "user/" + u.ID,
			Payload: map[string]any{"username": u.Username, "display_name": u.DisplayName, "email": u.Email, "role": u.Role}})
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", n.Username, err)
	}
	return u, nil
}

// DisableUser stops a user from signing in; their sessions and tokens stop
// working at once. The last active administrator cannot be disabled.
func (s *Service) DisableUser(ctx context.Context, by Principal, username string) (User, error) {
	if !by.Can(ManageUsers) {
		return User{}, opsguard.Errorf(opsguard.EForbidden, "only an administrator may disable users")
	}
	var u User
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if u, err = activeUser(ctx, tx, username, "already disabled"); err != nil {
			return err
		}
		if u.Role == Admin {
			if err := s.keepOneAdmin(ctx, tx, username); err != nil {
				return err
			}
		}
		at := s.now()
		if err := tx.SetUserDisabled(ctx, u.ID, at); err != nil {
			return err
		}
		u.DisabledAt = &at
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name(), Kind: "user.disabled", Subject: "user/" + u.ID,
			Payload: map[string]any{"username": u.Username}})
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("disable user %s: %w", username, err)
	}
	return u, nil
}

// activeUser reads a user who must be active: a disabled one is a
// conflict, said as "user NAME is <disabled>".
func activeUser(ctx context.Context, tx Tx, username, disabled string) (User, error) {
	u, _, err := tx.UserByName(ctx, username)
	if err != nil {
		return User{}, err
	}
	if !u.Active() {
		return User{}, opsguard.Errorf(opsguard.EConflict, "user %q is %s", username, disabled)
	}
	return u, nil
}

// SetPassword changes the principal's own password, given the current
// one (or the one-time value of a reset). Every open session of the user
// ends, so a stolen session dies with the old password. Nobody sets
// another's password: an administrator resets it (ResetPassword).
func (s *Service) SetPassword(ctx context.Context, by Principal, username, current, password string) error {
	if by.User.Username != username || by.Via == "cli" || !by.Can(OwnAccount) {
		msg := "you may change only your own password"
		if by.User.Role.Can(ManageUsers) {
			msg += "; an administrator resets another user's password to a one-time value instead"
		}
		return opsguard.Errorf(opsguard.EForbidden, "%s", msg)
	}
	if err := checkNewPassword(password); err != nil {
		return err
	}
	var u User
	var old string
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		u, old, err = tx.UserByName(ctx, username)
		return err
	})
	if err != nil {
		return fmt.Errorf("set password of %s: %w", username, err)
	}
	if ok, err := CheckPassword(old, current); err != nil {
		return err
	} else if !ok {
		s.record(ctx, failureEvent(username, "", "wrong current password on a password change"))
		return &opsguard.Error{Code: opsguard.EForbidden, Message: "the current password is wrong", Details: map[string]any{"field": "current_password"}}
	}
	if current == password {
		return &opsguard.Error{Code: opsguard.EInvalid, Message: "the new password must differ from the current one", Details: map[string]any{"field": "password"}}
	}
	hash := HashPassword(password, s.opts.Argon2)
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.SetUserPassword(ctx, u.ID, hash, false); err != nil {
			return err
		}
		ended, err := tx.EndUserSessions(ctx, u.ID, s.now())
		if err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name(), Kind: "user.password_changed", Subject: "user/" + u.ID,
			Payload: map[string]any{"username": u.Username, "by_self": true, "after_reset": u.MustChangePassword, "sessions_ended": ended}})
		return err
	})
	if err != nil {
		return fmt.Errorf("set password of %s: %w", username, err)
	}
	return nil
}

func checkNewPassword(password string) error {
	if len(password) < MinPasswordLength {
		return &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("password must have at least %d characters", MinPasswordLength), Details: map[string]any{"field": "password"}}
	}
	return nil
}

// ResetPassword gives another user a one-time password, returned to be
// handed over once. Signed in with it, the user may do nothing but choose
// a new password, so the administrator who knows it never holds a working
// credential of the user unnoticed: the reset is ledgered, the user's
// sessions end, and the user is notified.
func (s *Service) ResetPassword(ctx context.Context, by Principal, username string) (string, error) {
	if !by.Can(ManageUsers) {
		return "", opsguard.Errorf(opsguard.EForbidden, "only an administrator may reset passwords")
	}
	if by.User.Username == username && by.Via != "cli" {
		return "", opsguard.Errorf(opsguard.EForbidden, "change your own password with the current one, not by a reset")
	}
	oneTime := GeneratePassword()
	hash := HashPassword(oneTime, s.opts.Argon2)
	var u User
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if u, err = activeUser(ctx, tx, username, "disabled"); err != nil {
			return err
		}
		if err := tx.SetUserPassword(ctx, u.ID, hash, true); err != nil {
			return err
		}
		ended, err := tx.EndUserSessions(ctx, u.ID, s.now())
		if err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name(), Kind: "user.password_reset", Subject: "user/" + u.ID,
			Payload: map[string]any{"username": u.Username, "must_change": true, "sessions_ended": ended, "notified": u.Email}})
		if err != nil || s.opts.Notifier == nil {
			return err
		}
		return s.opts.Notifier.NotifyUser(ctx, tx, u, "auth.password_reset",
			fmt.Sprintf("The password of %s was reset by %s; if you did not ask for it, tell your security officer.", u.Username, by.Name()),
			map[string]any{"username": u.Username, "by": by.Name(), "time": s.now().Format(time.RFC3339)})
	})
	if err != nil {
		return "", fmt.Errorf("reset password of %s: %w", username, err)
	}
	return oneTime, nil
}

// SetRole gives a user another role. Only an administrator may, and the
// last active administrator keeps the role.
func (s *Service) SetRole(ctx context.Context, by Principal, username string, role Role) (User, error) {
	if !by.Can(ManageUsers) {
		return User{}, opsguard.Errorf(opsguard.EForbidden, "only an administrator may change roles")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, &opsguard.Error{Code: opsguard.EInvalid, Message: err.Error(), Details: map[string]any{"field": "role"}}
	}
	var u User
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if u, _, err = tx.UserByName(ctx, username); err != nil {
			return err
		}
		if u.Role == role {
			return opsguard.Errorf(opsguard.EConflict, "%s already has the role %s", username, role)
		}
		if u.Role == Admin && u.Active() {
			if err := s.keepOneAdmin(ctx, tx, username); err != nil {
				return err
			}
		}
		old := u.Role
		if err := tx.SetUserRole(ctx, u.ID, role); err != nil {
			return err
		}
		u.Role = role
		if _, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name(), Kind: "user.role_changed", Subject: "user/" + u.ID,
			Payload: map[string]any{"username": u.Username, "from": old, "to": role}}); err != nil {
			return err
		}
		if old == Agent {
			return s.revokeOthersTokens(ctx, tx, by, u)
		}
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("set role of %s: %w", username, err)
	}
	return u, nil
}

// revokeOthersTokens revokes the tokens of u, an agent until now: an
// agent's tokens are made by an administrator (agents make none), who
// must not keep them when the agent becomes a user of another role.
func (s *Service) revokeOthersTokens(ctx context.Context, tx Tx, by Principal, u User) error {
	ts, err := tx.ListTokens(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.RevokedAt != nil {
			continue
		}
		if err := tx.SetTokenRevoked(ctx, t.ID, s.now()); err != nil {
			return err
		}
		if _, err := s.log.Append(ctx, tx, ledger.Event{Actor: by.Name(), Kind: "token.revoked", Subject: "token/" + t.ID,
			Payload: map[string]any{"user": t.Username, "name": t.Name, "reason": "its agent became a " + string(u.Role)}}); err != nil {
			return err
		}
	}
	return nil
}

// keepOneAdmin refuses a change that would leave no active administrator.
func (s *Service) keepOneAdmin(ctx context.Context, tx Tx, username string) error {
	users, err := tx.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, o := range users {
		if o.Role == Admin && o.Active() && o.Username != username {
			return nil
		}
	}
	return opsguard.Errorf(opsguard.EConflict, "%q is the last active administrator", username)
}

// ListUsers returns every user.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		users, err = tx.ListUsers(ctx)
		return err
	})
	return users, err
}

// HasUsers reports whether any user exists (first-run detection).
func (s *Service) HasUsers(ctx context.Context) (bool, error) {
	users, err := s.ListUsers(ctx)
	return len(users) > 0, err
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// randomSecret returns n random bytes, URL-safe base64.
func randomSecret(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// credentialError maps a missing token, session or user to the one
// unauthenticated answer, and keeps every other error (the database down).
func credentialError(err error) error {
	if c := opsguard.ErrorCode(err); err != nil && (c == opsguard.ENotFound || c == opsguard.EUnauthenticated) {
		return errUnauthenticated
	}
	return err
}

// errUnauthenticated is the one answer to every bad credential, so that a
// caller learns nothing about which part was wrong.
var errUnauthenticated = opsguard.Errorf(opsguard.EUnauthenticated, "authentication required: the credentials are missing, wrong, expired or revoked")

// Token secrets are "<token id>.<secret>": the id finds the row, the
// secret is compared in constant time against its stored hash.
func splitToken(bearer string) (string, string, bool) {
	id, secret, ok := strings.Cut(bearer, ".")
	if !ok || !strings.HasPrefix(id, "tok_") || len(id) != 36 || len(secret) < 32 {
		return "", "", false
	}
	if _, err := hex.DecodeString(id[4:]); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// CreateToken makes an API token for the user named owner and returns the
// secret, shown this once. Users make their own tokens; an administrator
// (or the local command line) makes them only for agents (hosts,
// pipelines): whoever holds a token acts as its user, and one person
// holding a security officer's token and an admin's would make the
// segregation of duties void.
func (s *Service) CreateToken(ctx context.Context, by Principal, owner, name string, ttl time.Duration) (Token, string, error) {
	if owner == "" {
		owner = by.User.Username
	}
	own := by.Can(OwnTokens) && owner == by.User.Username && by.Via != "cli"
	if !own && !by.Can(ManageUsers) {
		return Token{}, "", opsguard.Errorf(opsguard.EForbidden, "you may create tokens only for yourself")
	}
	if name == "" || len(name) > 100 || strings.ContainsAny(name, "\n\r") {
		return Token{}, "", &opsguard.Error{Code: opsguard.EInvalid, Message: "a token needs a one-line name of at most 100 characters", Details: map[string]any{"field": "name"}}
	}
	if ttl == 0 {
		ttl = s.opts.TokenTTL
	}
	if ttl < 0 {
		return Token{}, "", opsguard.Errorf(opsguard.EInvalid, "token lifetime must not be negative")
	}
	t := Token{ID: id.New("tok"), Name: name, CreatedAt: s.now(), CreatedBy: by.Name()}
	if ttl > 0 {
		exp := t.CreatedAt.Add(ttl)
		t.ExpiresAt = &exp
	}
	secret := t.ID + "." + randomSecret(32)
	err := s.store.Update(ctx, func(tx Tx) error {
		u, _, err := tx.UserByName(ctx, owner)
		if err != nil {
			return err
		}
		if !own && u.Role != Agent {
			return opsguard.Errorf(opsguard.EForbidden, "a token for %s (%s) can be created only by %s: an administrator creates tokens only for agents", owner, u.Role, owner)
		}
		if !u.Active() {
			return opsguard.Errorf(opsguard.EConflict, "user %q is disabled", owner)
		}
		t.UserID, t.Username = u.ID, u.Username
		if err := tx.InsertToken(ctx, t, hashSecret(secret)); err != nil {
			return err
		}
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name(), Kind: "token.created", Subject: "token/" + t.ID,
			Payload: map[string]any{"user": u.Username, "role": u.Role, "name": t.Name, "expires_at": t.ExpiresAt}})
		return err
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("create token for %s: %w", owner, err)
	}
	return t, secret, nil
}

// RevokeToken ends a token at once. Owners revoke their own; an
// administrator revokes any.
func (s *Service) RevokeToken(ctx context.Context, by Principal, tokenID string) (Token, error) {
	var t Token
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if t, _, err = tx.TokenByID(ctx, tokenID); err != nil {
			return err
		}
		if !by.Can(ManageUsers) && !(by.Can(OwnTokens) && t.UserID == by.User.ID) {
			return opsguard.Errorf(opsguard.EForbidden, "you may revoke only your own tokens")
		}
		if t.RevokedAt != nil {
			return opsguard.Errorf(opsguard.EConflict, "token %s is already revoked", tokenID)
		}
		at := s.now()
		if err := tx.SetTokenRevoked(ctx, t.ID, at); err != nil {
			return err
		}
		t.RevokedAt = &at
		_, err = s.log.Append(ctx, tx, ledger.Event{Actor: by.Name(), Kind: "token.revoked", Subject: "token/" + t.ID,
			Payload: map[string]any{"user": t.Username, "name": t.Name}})
		return err
	})
	if err != nil {
		return Token{}, fmt.Errorf("revoke token %s: %w", tokenID, err)
	}
	return t, nil
}

// ListTokens returns the tokens (never their secrets) of username, or of
// everyone when username is empty.
func (s *Service) ListTokens(ctx context.Context, by Principal, username string) ([]Token, error) {
	if !by.Can(Read) {
		return nil, opsguard.Errorf(opsguard.EForbidden, "listing tokens needs read access")
	}
	var out []Token
	err := s.store.View(ctx, func(tx Tx) error {
		userID := ""
		if username != "" {
			u, _, err := tx.UserByName(ctx, username)
			if err != nil {
				return err
			}
			userID = u.ID
		}
		var err error
		out, err = tx.ListTokens(ctx, userID)
		return err
	})
	return out, err
}

// AuthenticateToken returns the principal of a bearer token. Revocation,
// expiry and a disabled owner take effect on the next request: nothing is
// cached.
func (s *Service) AuthenticateToken(ctx context.Context, bearer string) (Principal, error) {
	tid, _, ok := splitToken(bearer)
	if !ok {
		return Principal{}, errUnauthenticated
	}
	var p Principal
	err := s.store.View(ctx, func(tx Tx) error {
		t, hash, err := tx.TokenByID(ctx, tid)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(hash, hashSecret(bearer)) != 1 || t.RevokedAt != nil ||
			(t.ExpiresAt != nil && !s.opts.Now().Before(*t.ExpiresAt)) {
			return errUnauthenticated
		}
		u, err := tx.UserByID(ctx, t.UserID)
		if err != nil {
			return err
		}
		if !u.Active() {
			return errUnauthenticated
		}
		p = Principal{User: u, Via: "token:" + t.ID}
		return nil
	})
	return p, credentialError(err)
}

// SignIn checks a password and opens a session, returning its secret id.
// Failures are ledgered (LG-1) and, past the limit, refused outright.
func (s *Service) SignIn(ctx context.Context, username, password, remoteAddr string) (Principal, string, error) {
	limits := s.limits(username, remoteAddr)
	if over, err := s.overLimit(ctx, limits); err != nil {
		return Principal{}, "", fmt.Errorf("sign in: %w", err)
	} else if len(over) > 0 {
		s.refuse(ctx, over, username, remoteAddr)
		return Principal{}, "", opsguard.Errorf(opsguard.ERateLimited, "too many failed sign-ins; try again later")
	}
	var u User
	var hash string
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		u, hash, err = tx.UserByName(ctx, username)
		return err
	})
	if err != nil && opsguard.ErrorCode(err) != opsguard.ENotFound {
		return Principal{}, "", err
	}
	ok := false
	if err == nil {
		if ok, err = CheckPassword(hash, password); err != nil {
			return Principal{}, "", err
		}
	} else {
		// Spend the same time on an unknown user as on a wrong password.
		CheckPassword(dummyHash(s.opts.Argon2), password)
	}
	if !ok || !u.Active() {
		reason := "wrong password"
		switch {
		case u.ID == "":
			reason = "unknown user"
		case ok:
			reason = "user disabled"
		}
		s.fail(ctx, limits, username, remoteAddr, reason)
		return Principal{}, "", opsguard.Errorf(opsguard.EUnauthenticated, "wrong user name or password")
	}
	secret := randomSecret(32)
	sess := Session{IDHash: hashSecret(secret), UserID: u.ID, CSRFToken: randomSecret(32), RemoteAddr: remoteAddr,
		CreatedAt: s.now(), ExpiresAt: s.now().Add(s.opts.SessionTTL)}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.InsertSession(ctx, sess); err != nil {
			return err
		}
		// The user's own counts start afresh; the address's stays.
		if err := tx.ClearSignInFailures(ctx, keysOf(limits[:2])); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: u.Username, Kind: "auth.signed_in", Subject: "user/" + u.ID,
			Payload: map[string]any{"remote_addr": remoteAddr, "session": hex.EncodeToString(sess.IDHash[:8]), "must_change_password": u.MustChangePassword}})
		return err
	})
	if err != nil {
		return Principal{}, "", fmt.Errorf("sign in: %w", err)
	}
	return Principal{User: u, Via: "session", CSRFToken: sess.CSRFToken}, secret, nil
}

// record ledgers a security event in a transaction of its own. The request
// it describes fails either way, so a failure to record is logged, loudly.
func (s *Service) record(ctx context.Context, ev ledger.Event) {
	err := s.store.Update(ctx, func(tx Tx) error {
		_, err := s.log.Append(ctx, tx, ev)
		return err
	})
	if err != nil {
		s.opts.Logger.Error("could not ledger a security event", "kind", ev.Kind, "subject", ev.Subject, "err", err)
	}
}

// RecordDenied ledgers an attempt by p at something its role may not do
// (LG-1: unauthorised access attempts).
func (s *Service) RecordDenied(ctx context.Context, p Principal, action, remoteAddr string) {
	s.record(ctx, ledger.Event{Actor: p.Name(), Kind: "auth.denied", Subject: "user/" + p.User.ID,
		Payload: map[string]any{"action": action, "role": p.User.Role, "via": p.Via, "remote_addr": remoteAddr}})
}

// RecordRejected ledgers a request whose token or session was refused (bad,
// expired or revoked), at most once per client address per sign-in window,
// so a client retrying a dead token cannot flood the ledger.
func (s *Service) RecordRejected(ctx context.Context, remoteAddr, credential string) {
	if !s.firstRefusal(ctx, "rejected:"+throttleValue(remoteAddr)) {
		return
	}
	s.record(ctx, ledger.Event{Actor: "anonymous", Kind: "auth.credential_rejected", Subject: "addr/" + remoteAddr,
		Payload: map[string]any{"credential": credential}})
}

// Authenticate returns the principal of a session secret.
func (s *Service) Authenticate(ctx context.Context, sessionSecret string) (Principal, error) {
	if sessionSecret == "" {
		return Principal{}, errUnauthenticated
	}
	var p Principal
	err := s.store.View(ctx, func(tx Tx) error {
		sess, err := tx.SessionByHash(ctx, hashSecret(sessionSecret))
		if err != nil {
			return err
		}
		if sess.EndedAt != nil || !s.opts.Now().Before(sess.ExpiresAt) {
			return errUnauthenticated
		}
		u, err := tx.UserByID(ctx, sess.UserID)
		if err != nil {
			return err
		}
		if !u.Active() {
			return errUnauthenticated
		}
		p = Principal{User: u, Via: "session", CSRFToken: sess.CSRFToken}
		return nil
	})
	return p, credentialError(err)
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, p Principal, sessionSecret string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if err := tx.EndSession(ctx, hashSecret(sessionSecret), s.now()); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, ledger.Event{Actor: p.Name(), Kind: "auth.signed_out", Subject: "user/" + p.User.ID})
		return err
	})
}

var (
	dummyOnce sync.Once
	dummy     string
)

func dummyHash(p Argon2Params) string {
	dummyOnce.Do(func() { dummy = HashPassword(randomSecret(16), p) })
	return dummy
}

// IsUnauthenticated reports whether err means bad or missing credentials.
func IsUnauthenticated(err error) bool {
	var e *opsguard.Error
	return errors.As(err, &e) && e.Code == opsguard.EUnauthenticated
}
