package web_test

import (
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
