package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
	"github.com/opsguard/opsguard/vuln/importers"
)

// A pipeline uploads a report with one curl line and gets the summary back.
func TestUploadScanOverTheAPI(t *testing.T) {
	e := newSQLiteEnv(t)
	report := fixture.Read(t, "vuln/trivy/securecodebox-repo.json")
	path := "/api/v1/scans?" + url.Values{"asset": {"github.com/example/app"}, "kind": {"repository"}, "format": {"auto"}, "file": {"trivy.json"}}.Encode()
	resp := e.do("POST", path, e.tokens[auth.Engineer], bytes.NewReader(report), map[string]string{"Content-Type": "application/octet-stream"})
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	var sum vuln.Summary
	jsonBody(t, resp, &sum)
	if sum.Format != "trivy" || sum.Tool != "Trivy" || sum.New == 0 || sum.New != sum.Findings || sum.Asset != "github.com/example/app" {
		t.Fatalf("summary = %+v", sum)
	}
	// The same report again: nothing new.
	resp = e.do("POST", path, e.tokens[auth.Engineer], bytes.NewReader(report), nil)
	var again vuln.Summary
	jsonBody(t, resp, &again)
	if again.New != 0 || again.Unchanged != sum.Findings {
		t.Errorf("re-upload = %+v", again)
	}
	// The register lists them, soonest due first, and the auditor can read it.
	var page struct {
		Items []vuln.Finding `json:"items"`
		Total int            `json:"total"`
	}
	jsonBody(t, e.do("GET", "/api/v1/findings?asset=github.com/example/app&limit=5", e.tokens[auth.Auditor], nil, nil), &page)
	if page.Total != sum.Findings || len(page.Items) != 5 || page.Items[0].DueAt.After(page.Items[4].DueAt) {
		t.Errorf("register: total %d, %d items", page.Total, len(page.Items))
	}
	var one vuln.Finding
	jsonBody(t, e.do("GET", "/api/v1/findings/"+page.Items[0].ID, e.tokens[auth.Auditor], nil, nil), &one)
	if one.ID != page.Items[0].ID || one.RiskNote == "" || len(one.Tools) != 1 || one.Tools[0] != "Trivy" {
		t.Errorf("finding = %+v", one)
	}
	// An auditor cannot upload; a bad report is refused whole, with the file named.
	if resp := e.do("POST", path, e.tokens[auth.Auditor], bytes.NewReader(report), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("auditor upload: %d", resp.StatusCode)
	}
	resp = e.do("POST", path, e.tokens[auth.Engineer], bytes.NewReader(report[:len(report)/2]), nil)
	if b := errorOf(t, resp); resp.StatusCode != 400 || !strings.Contains(b.Error.Message, "trivy.json") {
		t.Errorf("truncated: %d %+v", resp.StatusCode, b)
	}
}

func TestRegisterPages(t *testing.T) {
	e := newSQLiteEnv(t)
	eng, csrf := e.signIn("engineer")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf_token", csrf)
	mw.WriteField("asset", "app")
	mw.WriteField("kind", "repository")
	mw.WriteField("format", "auto")
	fw, _ := mw.CreateFormFile("report", "grype.json")
	fw.Write(fixture.Read(t, "vuln/grype/fix_available.json"))
	mw.Close()
	resp := e.do("POST", "/scans", "", &body, map[string]string{"Cookie": eng.Name + "=" + eng.Value, "Content-Type": mw.FormDataContentType()})
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(page), `id="imported"`) || !strings.Contains(string(page), "grype") {
		t.Fatalf("upload form: %d", resp.StatusCode)
	}
	st, list := e.page(eng, "/findings?asset=app")
	if st != 200 || !strings.Contains(list, `id="finding-fnd_`) {
		t.Fatalf("register page: %d", st)
	}
	id := list[strings.Index(list, `id="finding-`)+len(`id="finding-`):]
	id = id[:strings.Index(id, `"`)]
	st, one := e.page(eng, "/findings/"+id)
	if st != 200 || !strings.Contains(one, "finding.opened") || !strings.Contains(one, "days (vuln.sla_days.") {
		t.Errorf("finding page: %d", st)
	}
	// A Trivy image report read from the form's file, with a statement.
	body.Reset()
	mw = multipart.NewWriter(&body)
	mw.WriteField("csrf_token", csrf)
	mw.WriteField("asset", "image")
	fw, _ = mw.CreateFormFile("report", "trivy.json")
	fw.Write(fixture.Read(t, "vuln/trivy/all_statuses.json"))
	mw.Close()
	resp = e.do("POST", "/scans", "", &body, map[string]string{"Cookie": eng.Name + "=" + eng.Value, "Content-Type": mw.FormDataContentType()})
	page, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(page), "its 1 statements decided 0 findings.") {
		t.Errorf("Trivy upload form: %d", resp.StatusCode)
	}
}

// The approval of a risk acceptance goes through the API with the server
// enforcing who may decide.
func TestAcceptanceApprovalOverTheAPI(t *testing.T) {
	e := newSQLiteEnv(t)
	resp := e.do("POST", "/api/v1/scans?asset=app", e.tokens[auth.Engineer], bytes.NewReader(fixture.Read(t, "vuln/trivy/scheme_2_many_vulns.json")), nil)
	var sum vuln.Summary
	jsonBody(t, resp, &sum)
	var page struct {
		Items []vuln.Finding `json:"items"`
	}
	jsonBody(t, e.do("GET", "/api/v1/findings?asset=app&limit=1", e.tokens[auth.Engineer], nil, nil), &page)
	if len(page.Items) != 1 {
		t.Fatalf("no finding to work on: %+v", sum)
	}
	id := page.Items[0].ID
	ask := `{"justification":"compensating control: the endpoint is not exposed","until":"2099-01-31"}`
	resp = e.do("POST", "/api/v1/findings/"+id+"/accept", e.tokens[auth.SecurityOfficer], strings.NewReader(ask), nil)
	var req vuln.Request
	jsonBody(t, resp, &req)
	if resp.StatusCode != http.StatusCreated || req.Status != "pending" || req.RequestedBy != "security-officer" {
		t.Fatalf("accept: %d %+v", resp.StatusCode, req)
	}
	if resp := e.do("POST", "/api/v1/requests/"+req.ID+"/approve", e.tokens[auth.Engineer], nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("engineer approved: %d", resp.StatusCode)
	}
	resp = e.do("POST", "/api/v1/requests/"+req.ID+"/approve", e.tokens[auth.SecurityOfficer], nil, nil)
	if b := errorOf(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(b.Error.Message, "may not decide") {
		t.Errorf("requester approved: %d %+v", resp.StatusCode, b)
	}
	var inbox struct {
		Items []vuln.Request `json:"items"`
	}
	jsonBody(t, e.do("GET", "/api/v1/requests?status=pending", e.tokens[auth.Auditor], nil, nil), &inbox)
	if len(inbox.Items) != 1 || inbox.Items[0].ID != req.ID {
		t.Errorf("inbox = %+v", inbox)
	}
	// A second security officer decides.
	cli := auth.CLI("test")
	e.app.Auth.CreateUser(ctx, cli, auth.NewUser{Username: "ines", Role: auth.SecurityOfficer, Password: password})
	tok := ownToken(t, e.app, "ines")
	resp = e.do("POST", "/api/v1/requests/"+req.ID+"/approve", tok, strings.NewReader(`{"note":"ok until the redesign"}`), nil)
	if resp.StatusCode != 200 {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	var f vuln.Finding
	jsonBody(t, e.do("GET", "/api/v1/findings/"+id, e.tokens[auth.Auditor], nil, nil), &f)
	if f.Status != vuln.Closed || f.Resolution != vuln.RiskAccepted || f.AcceptedUntil == nil {
		t.Errorf("finding after approval = %+v", f)
	}
}

// An asset's owner is a user; the register lists assets with their owners.
func TestAssetOwnersOverTheAPI(t *testing.T) {
	e := newSQLiteEnv(t)
	if _, err := e.app.Vuln.Import(ctx, "t", vuln.ImportRequest{File: "pt.csv", Data: []byte("id,title,severity,asset\nPT-1,Weak TLS,high,shop\n")}); err != nil {
		t.Fatal(err)
	}
	if resp := e.do("PUT", "/api/v1/assets/shop/owner", e.tokens[auth.EngineeringHead], strings.NewReader(`{"owner":"nobody"}`), nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown owner: %d", resp.StatusCode)
	}
	if resp := e.do("PUT", "/api/v1/assets/nope/owner", e.tokens[auth.EngineeringHead], strings.NewReader(`{"owner":"engineer"}`), nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown asset: %d", resp.StatusCode)
	}
	if resp := e.do("PUT", "/api/v1/assets/shop/owner", e.tokens[auth.Engineer], strings.NewReader(`{"owner":"engineer"}`), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("engineer names an owner: %d", resp.StatusCode)
	}
	if resp := e.do("PUT", "/api/v1/assets/shop/owner", e.tokens[auth.EngineeringHead], strings.NewReader(`{"owner":"engineer"}`), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("set owner: %d", resp.StatusCode)
	}
	var list struct {
		Items []vuln.AssetInfo `json:"items"`
	}
	jsonBody(t, e.do("GET", "/api/v1/assets", e.tokens[auth.Auditor], nil, nil), &list)
	if len(list.Items) != 1 || list.Items[0].Owner != "engineer" || list.Items[0].Open != 1 {
		t.Errorf("assets = %+v", list.Items)
	}
}

// A report sent without a length (chunked, as curl sends a pipe) or larger
// than spoolAbove is written to a temporary file and imported from there,
// with the same outcome as one held in memory, and leaves no file behind.
func TestUploadSpooledScan(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := newSQLiteEnv(t)
	chunked := func(b []byte) io.Reader { return io.MultiReader(bytes.NewReader(b)) } // no length known
	report := fixture.Read(t, "vuln/trivy/securecodebox-repo.json")
	want, err := importers.Parse("r.json", "trivy", report)
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/scans?" + url.Values{"asset": {"spooled"}, "file": {"trivy.json"}}.Encode()
	resp := e.do("POST", path, e.tokens[auth.Engineer], chunked(report), map[string]string{"Content-Type": "application/octet-stream"})
	var sum vuln.Summary
	jsonBody(t, resp, &sum)
	if resp.StatusCode != http.StatusCreated || sum.Format != "trivy" || sum.New == 0 || sum.New > len(want.Findings) || sum.Asset != "spooled" {
		t.Fatalf("spooled upload: %d %+v", resp.StatusCode, sum)
	}
	// Its evidence is the report, byte for byte (stored compressed from
	// the file).
	sha := sha256.Sum256(report)
	resp = e.do("GET", "/api/v1/ledger/evidence/"+hex.EncodeToString(sha[:]), e.tokens[auth.Auditor], nil, nil)
	if got, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || !bytes.Equal(got, report) {
		t.Errorf("evidence: %d, %d bytes of %d", resp.StatusCode, len(got), len(report))
	}
	// A format that does not stream is read whole from the file.
	grype := fixture.Read(t, "vuln/grype/"+firstSample(t, "vuln/grype"))
	resp = e.do("POST", "/api/v1/scans?asset=spooled-grype&file=grype.json", e.tokens[auth.Engineer], chunked(grype), map[string]string{"Content-Type": "application/octet-stream"})
	var g vuln.Summary
	jsonBody(t, resp, &g)
	if resp.StatusCode != http.StatusCreated || g.Format != "grype" || g.Findings == 0 {
		t.Errorf("spooled Grype upload: %d %+v", resp.StatusCode, g)
	}
	// A truncated report is refused with its line, nothing imported.
	resp = e.do("POST", "/api/v1/scans?asset=spooled-bad&file=trivy.json", e.tokens[auth.Engineer], chunked(report[:len(report)-300]), nil)
	if b := errorOf(t, resp); resp.StatusCode != 400 || !strings.Contains(b.Error.Message, "trivy.json:") || !strings.Contains(b.Error.Message, "truncated") {
		t.Errorf("truncated: %d %+v", resp.StatusCode, b)
	}
	var page struct {
		Total int `json:"total"`
	}
	jsonBody(t, e.do("GET", "/api/v1/findings?asset=spooled-bad", e.tokens[auth.Auditor], nil, nil), &page)
	if page.Total != 0 {
		t.Errorf("a refused report left %d findings", page.Total)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind in the temporary directory: %v", left)
	}
}

func firstSample(t *testing.T, dir string) string {
	entries, err := os.ReadDir(fixture.Path(t, dir))
	if err != nil || len(entries) == 0 {
		t.Fatalf("%s: %v", dir, err)
	}
	return entries[0].Name()
}

// An assessment's rows that name their asset are recorded there, whatever
// asset the upload gives; that one is the default of the rows naming none.
func TestUploadAssessmentRowsKeepTheirAsset(t *testing.T) {
	e := newSQLiteEnv(t)
	csv := "id,title,severity,cvss,cve,asset,location,description,recommendation,reference\n" +
		"PT-1,SQL injection,high,,,https://shop.example.com,/search,d,,\n" +
		"PT-2,Weak TLS,medium,,,mail.example.com:25,,d,,\n" +
		"PT-3,Default password,high,,,,admin,d,,\n"
	path := "/api/v1/scans?" + url.Values{"asset": {"form-asset"}, "kind": {"url"}, "file": {"pentest.csv"}}.Encode()
	resp := e.do("POST", path, e.tokens[auth.Engineer], strings.NewReader(csv), map[string]string{"Content-Type": "application/octet-stream"})
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	var sum vuln.Summary
	jsonBody(t, resp, &sum)
	if sum.New != 3 || sum.Asset != "form-asset" || strings.Join(sum.Assets, " ") != "form-asset https://shop.example.com mail.example.com:25" {
		t.Errorf("summary %+v", sum)
	}
	for asset, want := range map[string]string{"https://shop.example.com": "PT-1", "mail.example.com:25": "PT-2", "form-asset": "PT-3"} {
		var page struct {
			Items []vuln.Finding `json:"items"`
		}
		jsonBody(t, e.do("GET", "/api/v1/findings?"+url.Values{"asset": {asset}}.Encode(), e.tokens[auth.Auditor], nil, nil), &page)
		if len(page.Items) != 1 || page.Items[0].VulnID != want {
			t.Errorf("findings of %s: %+v, want %s only", asset, page.Items, want)
		}
	}
}
