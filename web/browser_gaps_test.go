package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opsguard/opsguard/policy"
)

// An admin puts a host in groups from its page, which shows the sealed
// daily capacity records; the compliance view draws its trend.
func TestBrowserHostGroupsAndTrend(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)
	addHosts(t, e)
	if _, _, err := e.app.Host.RecordDay(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Policy.RecordCompliance(ctx); err != nil {
		t.Fatal(err)
	}
	browse(t, tab, chromedp.EmulateViewport(1400, 900), chromedp.Navigate(e.http.URL+"/hosts/db-1"))
	submitSignIn(t, tab, "admin", password, 200)
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("groups-form")))
	if got := textOf(t, tab, chromedp.ID("capacity-days")); !strings.Contains(got, "/var/lib/postgresql") {
		t.Errorf("#capacity-days = %q, want the filesystem's peak", got)
	}
	browse(t, tab, chromedp.SetValue(chromedp.CSS(`#groups-form input[name=groups]`), "databases critical-db"),
		chromedp.Click(chromedp.CSS(`#groups-form button`)), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := textOf(t, tab, chromedp.ID("groups-form")); !strings.Contains(got, "set by admin") {
		t.Errorf("#groups-form after the post = %q", got)
	}
	if h, err := e.app.Host.Host(ctx, "db-1"); err != nil || strings.Join(h.Groups, " ") != "critical-db databases" {
		t.Errorf("groups %v, %v", h.Groups, err)
	}
	shoot(t, tab, "host-groups-1400")
	browse(t, tab, chromedp.Navigate(e.http.URL+"/requirements"), chromedp.WaitVisible(chromedp.CSS("#trend svg.counts")))
	if n, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#trend svg rect").length`)); n == 0 {
		t.Error("the trend has no bar")
	}
	shoot(t, tab, "requirements-trend-1400")
}

// The author edits a draft of a company's own document in the browser.
func TestBrowserPolicyDraftEdit(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)
	eh := policy.Actor{Name: "engineering-head", Username: "engineering-head", Role: "engineering_head"}
	if _, err := e.app.Policy.Draft(ctx, eh, "acceptable-use", policy.NewDraft{Title: "Acceptable use", Summary: "First", Source: "# Acceptable use at {{.Company}}\n\nLaptops are locked.\n"}); err != nil {
		t.Fatal(err)
	}
	browse(t, tab, chromedp.EmulateViewport(1400, 900), chromedp.Navigate(e.http.URL+"/policies/acceptable-use"))
	submitSignIn(t, tab, "engineering-head", password, 200)
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("edit-1")),
		chromedp.SetValue(chromedp.CSS(`#edit-1 textarea[name=source]`), "# Acceptable use at {{.Company}}\n\nLaptops are locked and encrypted.\n"),
		chromedp.SetValue(chromedp.CSS(`#edit-1 input[name=summary]`), "Encryption too"),
		chromedp.Click(chromedp.ID("save-1")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := textOf(t, tab, chromedp.ID("document")); !strings.Contains(got, "locked and encrypted") {
		t.Errorf("#document after the edit = %q", got)
	}
	shoot(t, tab, "policy-draft-edit-1400")
}
