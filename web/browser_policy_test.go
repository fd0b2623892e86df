package web_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opsguard/opsguard/policy"
)

// The security officer reads the compliance view and a requirement's page
// in the browser, and approves a version of the policy an engineering
// head submitted; screenshots of each page are kept for a look.
func TestBrowserRequirementsAndPolicyApproval(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)
	if err := e.app.PolicyAtStart(ctx); err != nil {
		t.Fatal(err)
	}
	const doc = "operations-security-policy"
	if _, err := e.app.Policy.Submit(ctx, policy.Actor{Name: "engineering-head", Username: "engineering-head"}, doc, 1); err != nil {
		t.Fatal(err)
	}
	shots := t.TempDir()
	if d := os.Getenv("OPSGUARD_SCREENSHOTS"); d != "" {
		shots = d // kept after the test, to look at
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		p := filepath.Join(shots, name+".png")
		os.WriteFile(p, png, 0o600)
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}

	browse(t, tab, chromedp.Navigate(e.http.URL+"/requirements"))
	submitSignIn(t, tab, "security-officer", password, 200)
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("requirements")))
	if got := textOf(t, tab, chromedp.ID("req-LG-4")); !strings.Contains(got, "gap") {
		t.Errorf("#req-LG-4 = %q, want a gap", got)
	}
	if got := textOf(t, tab, chromedp.ID("count-gap")); strings.HasPrefix(got, "0 ") {
		t.Errorf("#count-gap = %q", got)
	}
	shot("requirements")
	browse(t, tab, chromedp.Click(chromedp.CSS("#req-CM-9 a")), chromedp.WaitVisible(chromedp.ID("attestations")))
	if got := textOf(t, tab, chromedp.ID("controls")); !strings.Contains(got, "CM-9.attested") {
		t.Errorf("CM-9's controls = %q", got)
	}
	if got := textOf(t, tab, chromedp.ID("state")); got != "gap" {
		t.Errorf("CM-9 state = %q", got)
	}
	shot("requirement-CM-9")

	browse(t, tab, chromedp.Navigate(e.http.URL+"/policies"), chromedp.WaitVisible(chromedp.ID("doc-"+doc)))
	browse(t, tab, chromedp.Click(chromedp.CSS("#doc-"+doc+" a")), chromedp.WaitVisible(chromedp.ID("approve-1")))
	if got := textOf(t, tab, chromedp.ID("document")); !strings.Contains(got, "CM-10") || !strings.Contains(got, "Version history") {
		t.Errorf("the rendered document lacks its requirements or history")
	}
	resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.ID("approve-1")))
	if err != nil || resp.Status != 200 {
		t.Fatalf("approve: %v %v", resp, err)
	}
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("flash")))
	if got := textOf(t, tab, chromedp.ID("v1")); !strings.Contains(got, "approved") || !strings.Contains(got, "security-officer") {
		t.Errorf("v1 = %q", got)
	}
	shot("policy-approved")
}
