package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/opsguard/opsguard/ledger"
)

// The sign-in throttle counts failures in the store, so that replicas
// share the counts and a restart does not lift them. It counts per
// (user name, address), per user name and per address, each against its
// own limit: one person's typos lock out that person at that address,
// never a whole office behind one NAT address; guessing one user's
// password from many addresses meets the per-user limit; spraying many
// user names from one address meets the much higher per-address one.
// Windows are fixed: a key's window starts at its first failure and its
// count starts afresh once the window has passed.

// limit is one throttled key and the failures it tolerates.
type limit struct {
	key string
	max int
}

func (s *Service) limits(username, addr string) []limit {
	u, a := throttleValue(username), throttleValue(addr)
	return []limit{
		{"pair:" + u + " " + a, s.opts.MaxFailedSignIns},
		{"user:" + u, s.opts.MaxFailedSignInsPerUser},
		{"addr:" + a, s.opts.MaxFailedSignInsPerAddress},
	}
}

func keysOf(ls []limit) []string {
	keys := make([]string, len(ls))
	for i, l := range ls {
		keys[i] = l.key
	}
	return keys
}

// throttleValue keeps a key short and printable whatever a client sends:
// a long or odd user name is counted under its hash.
func throttleValue(v string) string {
	if len(v) <= 100 && strings.IndexFunc(v, func(r rune) bool { return r == ' ' || !unicode.IsPrint(r) }) < 0 {
		return v
	}
	h := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(h[:16])
}

// overLimit returns the limits that username from addr has reached.
func (s *Service) overLimit(ctx context.Context, ls []limit) ([]limit, error) {
	var over []limit
	err := s.store.View(ctx, func(tx Tx) error {
		counts, err := tx.SignInFailures(ctx, keysOf(ls), s.windowStart())
		if err != nil {
			return err
		}
		for _, l := range ls {
			if counts[l.key] >= l.max {
				over = append(over, l)
			}
		}
		return nil
	})
	return over, err
}

// refuse ledgers the first refusal of a window for any of the keys that
// are over their limit; later ones would only flood the ledger.
func (s *Service) refuse(ctx context.Context, over []limit, username, addr string) {
	err := s.store.Update(ctx, func(tx Tx) error {
		first := false
		for _, l := range over {
			f, err := tx.MarkSignInRefused(ctx, l.key, s.now(), s.windowStart())
			if err != nil {
				return err
			}
			first = first || f
		}
		if !first {
			return nil
		}
		_, err := s.log.Append(ctx, tx, failureEvent(username, addr, "rate limited"))
		return err
	})
	if err != nil {
		s.opts.Logger.Error("could not record a refused sign-in", "err", err)
	}
}

// fail counts a failed sign-in and ledgers it, in one transaction.
func (s *Service) fail(ctx context.Context, ls []limit, username, addr, reason string) {
	err := s.store.Update(ctx, func(tx Tx) error {
		if err := tx.AddSignInFailure(ctx, keysOf(ls), s.now(), s.windowStart()); err != nil {
			return err
		}
		_, err := s.log.Append(ctx, tx, failureEvent(username, addr, reason))
		return err
	})
	if err != nil {
		s.opts.Logger.Error("could not record a failed sign-in", "err", err)
	}
}

// firstRefusal reports whether key was not refused yet in the window, and
// marks it refused.
func (s *Service) firstRefusal(ctx context.Context, key string) bool {
	first := false
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		first, err = tx.MarkSignInRefused(ctx, key, s.now(), s.windowStart())
		return err
	})
	if err != nil {
		s.opts.Logger.Error("could not record a refused credential", "err", err)
	}
	return first
}

func (s *Service) windowStart() time.Time { return s.now().Add(-s.opts.SignInWindow) }

func failureEvent(username, addr, reason string) ledger.Event {
	if !usernameRE.MatchString(username) {
		username = strconv.Quote(username) // escapes control characters: the subject stays one clean line
	}
	return ledger.Event{Actor: "anonymous", Kind: "auth.sign_in_failed", Subject: "username/" + username,
		Payload: map[string]any{"remote_addr": addr, "reason": reason}}
}
