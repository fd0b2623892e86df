package vuln

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/opsguard/opsguard"
)

// RetryAfter is the wait, in seconds, an import refused for want of a
// slot is told to take.
const RetryAfter = 10

// slotKey marks a context whose import holds a slot of its service.
type slotKey struct{}

// Admit takes one of the vuln.max_concurrent_imports slots of this process
// for an import, or answers ERateLimited at once when all are taken: a
// report costs memory and a processor while it is imported, and the next
// should wait rather than grow the server without bound. The returned
// context holds the slot, so that Import called with it takes no other;
// release gives it back (once, however often it is called). The web
// handler admits an upload before reading its body.
func (s *Service) Admit(ctx context.Context) (context.Context, func(), error) {
	if ctx.Value(slotKey{}) == s {
		return ctx, func() {}, nil
	}
	select {
	case s.slots <- struct{}{}:
		var once sync.Once
		return context.WithValue(ctx, slotKey{}, s), func() { once.Do(func() { <-s.slots }) }, nil
	default:
		return ctx, func() {}, &opsguard.Error{Code: opsguard.ERateLimited,
			Message: fmt.Sprintf("%d reports are being imported, as many as vuln.max_concurrent_imports allows: try again in %d seconds", cap(s.slots), RetryAfter),
			Details: map[string]any{"retry_after_seconds": RetryAfter}}
	}
}

// MaxAssetName bounds an asset's name, in characters.
const MaxAssetName = 256

// checkAssetName refuses a name that cannot name an asset: too long, or
// holding a control character (a terminal's escape sequence, a NUL that
// PostgreSQL refuses) or invalid UTF-8. what names the name's source in
// the message; the error's field is "asset".
func checkAssetName(name, what string) error {
	bad := func(why string) error {
		return &opsguard.Error{Code: opsguard.EInvalid, Message: what + " " + why, Details: map[string]any{"field": "asset"}}
	}
	switch {
	case !utf8.ValidString(name):
		return bad("is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxAssetName:
		return bad(fmt.Sprintf("is %d characters long; at most %d", utf8.RuneCountInString(name), MaxAssetName))
	case strings.IndexByte(name, 0) >= 0:
		return bad("holds a NUL character")
	}
	if i := strings.IndexFunc(name, unicode.IsControl); i >= 0 {
		return bad(fmt.Sprintf("holds a control character (%U at byte %d)", []rune(name[i:])[0], i))
	}
	return nil
}

// capTexts cuts a finding's title and description at max bytes, at the
// start of a character, and marks those it cut.
func capTexts(in Reported, max int) Reported {
	var cut bool
	if in.Title, cut = capText(in.Title, max); cut {
		in.TitleCut = true
	}
	if in.Description, cut = capText(in.Description, max); cut {
		in.DescriptionCut = true
	}
	return in
}

// capText is s cut at max bytes, at the start of a character, and whether
// it was cut. A cut string is copied, so that the long one can go.
func capText(s string, max int) (string, bool) {
	if max <= 0 || len(s) <= max {
		return s, false
	}
	return strings.Clone(CutString(s, max)), true
}

// CutString is s cut at max bytes, at the start of a character: how the
// register and the importers cut a text longer than they keep.
func CutString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// Importing is the number of imports holding a slot now, of this process.
func (s *Service) Importing() int { return len(s.slots) }
