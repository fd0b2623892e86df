package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/auth"
)

// allowed is the written rule of who may call each route. A route missing
// here fails the test: adding a route means deciding who may use it.
var allowed = map[string][]auth.Role{
	"POST /api/v1/session":                              nil, // public: signing in
	"GET /static/":                                      nil, // public: the sign-in page's style
	"GET /login":                                        nil,
	"POST /login":                                       nil,
	"DELETE /api/v1/session":                            readers,
	"GET /api/v1/me":                                    readers,
	"GET /api/v1/openapi.json":                          readers,
	"GET /api/v1/config":                                readers,
	"GET /api/v1/users":                                 readers,
	"POST /api/v1/users":                                {auth.Admin},
	"POST /api/v1/users/{username}/disable":             {auth.Admin},
	"GET /api/v1/tokens":                                readers,
	"POST /api/v1/tokens":                               readers,
	"DELETE /api/v1/tokens/{id}":                        readers,
	"GET /api/v1/catalog":                               readers,
	"GET /api/v1/controls":                              readers,
	"GET /api/v1/controls/{id}/history":                 readers,
	"POST /api/v1/controls/runs":                        {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"GET /api/v1/ledger/checkpoint":                     readers,
	"GET /api/v1/ledger/entries":                        readers,
	"GET /api/v1/ledger/entries/{seq}":                  readers,
	"POST /api/v1/ledger/verify":                        readers,
	"GET /api/v1/ledger/proof/inclusion":                readers,
	"GET /api/v1/ledger/proof/consistency":              readers,
	"GET /api/v1/ledger/evidence/{sha256}":              readers,
	"GET /api/v1/ledger/export":                         readers,
	"GET /metrics":                                      readers,
	"POST /logout":                                      readers,
	"GET /{$}":                                          readers,
	"POST /controls/run":                                {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"GET /ledger":                                       readers,
	"GET /api/v1/notifications":                         readers,
	"GET /notifications":                                readers,
	"GET /jobs":                                         readers,
	"POST /findings/{id}/{action}":                      {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"GET /approvals":                                    readers,
	"POST /requests/{id}/{decision}":                    {auth.SecurityOfficer},
	"GET /api/v1/vex":                                   readers,
	"POST /api/v1/feeds":                                {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /api/v1/findings/{id}/start":                  {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /api/v1/findings/{id}/resolve":                {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /api/v1/findings/{id}/accept":                 {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /api/v1/findings/{id}/extend":                 {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"GET /api/v1/requests":                              readers,
	"POST /api/v1/requests/{id}/approve":                {auth.SecurityOfficer},
	"POST /api/v1/requests/{id}/reject":                 {auth.SecurityOfficer},
	"GET /findings":                                     readers,
	"GET /findings/{id}":                                readers,
	"POST /scans":                                       {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /api/v1/scans":                                {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"GET /api/v1/assets":                                readers,
	"PUT /api/v1/assets/{name}/owner":                   {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps},
	"GET /api/v1/findings":                              readers,
	"GET /api/v1/findings/{id}":                         readers,
	"POST /users/{username}/role":                       {auth.Admin},
	"GET /account":                                      readers,
	"POST /account/password":                            readers,
	"POST /api/v1/users/{username}/role":                {auth.Admin},
	"POST /api/v1/users/{username}/password":            readers,
	"POST /api/v1/users/{username}/password/reset":      {auth.Admin},
	"POST /users/{username}/password/reset":             {auth.Admin},
	"GET /controls/{id}":                                readers,
	"GET /users":                                        readers,
	"POST /users":                                       {auth.Admin},
	"POST /users/{username}/disable":                    {auth.Admin},
	"GET /tokens":                                       readers,
	"POST /tokens":                                      readers,
	"POST /tokens/{id}/revoke":                          readers,
	"POST /ledger/verify":                               readers,
	"GET /api/v1/repositories":                          readers,
	"POST /api/v1/repositories":                         {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps},
	"GET /api/v1/repositories/{name}":                   readers,
	"POST /api/v1/repositories/{name}/sync":             {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps},
	"GET /api/v1/changes":                               readers,
	"GET /api/v1/changes/{id}":                          readers,
	"POST /api/v1/changes/{id}/review":                  {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /api/v1/changes/{id}/exception":               {auth.SecurityOfficer},
	"GET /api/v1/repository-violations":                 readers,
	"POST /api/v1/repository-violations/{id}/exception": {auth.SecurityOfficer},
	"POST /api/v1/webhooks/{provider}":                  nil, // public: the shared secret authenticates it
	"GET /api/v1/tickets":                               readers,
	"POST /api/v1/tickets":                              {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"GET /api/v1/tickets/{id}":                          readers,
	"POST /api/v1/tickets/unapproved":                   {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"PUT /api/v1/tickets/{id}":                          {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /api/v1/tickets/{id}/submit":                  {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /api/v1/tickets/{id}/approve":                 {auth.SecurityOfficer, auth.EngineeringHead},
	"POST /api/v1/tickets/{id}/reject":                  {auth.SecurityOfficer, auth.EngineeringHead},
	"POST /api/v1/tickets/{id}/implement":               {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /api/v1/tickets/{id}/verify":                  {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /api/v1/tickets/{id}/rollback":                {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"GET /changes":                                      readers,
	"GET /changes/{id}":                                 readers,
	"POST /changes/{id}/review":                         {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"POST /changes/{id}/exception":                      {auth.SecurityOfficer},
	"POST /repositories":                                {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps},
	"POST /repositories/{name}/sync":                    {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps},
	"GET /tickets":                                      readers,
	"POST /tickets":                                     {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"GET /tickets/{id}":                                 readers,
	"POST /tickets/{id}/approve":                        {auth.SecurityOfficer, auth.EngineeringHead},
	"POST /tickets/{id}/reject":                         {auth.SecurityOfficer, auth.EngineeringHead},
	"POST /tickets/{id}/{action}":                       {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer},
	"GET /api/v1/backup/status":                         readers,
	"GET /api/v1/backup/datasets":                       readers,
	"POST /api/v1/backup/datasets":                      backupManagers,
	"GET /api/v1/backup/datasets/{name}":                readers,
	"POST /api/v1/backup/datasets/{name}/copies":        backupManagers,
	"GET /api/v1/backup/datasets/{name}/snapshots":      readers,
	"POST /api/v1/backup/collect":                       backupManagers,
	"POST /api/v1/backup/manifests":                     {auth.Agent},
	"GET /backup":                                       readers,
	"POST /backup/datasets":                             backupManagers,
	"GET /backup/datasets/{name}":                       readers,
	"POST /backup/datasets/{name}":                      backupManagers,
	"POST /backup/datasets/{name}/copies":               backupManagers,
	"PUT /api/v1/backup/datasets/{name}":                backupManagers,
	"GET /api/v1/policies":                              readers,
	"GET /api/v1/policies/{doc}":                        readers,
	"GET /api/v1/policies/{doc}/render":                 readers,
	"GET /api/v1/policies/{doc}/diff":                   readers,
	"POST /api/v1/policies/{doc}/drafts":                {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"PUT /api/v1/policies/{doc}/versions/{n}":           {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"POST /api/v1/policies/{doc}/versions/{n}/submit":   {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"POST /api/v1/policies/{doc}/versions/{n}/approve":  {auth.SecurityOfficer},
	"POST /api/v1/policies/{doc}/versions/{n}/reject":   {auth.SecurityOfficer},
	"POST /api/v1/policies/{doc}/versions/{n}/publish":  {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"GET /api/v1/attestations":                          readers,
	"POST /api/v1/attestations":                         {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps},
	"GET /api/v1/attestations/{id}":                     readers,
	"POST /api/v1/attestations/{id}/review":             {auth.SecurityOfficer},
	"GET /api/v1/requirements":                          readers,
	"GET /api/v1/requirements/{id}":                     readers,
	"GET /api/v1/requirements/trend":                    readers,
	"GET /requirements":                                 readers,
	"GET /requirements/{id}":                            readers,
	"GET /policies":                                     readers,
	"GET /policies/{doc}":                               readers,
	"POST /policies/{doc}/drafts":                       {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"POST /policies/{doc}/versions/{n}/approve":         {auth.SecurityOfficer},
	"POST /policies/{doc}/versions/{n}/reject":          {auth.SecurityOfficer},
	"POST /policies/{doc}/versions/{n}/{action}":        {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"POST /policies/{doc}/versions/{n}/edit":            {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"POST /api/v1/policies/{doc}/ack":                   readers,
	"GET /api/v1/acknowledgements":                      readers,
	"POST /policies/{doc}/ack":                          readers,
	"GET /attestations":                                 readers,
	"POST /attestations":                                {auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps},
	"POST /attestations/{id}/review":                    {auth.SecurityOfficer},
	"POST /api/v1/backup/datasets/{name}/drills":        backupManagers,
	"GET /api/v1/backup/drills":                         readers,
	"GET /api/v1/backup/drills/{id}":                    readers,
	"POST /api/v1/backup/drills/{id}/approve":           {auth.SecurityOfficer}, // the route admits backup managers, the service only a security officer
	"GET /api/v1/backup/rcas":                           readers,
	"POST /api/v1/backup/rcas/{id}":                     backupManagers,
	"GET /api/v1/backup/exercises":                      readers,
	"POST /api/v1/backup/exercises":                     backupManagers,
	"POST /backup/datasets/{name}/drills":               backupManagers,
	"GET /backup/drills/{id}":                           readers,
	"GET /backup/rcas":                                  readers,
	"POST /backup/rcas/{id}":                            backupManagers,
	"GET /api/v1/audit/bundle":                          readers,
	"GET /audit":                                        readers,
	"POST /audit/verify":                                readers,
	"POST /api/v1/host/facts":                           {auth.Agent},
	"GET /api/v1/hosts":                                 readers,
	"GET /api/v1/hosts/{name}":                          readers,
	"PUT /api/v1/hosts/{name}/environment":              {auth.Admin},
	"PUT /api/v1/hosts/{name}/groups":                   {auth.Admin},
	"GET /api/v1/hosts/{name}/capacity/history":         readers,
	"POST /hosts/{name}/groups":                         {auth.Admin},
	"GET /api/v1/capacity/status":                       readers,
	"GET /hosts":                                        readers,
	"GET /hosts/{name}":                                 readers,
	"POST /api/v1/events":                               {auth.Agent},
	"GET /api/v1/events":                                readers,
	"GET /events":                                       readers,
	"GET /api/v1/baselines":                             readers,
	"POST /api/v1/baselines":                            {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"GET /api/v1/baselines/{id}":                        readers,
	"POST /api/v1/baselines/{id}/approve":               {auth.SecurityOfficer},
	"POST /api/v1/baselines/{id}/reject":                {auth.SecurityOfficer},
	"POST /api/v1/hosts/{name}/baseline/capture":        {auth.Admin, auth.SecurityOfficer, auth.EngineeringHead},
	"GET /api/v1/hosts/{name}/configuration":            readers,
	"GET /api/v1/hosts/{name}/software":                 readers,
	"GET /api/v1/drifts":                                readers,
}

// backupManagers declare data sets and copies.
var backupManagers = []auth.Role{auth.Admin, auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps}

// readers are every human role: the auditor reads everything; the agent
// (a host's token) reads nothing.
var readers = []auth.Role{auth.Admin, auth.SecurityOfficer, auth.EngineeringHead, auth.InfraOps, auth.Engineer, auth.Auditor}

// concrete turns a route pattern into a path that matches it.
func concrete(pattern string) string {
	r := strings.NewReplacer("{$}", "", "{username}", "nobody", "{id}", "tok_00000000000000000000000000000000",
		"{seq}", "1", "{sha256}", strings.Repeat("0", 64))
	p := r.Replace(pattern)
	if p == "/static/" {
		p = "/static/style.css"
	}
	return p
}

func TestEveryRouteHasARule(t *testing.T) {
	e := newSQLiteEnv(t)
	seen := map[string]bool{}
	for _, rt := range e.server.Routes() {
		key := rt.Method + " " + rt.Pattern
		seen[key] = true
		roles, ok := allowed[key]
		if !ok {
			t.Errorf("route %s has no rule in the authorisation test", key)
			continue
		}
		if rt.Public != (roles == nil) {
			t.Errorf("route %s: public %v, but the rule says %v", key, rt.Public, roles)
		}
	}
	for key := range allowed {
		if !seen[key] {
			t.Errorf("rule for %s names no route", key)
		}
	}
}

func TestEveryRouteTimesEveryRole(t *testing.T) {
	e := newSQLiteEnv(t)
	for _, rt := range e.server.Routes() {
		key := rt.Method + " " + rt.Pattern
		if rt.Public {
			continue
		}
		path := concrete(rt.Pattern)
		t.Run(key, func(t *testing.T) {
			resp := e.do(rt.Method, path, "", nil, nil)
			switch {
			case rt.UI && rt.Method == "GET":
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
					t.Errorf("anonymous: %d %s, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
				}
			case resp.StatusCode != http.StatusUnauthorized:
				t.Errorf("anonymous: %d, want 401", resp.StatusCode)
			case !rt.UI:
				errorOf(t, resp)
			}
			for _, role := range auth.Roles {
				resp := e.do(rt.Method, path, e.tokens[role], nil, nil)
				want := contains(allowed[key], role)
				got := resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden
				if got != want {
					t.Errorf("%s: status %d, allowed %v", role, resp.StatusCode, want)
				}
				if !want && !rt.UI {
					if b := errorOf(t, resp); b.Error.Code != "forbidden" {
						t.Errorf("%s: code %q", role, b.Error.Code)
					}
				}
			}
		})
	}
}

func contains(rs []auth.Role, r auth.Role) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}
