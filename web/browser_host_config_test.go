package web_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/host/baseline"
)

// An auditor opens a host's page: its baseline results, a drift approved
// by the change ticket that names it (linked), a drift without one shown
// as a violation, and the packages outside the approved list.
func TestBrowserHostDrift(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)
	now := time.Now().UTC().Truncate(time.Second)

	eng, head := change.Actor{Name: "engineer", Username: "engineer"}, change.Actor{Name: "engineering-head", Username: "engineering-head", Approver: true}
	tk, err := e.app.Tickets.Create(ctx, eng, change.NewTicket{Title: "Allow root sign-in on web-1 for the migration",
		Description: "Relax ssh-root-login on web-1 during the database move.", Category: "configuration", Impact: "web-1 ssh", Risk: "medium",
		Rollback: "set PermitRootLogin no", WindowStart: ptr(now.Add(-time.Hour)), WindowEnd: ptr(now.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Tickets.Submit(ctx, eng, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Tickets.Approve(ctx, head, tk.ID, "ok for the move"); err != nil {
		t.Fatal(err)
	}
	doc := "name: web\nchecks:\n" +
		"  - {id: ssh-root-login, kind: setting, path: /etc/ssh/sshd_config, key: PermitRootLogin, value: \"no\"}\n" +
		"  - {id: net-ip-forward, kind: sysctl, key: net.ipv4.ip_forward, value: \"0\"}\n" +
		"software: [\"openssh-*\", \"lib*\"]\n"
	b, err := e.app.Host.AddBaseline(ctx, "engineering-head", "web", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if b, err = e.app.Host.DecideBaseline(ctx, "security-officer", b.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	report := func(at time.Time, rootLogin, forward string) {
		t.Helper()
		r := host.Report{Version: 1, HostID: "m-web-1", Hostname: "web-1", Environment: "production", Groups: []string{"web"}, CollectedAt: at,
			Memory:   host.Memory{TotalBytes: 100, UsedBytes: 10},
			Packages: []baseline.Package{{Name: "openssh-server", Version: "1:9.2p1-2"}, {Name: "libc6", Version: "2.36-9"}, {Name: "netcat-traditional", Version: "1.10-47"}},
			Baseline: &host.Evaluation{Baseline: b.ID, Results: []baseline.Result{
				{Check: "ssh-root-login", Kind: "setting", Pass: rootLogin == "no", Observed: map[string]string{"value": rootLogin}},
				{Check: "net-ip-forward", Kind: "sysctl", Pass: forward == "0", Observed: map[string]string{"value": forward}},
			}}}
		if _, err := e.app.Host.Ingest(ctx, host.Sender{Actor: "agent"}, r); err != nil {
			t.Fatal(err)
		}
	}
	report(now.Add(-2*time.Minute), "no", "0")
	report(now.Add(-time.Minute), "yes", "1")

	browse(t, tab, chromedp.Navigate(e.http.URL+"/hosts/web-1"))
	submitSignIn(t, tab, "auditor", password, 200)
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("drifts")))
	if got := textOf(t, tab, chromedp.CSS("#drifts tr.drift-approved")); !strings.Contains(got, "ssh-root-login") || !strings.Contains(got, tk.ID) ||
		!strings.Contains(got, "value=no") || !strings.Contains(got, "value=yes") {
		t.Errorf("approved drift row = %q", got)
	}
	if got := textOf(t, tab, chromedp.CSS("#drifts tr.drift-violation")); !strings.Contains(got, "net-ip-forward") || !strings.Contains(got, "violation") {
		t.Errorf("violation row = %q", got)
	}
	if got := textOf(t, tab, chromedp.ID("results")); !strings.Contains(got, "fail") || !strings.Contains(got, b.ID) {
		t.Errorf("results = %q", got)
	}
	if got := textOf(t, tab, chromedp.ID("violations")); !strings.Contains(got, "netcat-traditional") || strings.Contains(got, "libc6") {
		t.Errorf("software violations = %q", got)
	}
	href, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS("#drifts tr.drift-approved a"), "href"))
	if err != nil || href.Value != "/tickets/"+tk.ID {
		t.Errorf("ticket link %q, %v", href.Value, err)
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(screenshotDir(t), "host-drift.png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
	browse(t, tab, chromedp.Click(chromedp.CSS("#drifts tr.drift-approved a")), chromedp.WaitVisible(chromedp.ID("state")))
	if got := textOf(t, tab, chromedp.ID("state")); got != "approved" {
		t.Errorf("the linked ticket's state = %q", got)
	}
}
