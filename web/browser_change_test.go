package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opsguard/opsguard/change"
)

// An engineering head reads the change register in the browser, opens a
// direct push's evidence, and approves an engineer's change ticket.
func TestBrowserChangesAndTicketApproval(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)
	src := newSrcRepo(t)
	direct := src.commit("Erik <erik@example.com>", "Tweak the cache straight on main")
	src.commit("Bob <bob@example.com>", "Hotfix login\n\nEmergency: login outage INC-9")
	if _, err := e.app.Change.AddRepository(ctx, change.Actor{Name: "test", Local: true}, change.Repository{Name: "app", URL: src.dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Change.Sync(ctx, "test", "app", nil); err != nil {
		t.Fatal(err)
	}
	eng := change.Actor{Name: "engineer", Username: "engineer"}
	tk, err := e.app.Tickets.Create(ctx, eng, change.NewTicket{Title: "Rotate the TLS certificate of the edge", Description: "yearly rotation",
		Category: "configuration", Impact: "edge TLS", Risk: "low", Rollback: "restore the previous certificate from the vault"})
	if err != nil {
		t.Fatal(err)
	}
	browse(t, tab, chromedp.Navigate(e.http.URL+"/changes"))
	submitSignIn(t, tab, "engineering-head", password, 200)
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("repos")))
	if got := textOf(t, tab, chromedp.ID("repo-app")); !strings.Contains(got, "app") || !strings.Contains(got, "git") {
		t.Errorf("repository row = %q", got)
	}
	changes := textOf(t, tab, chromedp.ID("changes"))
	for _, want := range []string{"Tweak the cache straight on main", "emergency", "fail", "direct"} {
		if !strings.Contains(changes, want) {
			t.Errorf("the change list lacks %q:\n%s", want, changes)
		}
	}
	browse(t, tab, chromedp.Click(chromedp.CSS("#changes a[href^='/changes/chg_']")), chromedp.WaitVisible(chromedp.ID("facts")))
	d, err := e.app.Change.Get(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	browse(t, tab, chromedp.Navigate(e.http.URL+"/changes/"+d.ID), chromedp.WaitVisible(chromedp.ID("violations")))
	if got := textOf(t, tab, chromedp.ID("violations")); !strings.Contains(got, "CM-2") || !strings.Contains(got, "pushed straight to main") {
		t.Errorf("violations = %q", got)
	}
	if got := textOf(t, tab, chromedp.ID("history")); !strings.Contains(got, "change.violation") {
		t.Errorf("history = %q", got)
	}

	// The ticket must be submitted before it can be approved.
	if _, err := e.app.Tickets.Edit(ctx, eng, tk.ID, change.NewTicket{Title: tk.Title, Description: tk.Description, Category: tk.Category,
		Impact: tk.Impact, Risk: tk.Risk, Rollback: tk.Rollback, WindowStart: ptr(mustTime("2026-12-01T22:00:00Z")), WindowEnd: ptr(mustTime("2026-12-01T23:00:00Z"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Tickets.Submit(ctx, eng, tk.ID); err != nil {
		t.Fatal(err)
	}
	browse(t, tab, chromedp.Navigate(e.http.URL+"/tickets"), chromedp.WaitVisible(chromedp.ID("ticket-"+tk.ID)))
	if got := textOf(t, tab, chromedp.ID("col-submitted")); !strings.Contains(got, tk.Title) {
		t.Errorf("submitted column = %q", got)
	}
	browse(t, tab, chromedp.Click(chromedp.CSS("#ticket-"+tk.ID+" a")), chromedp.WaitVisible(chromedp.ID("approve")))
	resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS("#approve button")))
	if err != nil || resp.Status != 200 {
		t.Fatalf("approve: %v %v", resp, err)
	}
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("flash")))
	if got := textOf(t, tab, chromedp.ID("state")); got != "approved" {
		t.Errorf("state = %q", got)
	}
	if got := textOf(t, tab, chromedp.ID("decision")); !strings.Contains(got, "engineering-head") {
		t.Errorf("decision = %q", got)
	}
	if got := textOf(t, tab, chromedp.ID("history")); !strings.Contains(got, "ticket.approved") {
		t.Errorf("history = %q", got)
	}
	if got, _ := e.app.Tickets.Get(ctx, tk.ID); got.State != change.TicketApproved || got.DecidedBy != "engineering-head" {
		t.Errorf("stored ticket = %+v", got)
	}
}

func ptr[T any](v T) *T { return &v }

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
