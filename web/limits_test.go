package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/vuln"
)

// A report with a description of megabytes is accepted, its text stored
// cut and marked cut (API and page), and the report kept whole as
// evidence; a SARIF log larger than the in-memory limit with a huge
// message too.
func TestHugeTextsAreCutNotServed(t *testing.T) {
	e := newSQLiteEnv(t)
	huge := strings.Repeat("A", 12<<20)
	for _, tc := range []struct {
		name, asset string
		report      []byte
	}{
		{"trivy", "img", []byte(`{"SchemaVersion":2,"ArtifactName":"img","Results":[{"Target":"t","Type":"debian","Vulnerabilities":[
			{"VulnerabilityID":"CVE-2024-0001","PkgName":"p","InstalledVersion":"1","Severity":"HIGH","Title":"t","Description":"` + huge[:5<<20] + `"}]}]}`)},
		{"sarif", "repo", []byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}},"results":[{"ruleId":"R1","level":"error","message":{"text":"` + huge + `"}}]}]}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunked := io.MultiReader(bytes.NewReader(tc.report)) // no length: spooled
			resp := e.do("POST", "/api/v1/scans?asset="+tc.asset, e.tokens[auth.Engineer], chunked, map[string]string{"Content-Type": "application/octet-stream"})
			var sum vuln.Summary
			jsonBody(t, resp, &sum)
			if resp.StatusCode != http.StatusCreated || sum.New != 1 {
				t.Fatalf("upload: %d %+v", resp.StatusCode, sum)
			}
			var page struct{ Items []vuln.Finding }
			jsonBody(t, e.do("GET", "/api/v1/findings?asset="+tc.asset, e.tokens[auth.Auditor], nil, nil), &page)
			resp = e.do("GET", "/api/v1/findings/"+page.Items[0].ID, e.tokens[auth.Auditor], nil, nil)
			body, _ := io.ReadAll(resp.Body)
			if len(body) > 80<<10 || !bytes.Contains(body, []byte(`"description_cut":true`)) {
				t.Errorf("GET finding: %d bytes, %q…", len(body), body[:min(len(body), 300)])
			}
			ui, _ := e.signIn("auditor")
			resp = e.do("GET", "/findings/"+page.Items[0].ID, "", nil, map[string]string{"Cookie": ui.Name + "=" + ui.Value})
			if html, _ := io.ReadAll(resp.Body); !bytes.Contains(html, []byte(`id="description-cut"`)) {
				t.Errorf("the finding page does not say the description is cut")
			}
			sha := sha256.Sum256(tc.report)
			resp = e.do("GET", "/api/v1/ledger/evidence/"+hex.EncodeToString(sha[:]), e.tokens[auth.Auditor], nil, nil)
			if got, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || sha256.Sum256(got) != sha {
				t.Errorf("evidence: %d, %d bytes of %d", resp.StatusCode, len(got), len(tc.report))
			}
		})
	}
}

// An upload beyond vuln.max_concurrent_imports (2) is answered 429 with
// Retry-After at once; the two in progress are held by bodies not yet
// sent whole.
func TestUploadsBeyondTheLimitAre429(t *testing.T) {
	e := newSQLiteEnv(t)
	var writers []*io.PipeWriter
	done := make(chan int, 2)
	for i := range 2 {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		req, _ := http.NewRequest("POST", e.http.URL+fmt.Sprintf("/api/v1/scans?asset=held%d", i), pr)
		req.Header.Set("Authorization", "Bearer "+e.tokens[auth.Engineer])
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		if _, err := pw.Write([]byte("{")); err != nil {
			t.Fatal(err)
		}
	}
	// A write returns once the client sent it, not once a handler holds
	// a slot: wait until both do.
	for deadline := time.Now().Add(20 * time.Second); e.app.Vuln.Importing() < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the held uploads hold %d slots", e.app.Vuln.Importing())
		}
	}
	resp := e.do("POST", "/api/v1/scans?asset=third", e.tokens[auth.Engineer], strings.NewReader("{}"), nil)
	b := errorOf(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != fmt.Sprint(vuln.RetryAfter) ||
		!strings.Contains(b.Error.Message, "vuln.max_concurrent_imports") {
		t.Errorf("third upload: %d, Retry-After %q, %+v", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	mresp := e.do("GET", "/metrics", e.tokens[auth.Auditor], nil, nil)
	metrics, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(metrics), "opsguard_imports_running 2") {
		t.Errorf("/metrics does not show the two imports running")
	}
	for _, pw := range writers {
		pw.Close() // "{": a truncated report
	}
	for range 2 {
		if st := <-done; st != http.StatusBadRequest {
			t.Errorf("held upload: %d, want 400 for its truncated report", st)
		}
	}
}

// A body over its limit is 413, not 400.
func TestOverLargeBodyIs413(t *testing.T) {
	e := newSQLiteEnv(t)
	big := `{"justification": "` + strings.Repeat("x", 2<<20) + `"}`
	resp := e.do("POST", "/api/v1/findings/fnd_x/resolve", e.tokens[auth.Engineer], strings.NewReader(big), nil)
	if b := errorOf(t, resp); resp.StatusCode != http.StatusRequestEntityTooLarge || b.Error.Code != "too_large" {
		t.Errorf("2 MiB JSON body: %d %+v", resp.StatusCode, b)
	}
}

// A report nested a hundred thousand levels deep is refused with a
// message that quotes a JSON path of at most 200 bytes.
func TestDeeplyNestedReportHasAShortError(t *testing.T) {
	e := newSQLiteEnv(t)
	const depth = 100000
	report := `{"SchemaVersion":2,"ArtifactName":"img","Results":[{"Target":"t","Type":"debian","Vulnerabilities":[{"VulnerabilityID":` +
		strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + "}]}]}"
	resp := e.do("POST", "/api/v1/scans?asset=deep&file=deep.json", e.tokens[auth.Engineer], strings.NewReader(report), nil)
	if b := errorOf(t, resp); resp.StatusCode != http.StatusBadRequest || len(b.Error.Message) > 400 || !strings.Contains(b.Error.Message, "deep.json") {
		t.Errorf("deep report: %d, message of %d bytes: %.300s", resp.StatusCode, len(b.Error.Message), b.Error.Message)
	}
}
