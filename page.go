package opsguard

import "fmt"

// Pages of a listing. A listing answers one page at a time; an export walks
// every page. A limit above MaxPage is refused, never cut to a smaller one:
// a silently shorter answer reads as "that is all there is".
const (
	DefaultPage = 100  // rows of a page when the caller asks for no limit
	MaxPage     = 1000 // the most rows one page holds
)

// PageLimit returns the page size that limit asks for: DefaultPage for 0
// (or less), limit itself up to MaxPage, and an EInvalid error naming the
// maximum above it.
func PageLimit(limit int) (int, error) {
	switch {
	case limit <= 0:
		return DefaultPage, nil
	case limit > MaxPage:
		return 0, &Error{Code: EInvalid, Message: fmt.Sprintf("limit %d: at most %d rows a page; page on with offset", limit, MaxPage),
			Details: map[string]any{"field": "limit", "max": MaxPage}}
	}
	return limit, nil
}
