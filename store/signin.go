package store

import (
	"context"
	"strings"
	"time"
)

// The counters of failed sign-ins (auth's throttle). They live in the
// database so that replicas share them and a restart keeps them.

// SignInFailures returns the failures counted for each of keys in windows
// that started at or after since; keys without any are absent.
func (tx *Tx) SignInFailures(ctx context.Context, keys []string, since time.Time) (map[string]int, error) {
	out := map[string]int{}
	if len(keys) == 0 {
		return out, nil
	}
	args := append(stringArgs(keys), ts(since))
	rows, err := tx.query(ctx, "SELECT key, failures FROM sign_in_failures WHERE key IN ("+placeholders(len(keys))+") AND window_start >= ?", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// AddSignInFailure counts one failure at at for each of keys. A key whose
// window started before since starts a new window at at. Rows whose
// window and refusal are both older than since are swept, so the table
// holds only the keys of the current window.
func (tx *Tx) AddSignInFailure(ctx context.Context, keys []string, at, since time.Time) error {
	if _, err := tx.exec(ctx, "DELETE FROM sign_in_failures WHERE window_start < ? AND (refused_at IS NULL OR refused_at < ?)", ts(since), ts(since)); err != nil {
		return err
	}
	for _, k := range keys {
		_, err := tx.exec(ctx, `INSERT INTO sign_in_failures (key, failures, window_start) VALUES (?, 1, ?)
			ON CONFLICT (key) DO UPDATE SET
				failures = CASE WHEN sign_in_failures.window_start < ? THEN 1 ELSE sign_in_failures.failures + 1 END,
				window_start = CASE WHEN sign_in_failures.window_start < ? THEN excluded.window_start ELSE sign_in_failures.window_start END`,
			k, ts(at), ts(since), ts(since))
		if err != nil {
			return err
		}
	}
	return nil
}

// ClearSignInFailures forgets the failures of keys (after a success).
func (tx *Tx) ClearSignInFailures(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := tx.exec(ctx, "DELETE FROM sign_in_failures WHERE key IN ("+placeholders(len(keys))+")", stringArgs(keys)...)
	return err
}

// MarkSignInRefused records a refusal of key at at and reports whether it
// is the first since since, so that a flood of refusals is ledgered once.
func (tx *Tx) MarkSignInRefused(ctx context.Context, key string, at, since time.Time) (bool, error) {
	var n int
	if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM sign_in_failures WHERE key = ? AND refused_at >= ?", key, ts(since)).Scan(&n); err != nil {
		return false, err
	}
	_, err := tx.exec(ctx, `INSERT INTO sign_in_failures (key, failures, window_start, refused_at) VALUES (?, 0, ?, ?)
		ON CONFLICT (key) DO UPDATE SET refused_at = excluded.refused_at`, key, ts(at), ts(at))
	return n == 0, err
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func stringArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
