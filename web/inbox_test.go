package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/vuln"
)

// uiPage gets a page with a session of user and returns its HTML.
func (e *env) uiPage(user, path string) string {
	e.t.Helper()
	c, _ := e.signIn(user)
	resp := e.do("GET", path, "", nil, map[string]string{"Cookie": c.Name + "=" + c.Value})
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
	}
	return string(b)
}

// The approvals inbox shows what is decided: the vulnerability, asset,
// package, severity, risk and due date of the finding, who asks and why;
// a rejection needs a reason; the finding page shows an accepted risk's
// expiry, approver and justification.
func TestApprovalsInboxShowsWhatIsDecided(t *testing.T) {
	e := newSQLiteEnv(t)
	report := `{"SchemaVersion":2,"ArtifactName":"shop","ArtifactType":"container_image","Results":[{"Target":"shop (debian 12)","Class":"os-pkgs","Type":"debian",
		"Vulnerabilities":[{"VulnerabilityID":"CVE-2024-3094","PkgName":"xz-utils","InstalledVersion":"5.6.0","Severity":"CRITICAL","Title":"xz backdoor"},
		{"VulnerabilityID":"CVE-2023-4863","PkgName":"libwebp7","InstalledVersion":"1.2.4","Severity":"HIGH","Title":"libwebp overflow"}]}]}`
	if _, err := e.app.Vuln.Import(ctx, "ci", vuln.ImportRequest{File: "trivy.json", Asset: "shop", Data: []byte(report)}); err != nil {
		t.Fatal(err)
	}
	fs, _, _ := e.app.Vuln.List(ctx, vuln.Filter{Asset: "shop"})
	if len(fs) != 2 {
		t.Fatalf("findings: %+v", fs)
	}
	xz, webp := fs[0], fs[1]
	if xz.VulnID != "CVE-2024-3094" {
		xz, webp = webp, xz
	}
	eng := vuln.Actor{Name: "engineer"}
	until := time.Now().AddDate(0, 2, 0).UTC().Truncate(24 * time.Hour)
	accept, err := e.app.Vuln.RequestAcceptance(ctx, eng, xz.ID, "the build host is air-gapped, see RISK-7", until)
	if err != nil {
		t.Fatal(err)
	}
	extend, err := e.app.Vuln.RequestExtension(ctx, eng, webp.ID, "the vendor ships the fix next sprint", webp.DueAt.AddDate(0, 0, 14))
	if err != nil {
		t.Fatal(err)
	}

	var inbox struct {
		Items []map[string]any `json:"items"`
	}
	jsonBody(t, e.do("GET", "/api/v1/requests?status=pending", e.tokens[auth.Auditor], nil, nil), &inbox)
	if len(inbox.Items) != 2 {
		t.Fatalf("inbox: %+v", inbox)
	}
	got, _ := inbox.Items[0]["finding"].(map[string]any)
	for k, want := range map[string]string{"vuln_id": "CVE-2024-3094", "asset": "shop", "package": xz.Package, "severity": "critical", "risk": string(xz.Risk),
		"due_at": xz.DueAt.Format(time.RFC3339Nano)} {
		if s, _ := got[k].(string); s != want && !(k == "due_at" && strings.HasPrefix(s, xz.DueAt.Format(time.DateOnly))) {
			t.Errorf("inbox item's finding.%s = %q, want %q (item %v)", k, s, want, inbox.Items[0])
		}
	}
	if inbox.Items[0]["requested_by"] != "engineer" || inbox.Items[0]["justification"] != "the build host is air-gapped, see RISK-7" {
		t.Errorf("inbox item = %v", inbox.Items[0])
	}

	html := e.uiPage("security-officer", "/approvals")
	for _, want := range []string{"CVE-2024-3094", "shop", "xz-utils", "critical", xz.DueAt.Format(time.DateOnly), "engineer", "the build host is air-gapped, see RISK-7",
		"CVE-2023-4863", "libwebp7", "the vendor ships the fix next sprint", string(webp.Risk)} {
		if !strings.Contains(html, want) {
			t.Errorf("the approvals page lacks %q", want)
		}
	}
	if strings.Contains(html, ">"+accept.FindingID[:12]+"<") {
		t.Errorf("the approvals page still names the finding by its id alone")
	}

	// A rejection needs a reason: API, then UI.
	cli := auth.CLI("test")
	e.app.Auth.CreateUser(ctx, cli, auth.NewUser{Username: "ines", Role: auth.SecurityOfficer, Password: password})
	ines := ownToken(t, e.app, "ines")
	for _, body := range []string{"", `{}`, `{"reason":"no"}`} {
		resp := e.do("POST", "/api/v1/requests/"+extend.ID+"/reject", ines, strings.NewReader(body), nil)
		if b := errorOf(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(b.Error.Message, "reason") {
			t.Errorf("reject with %q: %d %+v", body, resp.StatusCode, b)
		}
	}
	c, csrf := e.signIn("security-officer")
	form := url.Values{"csrf_token": {csrf}, "reason": {""}}
	resp := e.do("POST", "/requests/"+extend.ID+"/reject", "", strings.NewReader(form.Encode()), map[string]string{"Cookie": c.Name + "=" + c.Value, "Content-Type": "application/x-www-form-urlencoded"})
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "reason") {
		t.Errorf("UI reject without a reason: %d", resp.StatusCode)
	}
	var rejected vuln.Request
	resp = e.do("POST", "/api/v1/requests/"+extend.ID+"/reject", ines, strings.NewReader(`{"reason":"patch it this sprint instead"}`), nil)
	if jsonBody(t, resp, &rejected); rejected.Status != "rejected" || rejected.DecisionNote != "patch it this sprint instead" {
		t.Errorf("reject with a reason: %d %+v", resp.StatusCode, rejected)
	}

	// The finding page shows the accepted risk: until when, by whom, why.
	if resp := e.do("POST", "/api/v1/requests/"+accept.ID+"/approve", ines, strings.NewReader(`{"note":"until the host is retired"}`), nil); resp.StatusCode != 200 {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	html = e.uiPage("auditor", "/findings/"+xz.ID)
	i := strings.Index(html, `id="acceptance"`)
	if i < 0 {
		t.Fatalf("the finding page has no #acceptance")
	}
	for _, want := range []string{until.Format(time.DateOnly), "approved by ines", "requested by engineer", "the build host is air-gapped, see RISK-7", "until the host is retired"} {
		if !strings.Contains(html[i:], want) {
			t.Errorf("the finding's acceptance lacks %q", want)
		}
	}
}
