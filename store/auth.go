package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/auth"
)

// The queries of users, API tokens and sessions. *Tx implements auth.Tx.

var _ auth.Tx = (*Tx)(nil)

const userColumns = "id, username, display_name, email, role, created_at, created_by, disabled_at, must_change_password"

func scanUser(sc row, extra ...any) (auth.User, error) {
	var u auth.User
	var created string
	var disabled sql.NullString
	dest := append([]any{&u.ID, &u.Username, &u.DisplayName, &u.Email, &u.Role, &created, &u.CreatedBy, &disabled, &u.MustChangePassword}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return u, err
	}
	var err error
	if u.CreatedAt, err = parseTS(created); err != nil {
		return u, err
	}
	u.DisabledAt, err = parseNullTS(disabled)
	return u, err
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return err
}

// InsertUser stores a new user.
func (tx *Tx) InsertUser(ctx context.Context, u auth.User, passwordHash string) error {
	_, err := tx.exec(ctx, "INSERT INTO users ("+userColumns+", password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		u.ID, u.Username, u.DisplayName, u.Email, string(u.Role), ts(u.CreatedAt), u.CreatedBy, nullTS(u.DisabledAt), u.MustChangePassword, passwordHash)
	return conflict(err, "user %q already exists", u.Username)
}

// UserByName returns a user and their password hash.
func (tx *Tx) UserByName(ctx context.Context, username string) (auth.User, string, error) {
	var hash string
	u, err := scanUser(tx.queryRow(ctx, "SELECT "+userColumns+", password_hash FROM users WHERE username = ?", username), &hash)
	return u, hash, notFound(err, "user "+username)
}

// UserByID returns a user.
func (tx *Tx) UserByID(ctx context.Context, id string) (auth.User, error) {
	u, err := scanUser(tx.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	return u, notFound(err, "user "+id)
}

// ListUsers returns every user by name.
func (tx *Tx) ListUsers(ctx context.Context) ([]auth.User, error) {
	rows, err := tx.query(ctx, "SELECT "+userColumns+" FROM users ORDER BY username")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetUserDisabled marks a user disabled.
func (tx *Tx) SetUserDisabled(ctx context.Context, id string, at time.Time) error {
	return tx.updateOne(ctx, "user "+id, "UPDATE users SET disabled_at = ? WHERE id = ?", ts(at), id)
}

// SetUserPassword stores a new password hash; mustChange marks it a
// one-time value that serves only to choose a new one.
func (tx *Tx) SetUserPassword(ctx context.Context, id, hash string, mustChange bool) error {
	return tx.updateOne(ctx, "user "+id, "UPDATE users SET password_hash = ?, must_change_password = ? WHERE id = ?", hash, mustChange, id)
}

// SetUserRole changes a user's role.
func (tx *Tx) SetUserRole(ctx context.Context, id string, r auth.Role) error {
	return tx.updateOne(ctx, "user "+id, "UPDATE users SET role = ? WHERE id = ?", string(r), id)
}

// EndUserSessions ends every open session of a user.
func (tx *Tx) EndUserSessions(ctx context.Context, userID string, at time.Time) (int64, error) {
	res, err := tx.exec(ctx, "UPDATE sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL", ts(at), userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (tx *Tx) updateOne(ctx context.Context, what, q string, args ...any) error {
	res, err := tx.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

const tokenColumns = "t.id, t.user_id, u.username, t.name, t.created_at, t.created_by, t.expires_at, t.revoked_at"

func scanToken(sc row, extra ...any) (auth.Token, error) {
	var t auth.Token
	var created string
	var expires, revoked sql.NullString
	if err := sc.Scan(append([]any{&t.ID, &t.UserID, &t.Username, &t.Name, &created, &t.CreatedBy, &expires, &revoked}, extra...)...); err != nil {
		return t, err
	}
	var err error
	if t.CreatedAt, err = parseTS(created); err != nil {
		return t, err
	}
	if t.ExpiresAt, err = parseNullTS(expires); err != nil {
		return t, err
	}
	t.RevokedAt, err = parseNullTS(revoked)
	return t, err
}

// InsertToken stores a new API token's hash.
func (tx *Tx) InsertToken(ctx context.Context, t auth.Token, secretHash []byte) error {
	_, err := tx.exec(ctx, "INSERT INTO api_tokens (id, user_id, name, secret_hash, created_at, created_by, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		t.ID, t.UserID, t.Name, secretHash, ts(t.CreatedAt), t.CreatedBy, nullTS(t.ExpiresAt), nullTS(t.RevokedAt))
	return err
}

// TokenByID returns a token and its secret's hash.
func (tx *Tx) TokenByID(ctx context.Context, id string) (auth.Token, []byte, error) {
	var hash []byte
	t, err := scanToken(tx.queryRow(ctx, "SELECT "+tokenColumns+", t.secret_hash FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?", id), &hash)
	return t, hash, notFound(err, "token "+id)
}

// ListTokens returns the tokens of a user, or every token when userID is empty.
func (tx *Tx) ListTokens(ctx context.Context, userID string) ([]auth.Token, error) {
	q := "SELECT " + tokenColumns + " FROM api_tokens t JOIN users u ON u.id = t.user_id"
	var args []any
	if userID != "" {
		q += " WHERE t.user_id = ?"
		args = append(args, userID)
	}
	rows, err := tx.query(ctx, q+" ORDER BY t.created_at, t.id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []auth.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// SetTokenRevoked marks a token revoked.
func (tx *Tx) SetTokenRevoked(ctx context.Context, id string, at time.Time) error {
	return tx.updateOne(ctx, "token "+id, "UPDATE api_tokens SET revoked_at = ? WHERE id = ?", ts(at), id)
}

// InsertSession stores a new session.
func (tx *Tx) InsertSession(ctx context.Context, s auth.Session) error {
	_, err := tx.exec(ctx, "INSERT INTO sessions (id_hash, user_id, csrf_token, remote_addr, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
		s.IDHash, s.UserID, s.CSRFToken, s.RemoteAddr, ts(s.CreatedAt), ts(s.ExpiresAt))
	return err
}

// SessionByHash returns the session whose id hashes to hash.
func (tx *Tx) SessionByHash(ctx context.Context, hash []byte) (auth.Session, error) {
	s := auth.Session{IDHash: hash}
	var created, expires string
	var ended sql.NullString
	err := tx.queryRow(ctx, "SELECT user_id, csrf_token, remote_addr, created_at, expires_at, ended_at FROM sessions WHERE id_hash = ?", hash).
		Scan(&s.UserID, &s.CSRFToken, &s.RemoteAddr, &created, &expires, &ended)
	if err != nil {
		return s, notFound(err, "session")
	}
	if s.CreatedAt, err = parseTS(created); err != nil {
		return s, err
	}
	if s.ExpiresAt, err = parseTS(expires); err != nil {
		return s, err
	}
	s.EndedAt, err = parseNullTS(ended)
	return s, err
}

// EndSession marks a session ended.
func (tx *Tx) EndSession(ctx context.Context, hash []byte, at time.Time) error {
	return tx.updateOne(ctx, "session", "UPDATE sessions SET ended_at = ? WHERE id_hash = ? AND ended_at IS NULL", ts(at), hash)
}
