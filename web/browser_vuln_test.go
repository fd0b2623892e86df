package web_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opsguard/opsguard/fixture"
	"github.com/opsguard/opsguard/vuln"
)

// A security officer approves an engineer's risk acceptance in the browser,
// and the register shows the finding closed as an accepted risk.
func TestBrowserRegisterAndApproval(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)
	sum, err := e.app.Vuln.Import(ctx, "engineer", vuln.ImportRequest{Asset: "shop", File: "trivy.json", Data: fixture.Read(t, "vuln/trivy/scheme_2_many_vulns.json")})
	if err != nil || sum.New == 0 {
		t.Fatalf("import: %+v %v", sum, err)
	}
	page, _, _ := e.app.Vuln.List(ctx, vuln.Filter{Asset: "shop", Limit: 1})
	target := page[0]
	req, err := e.app.Vuln.RequestAcceptance(ctx, vuln.Actor{Name: "engineer"}, target.ID, "internal admin tool, no network exposure", time.Now().AddDate(0, 2, 0))
	if err != nil {
		t.Fatal(err)
	}

	browse(t, tab, chromedp.Navigate(e.http.URL+"/findings?asset=shop"))
	submitSignIn(t, tab, "security-officer", password, 200)
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("register")))
	if got := textOf(t, tab, chromedp.ID("register")); !strings.Contains(got, target.VulnID) {
		t.Errorf("the register lacks %s:\n%s", target.VulnID, got)
	}
	if got := textOf(t, tab, chromedp.ID("counts")); !strings.Contains(got, "open") || !strings.Contains(got, "past due") {
		t.Errorf("counts = %q", got)
	}

	browse(t, tab, chromedp.Navigate(e.http.URL+"/approvals"), chromedp.WaitVisible(chromedp.ID("request-"+req.ID)))
	resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS("#request-"+req.ID+" form[action$='/approve'] button")))
	if err != nil || resp.Status != 200 {
		t.Fatalf("approve: %v %v", resp, err)
	}
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("flash")))
	if got := textOf(t, tab, chromedp.ID("flash")); !strings.Contains(got, "approved") {
		t.Errorf("flash = %q", got)
	}
	if got := textOf(t, tab, chromedp.ID("decided")); !strings.Contains(got, "approved by security-officer") {
		t.Errorf("decided = %q", got)
	}

	browse(t, tab, chromedp.Navigate(e.http.URL+"/findings/"+target.ID), chromedp.WaitVisible(chromedp.ID("facts")))
	if got := textOf(t, tab, chromedp.ID("facts")); !strings.Contains(got, "closed (risk_accepted)") {
		t.Errorf("finding facts = %q", got)
	}
	if got := textOf(t, tab, chromedp.ID("history")); !strings.Contains(got, "finding.acceptance_approved") {
		t.Errorf("history = %q", got)
	}
}

// slowReads serves h, reading upload bodies at about 4 MB/s and pausing
// before answering, so that a browser's upload has a progress to show.
func slowReads(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.Body = &throttled{ReadCloser: r.Body}
		}
		h.ServeHTTP(w, r)
	})
}

type throttled struct {
	io.ReadCloser
	done bool
}

func (t *throttled) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	time.Sleep(time.Duration(n) * time.Second / (4 << 20))
	if err == io.EOF && !t.done {
		t.done = true
		time.Sleep(time.Second) // the import itself, made visible
	}
	return n, err
}

// The import form shows the upload's progress, then the import's summary.
func TestBrowserUploadProgress(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)
	srv := httptest.NewServer(slowReads(e.server.Handler()))
	t.Cleanup(srv.Close)
	// A real Trivy report padded with trailing whitespace (valid JSON) to
	// 12 MB, so that the upload takes a few seconds.
	data := fixture.Read(t, "vuln/trivy/scheme_2_many_vulns.json")
	report := filepath.Join(t.TempDir(), "trivy.json")
	if err := os.WriteFile(report, append(data, bytes.Repeat([]byte(" "), 12<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	// A register already a page long, so that the form is far below the
	// top of the page.
	if _, err := e.app.Vuln.Import(ctx, "engineer", vuln.ImportRequest{Asset: "earlier", File: "trivy.json", Data: data}); err != nil {
		t.Fatal(err)
	}
	browse(t, tab, chromedp.Navigate(srv.URL+"/findings"))
	submitSignIn(t, tab, "engineer", password, 200)
	browse(t, tab,
		chromedp.WaitVisible(chromedp.ID("import")),
		chromedp.SetUploadFiles(chromedp.CSS("#import input[type=file]"), []string{report}),
		chromedp.SendKeys(chromedp.CSS("#import input[name=asset]"), "shop"),
		chromedp.ScrollIntoView(chromedp.CSS("#import button[type=submit]")),
		chromedp.Click(chromedp.CSS("#import button[type=submit]")),
	)
	var seen []string
	partial, uploaded := false, false
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		status, err := chromedp.Run(tab, chromedp.Evaluate[string](`(document.getElementById("upload-status")||{}).textContent||""`))
		if err != nil {
			continue // the page is being replaced
		}
		if status != "" && (len(seen) == 0 || seen[len(seen)-1] != status) {
			seen = append(seen, status)
		}
		if strings.HasPrefix(status, "Uploading: ") && !strings.HasPrefix(status, "Uploading: 100%") {
			partial = true
		}
		if strings.HasPrefix(status, "Uploaded") {
			uploaded = true
		}
		if done, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`!!document.getElementById("imported")`)); done {
			break
		}
	}
	if !partial || !uploaded {
		t.Errorf("the progress shown: %q", seen)
	}
	t.Logf("progress shown: %q", seen)
	if got := textOf(t, tab, chromedp.ID("imported")); !strings.Contains(got, "of shop") || !strings.Contains(got, "new") {
		t.Errorf("import summary = %q", got)
	}
	// The summary is where the eye is, not above the fold of a page redrawn
	// scrolled to its bottom.
	if in, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => { const r = document.getElementById("imported").getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()`)); err != nil || !in {
		y, _ := chromedp.Run(tab, chromedp.Evaluate[float64](`scrollY`))
		t.Errorf("the import summary is out of view after the upload (scrollY %v, %v)", y, err)
	}
	if n, _ := e.app.Vuln.Count(ctx, vuln.Filter{Asset: "shop"}); n == 0 {
		t.Error("nothing was imported")
	}
}
