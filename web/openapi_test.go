package web_test

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/change"
)

// The served OpenAPI document must be valid and name exactly the API's
// routes; and real answers must match the schemas it states.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newSQLiteEnv(t)
	resp := e.do("GET", "/api/v1/openapi.json", e.tokens[auth.Auditor], nil, nil)
	body, _ := io.ReadAll(resp.Body)
	doc, err := openapi3.NewLoader().LoadFromData(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{"GET /healthz": true, "GET /readyz": true}
	for _, rt := range e.server.Routes() {
		if !rt.UI {
			served[rt.Method+" "+rt.Pattern] = true
		}
	}
	if missing, extra := diff(served, documented), diff(documented, served); len(missing)+len(extra) > 0 {
		t.Errorf("routes not documented: %v; documented but not served: %v", missing, extra)
	}

	// Answers of a few GET routes validate against their documented schema.
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	e.do("POST", "/api/v1/controls/runs", e.tokens[auth.Admin], nil, nil)
	src := newSrcRepo(t)
	sha := src.commit("Erik <erik@example.com>", "Hotfix\n\nEmergency: outage")
	if _, err := e.app.Change.AddRepository(ctx, change.Actor{Name: "test", Local: true}, change.Repository{Name: "app", URL: src.dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Change.Sync(ctx, "test", "app", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.app.PolicyAtStart(ctx); err != nil {
		t.Fatal(err)
	}
	tk, err := e.app.Tickets.Create(ctx, change.Actor{Name: "erik", Username: "erik"}, change.NewTicket{Title: "Open port 443", Category: "network"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/repositories", "/api/v1/repositories/app", "/api/v1/changes", "/api/v1/changes/" + sha,
		"/api/v1/repository-violations", "/api/v1/tickets", "/api/v1/tickets/" + tk.ID,
		"/api/v1/me", "/api/v1/users", "/api/v1/tokens", "/api/v1/catalog", "/api/v1/controls",
		"/api/v1/controls/LG-3.ledger-verifies/history", "/api/v1/ledger/checkpoint", "/api/v1/ledger/entries?limit=5",
		"/api/v1/ledger/entries/1", "/api/v1/ledger/proof/inclusion?seq=1", "/api/v1/ledger/proof/consistency?from=1",
		"/api/v1/ledger/export", "/api/v1/ledger/entries/99999",
		"/api/v1/requirements", "/api/v1/requirements/CM-9", "/api/v1/policies", "/api/v1/policies/operations-security-policy", "/api/v1/attestations", "/api/v1/acknowledgements"} {
		resp := e.do("GET", path, e.tokens[auth.Auditor], nil, nil)
		body, _ := io.ReadAll(resp.Body)
		req, _ := http.NewRequest("GET", "http://localhost"+path, nil)
		req.Header.Set("Authorization", "Bearer x")
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s (%d) does not match the document: %v", path, resp.StatusCode, firstLine(err.Error()))
		}
	}
}

func diff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}
