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
