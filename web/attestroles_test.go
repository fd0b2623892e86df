package web_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
)

// governance.attest_roles decides who may attest what, on the server: a
// role the route admits but the requirement does not gets a 403 naming
// the roles allowed, and nothing is filed.
func TestAttestRolesPerRequirement(t *testing.T) {
	e := newSQLiteEnv(t, func(c *config.Config) {
		c.Governance.AttestRoles = map[string][]string{"*": {"security_officer", "engineering_head", "infra_ops"}, "CM-9": {"engineering_head"}}
	})
	until := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	body := func(req string) io.Reader {
		return strings.NewReader(fmt.Sprintf(`{"requirement":%q,"statement":"Staging runs every change before production.","valid_until":%q,"evidence":[{"name":"s.txt","content":%q}]}`,
			req, until, base64.StdEncoding.EncodeToString([]byte("evidence"))))
	}
	cases := []struct {
		role auth.Role
		req  string
		want int
	}{
		{auth.InfraOps, "CM-9", http.StatusForbidden},
		{auth.SecurityOfficer, "CM-9", http.StatusForbidden},
		{auth.EngineeringHead, "CM-9", http.StatusCreated},
		{auth.InfraOps, "CM-10", http.StatusCreated}, // "*"
	}
	for _, tc := range cases {
		resp := e.do("POST", "/api/v1/attestations", e.tokens[tc.role], body(tc.req), nil)
		if resp.StatusCode != tc.want {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s attests %s: %d, want %d: %s", tc.role, tc.req, resp.StatusCode, tc.want, b)
		}
		if tc.want == http.StatusForbidden {
			msg := errorOf(t, resp).Error.Message
			if want := "the role " + string(tc.role) + " may not attest CM-9: governance.attest_roles allows engineering_head"; msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
		}
	}
	as, err := e.app.Policy.Attestations(ctx, "CM-9")
	if err != nil || len(as) != 1 || as[0].AttestedBy != "engineering-head" {
		t.Fatalf("CM-9's attestations: %+v, %v: want only the engineering head's", as, err)
	}
	r, err := e.app.Policy.Requirement(ctx, "CM-9")
	if err != nil || strings.Join(r.AttestRoles, ",") != "engineering_head" {
		t.Errorf("CM-9 shows attest roles %v (%v)", r.AttestRoles, err)
	}
}
