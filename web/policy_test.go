package web_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/policy"
	"github.com/opsguard/opsguard/store/storetest"
)

// TestGovernanceOverTheAPI takes the built-in policy through its approval
// over the API: only a security officer other than the author approves,
// a published text cannot be edited, attestations are bounded and
// reviewed by someone else, and the compliance view holds all 42
// requirements.
func TestGovernanceOverTheAPI(t *testing.T) {
	for _, be := range storetest.Backends() {
		t.Run(be.Name, func(t *testing.T) {
			e := newEnv(t, be.DSN(t), func(c *config.Config) { c.Governance.MaxEvidenceBytes = 2048; c.Governance.Company = "Acme Ltd" })
			if err := e.app.PolicyAtStart(ctx); err != nil {
				t.Fatal(err)
			}
			const doc = "/api/v1/policies/operations-security-policy"
			so, eh, eng := e.tokens[auth.SecurityOfficer], e.tokens[auth.EngineeringHead], e.tokens[auth.Engineer]
			status := func(method, path, tok, body string, want int) *http.Response {
				t.Helper()
				var rd io.Reader
				if body != "" {
					rd = strings.NewReader(body)
				}
				resp := e.do(method, path, tok, rd, nil)
				if resp.StatusCode != want {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
				}
				return resp
			}
			// v1 was written by the system at start; the security officer
			// drafts v2 and may not approve it.
			status("POST", doc+"/versions/1/submit", eh, "", 200)
			status("POST", doc+"/versions/1/approve", eh, "", http.StatusForbidden)
			status("POST", doc+"/versions/1/approve", so, `{"note":"read it"}`, 200)
			status("POST", doc+"/versions/1/publish", eh, "", 200)
			status("POST", doc+"/ack", eng, "", http.StatusCreated)
			status("POST", doc+"/ack", eng, "", http.StatusConflict)
			var cov policy.Coverage
			jsonBody(t, status("GET", "/api/v1/acknowledgements", e.tokens[auth.Auditor], "", 200), &cov)
			if len(cov.Documents) != 1 || cov.Documents[0].ByRole["engineer"] != (policy.RoleCount{Acked: 1, Total: 1}) {
				t.Errorf("coverage: %+v", cov)
			}
			status("PUT", doc+"/versions/1", so, `{"summary":"sneaky","classification":"Public"}`, http.StatusConflict)
			status("POST", doc+"/drafts", eng, `{"summary":"mine"}`, http.StatusForbidden)
			status("POST", doc+"/drafts", so, `{"summary":"Second reading","classification":"Confidential"}`, http.StatusCreated)
			status("POST", doc+"/versions/2/submit", so, "", 200)
			if b := errorOf(t, status("POST", doc+"/versions/2/approve", so, "", http.StatusForbidden)); !strings.Contains(b.Error.Message, "segregation") {
				t.Errorf("self-approval: %s", b.Error.Message)
			}
			resp := status("GET", doc+"/render?format=md&version=1", e.tokens[auth.Auditor], "", 200)
			md, _ := io.ReadAll(resp.Body)
			for _, want := range []string{"Acme Ltd", "| 1 |", "security-officer", "Company Internal", "critical 7 days"} {
				if !strings.Contains(string(md), want) {
					t.Errorf("rendered v1 lacks %q", want)
				}
			}
			resp = status("GET", doc+"/render?format=html", e.tokens[auth.Auditor], "", 200)
			if h, _ := io.ReadAll(resp.Body); !strings.Contains(string(h), "<table>") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("html render: %s", resp.Header.Get("Content-Type"))
			}
			var diff policy.Diff
			jsonBody(t, status("GET", doc+"/diff?from=1&to=2", e.tokens[auth.Auditor], "", 200), &diff)
			if diff.Added == 0 || diff.Removed == 0 {
				t.Errorf("diff v1→v2: %+v", diff)
			}

			// Attestations.
			until := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
			att := func(req string, size int) string {
				return fmt.Sprintf(`{"requirement":%q,"statement":"Staging runs every change before production.","valid_until":%q,"evidence":[{"name":"staging.txt","content":%q}]}`,
					req, until, base64.StdEncoding.EncodeToString(make([]byte, size)))
			}
			if b := errorOf(t, status("POST", "/api/v1/attestations", eh, att("CM-99", 10), 400)); b.Error.Details["field"] != "requirement" {
				t.Errorf("unknown requirement: %+v", b)
			}
			errorOf(t, status("POST", "/api/v1/attestations", eh, att("CM-9", 4096), 400))
			status("POST", "/api/v1/attestations", eng, att("CM-9", 10), http.StatusForbidden)
			var a policy.Attestation
			jsonBody(t, status("POST", "/api/v1/attestations", eh, att("CM-9", 100), 201), &a)
			var as struct{ Items []policy.Attestation }
			jsonBody(t, status("GET", "/api/v1/attestations", eng, "", 200), &as)
			if len(as.Items) != 1 {
				t.Fatalf("%d attestations after two refusals and one filing", len(as.Items))
			}
			status("POST", "/api/v1/attestations/"+a.ID+"/review", eh, `{"decision":"accept"}`, http.StatusForbidden)
			status("POST", "/api/v1/attestations/"+a.ID+"/review", so, `{"decision":"accept","note":"seen"}`, 200)

			var c policy.Compliance
			jsonBody(t, status("GET", "/api/v1/requirements", eng, "", 200), &c)
			if len(c.Requirements) != 42 || c.Counts["gap"] == 0 {
				t.Fatalf("compliance: %d requirements, %v", len(c.Requirements), c.Counts)
			}
			var r policy.RequirementState
			jsonBody(t, status("GET", "/api/v1/requirements/CM-9", eng, "", 200), &r)
			if r.State != policy.StateAttested || len(r.Attestations) != 1 {
				t.Errorf("CM-9: %s (%s), %d attestations", r.State, r.Why, len(r.Attestations))
			}
			for _, page := range []string{"/requirements", "/requirements/CM-9", "/policies", "/policies/operations-security-policy?from=1&to=2", "/attestations"} {
				resp := status("GET", page, e.tokens[auth.Auditor], "", 200)
				b, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(b), "CM-9") && !strings.Contains(string(b), "Operations Security") {
					t.Errorf("%s: neither CM-9 nor the document", page)
				}
			}
		})
	}
}

// The attestation form uploads its evidence; a file over the limit is
// refused with the form shown again and nothing filed.
func TestAttestationForm(t *testing.T) {
	e := newSQLiteEnv(t, func(c *config.Config) { c.Governance.MaxEvidenceBytes = 1024 })
	cookie, csrf := e.signIn("infra-ops")
	post := func(size int) (int, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range map[string]string{"csrf_token": csrf, "requirement": "CM-10", "statement": "Vendor patches are listed in the wiki with the originals kept.",
			"valid_until": time.Now().AddDate(0, 2, 0).Format(time.DateOnly)} {
			mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("evidence", "vendor-patches.txt")
		fw.Write(bytes.Repeat([]byte("x"), size))
		mw.Close()
		resp := e.do("POST", "/attestations", "", &buf, map[string]string{"Cookie": cookie.Name + "=" + cookie.Value, "Content-Type": mw.FormDataContentType()})
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := post(2000); st != http.StatusBadRequest || !strings.Contains(body, "max_evidence_bytes") {
		t.Errorf("over the limit: %d", st)
	}
	if as, _ := e.app.Policy.Attestations(ctx, ""); len(as) != 0 {
		t.Fatalf("a refused upload filed %d attestations", len(as))
	}
	st, body := post(100)
	if st != http.StatusCreated || !strings.Contains(body, "vendor-patches.txt") {
		t.Fatalf("file: %d", st)
	}
}
