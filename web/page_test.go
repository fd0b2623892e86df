package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/auth"
)

// A limit above a listing's maximum is refused with the maximum named,
// never cut silently to a shorter page.
func TestListLimitAboveMaximum(t *testing.T) {
	e := newSQLiteEnv(t)
	for _, path := range []string{"/api/v1/findings", "/api/v1/changes", "/api/v1/tickets", "/api/v1/ledger/entries", "/api/v1/controls/LG-3.ledger-verifies/history"} {
		resp := e.do("GET", path+"?limit=5000", e.tokens[auth.Auditor], nil, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s?limit=5000: status %d, want 400", path, resp.StatusCode)
			continue
		}
		if b := errorOf(t, resp); !strings.Contains(b.Error.Message, "at most 1000") || b.Error.Details["field"] != "limit" {
			t.Errorf("%s?limit=5000: %+v, want it to name the maximum 1000 and the field", path, b.Error)
		}
		if resp := e.do("GET", path+"?limit=1000", e.tokens[auth.Auditor], nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s?limit=1000: status %d, want 200", path, resp.StatusCode)
		}
	}
}

// The navigation, built from the modules, is the same bar on every
// signed-in page: the dashboard, each module's pages, then the foundation.
func TestNavigation(t *testing.T) {
	e := newSQLiteEnv(t)
	cookie, _ := e.signIn("engineer")
	const want = `<nav>
    <a href="/">Compliance</a>
    <a href="/findings">Vulnerabilities</a>
    <a href="/approvals">Approvals</a>
    <a href="/changes">Changes</a>
    <a href="/tickets">Tickets</a>
    <a href="/backup">Backups</a>
    <a href="/requirements">Requirements</a>
    <a href="/policies">Policies</a>
    <a href="/attestations">Attestations</a>
    <a href="/audit">Audit</a>
    <a href="/hosts">Hosts</a>
    <a href="/events">Events</a>
    <a href="/ledger">Ledger</a>
    <a href="/notifications">Notifications</a>
    <a href="/jobs">Jobs</a>
    <a href="/users">Users</a>
    <a href="/tokens">API tokens</a>
  </nav>`
	for _, path := range []string{"/", "/findings", "/tickets/999", "/account"} {
		_, body := e.page(cookie, path)
		start, end := strings.Index(body, "<nav>"), strings.Index(body, "</nav>")
		if start < 0 || end < start {
			t.Errorf("%s: no navigation", path)
			continue
		}
		if got := body[start : end+len("</nav>")]; got != want {
			t.Errorf("%s: navigation\n%s\nwant\n%s", path, got, want)
		}
	}
}

// The ledger page lists what happened; the entries that only seal rows
// (every write makes one) are listed on request.
func TestLedgerPageHidesRowSeals(t *testing.T) {
	e := newSQLiteEnv(t)
	cookie, _ := e.signIn("auditor")
	_, hidden := e.page(cookie, "/ledger")
	_, shown := e.page(cookie, "/ledger?seals=1")
	const cell = "<td>ledger.rows</td>"
	if strings.Contains(hidden, cell) || !strings.Contains(hidden, `href="/ledger?seals=1"`) {
		t.Errorf("/ledger lists row seals or offers no way to show them")
	}
	if !strings.Contains(shown, cell) || !strings.Contains(shown, `href="/ledger">Hide them`) {
		t.Errorf("/ledger?seals=1 lists no row seal")
	}
	if !strings.Contains(hidden, "<td>user.created</td>") {
		t.Errorf("/ledger lost the other entries")
	}
}
