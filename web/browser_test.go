package web_test

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opsguard/opsguard/store/storetest"
)

// TestBrowserSignInDashboardLedger drives the UI in a real headless
// Chromium: the redirect to the sign-in page, a refused and an accepted
// sign-in, the dashboard before and after a run of the controls, and the
// ledger page with its verification.
func TestBrowserSignInDashboardLedger(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)

	t.Run("wrong password", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(e.http.URL+"/login"))
		submitSignIn(t, tab, "auditor", "not the password", 401)
		if got := textOf(t, tab, chromedp.CSS(".login .error")); !strings.Contains(got, "wrong user name or password") {
			t.Errorf("error on the login page = %q, want it to say wrong user name or password", got)
		}
		if got := locationOf(t, tab); got.Path != "/login" {
			t.Errorf("after a refused sign-in the browser is at %s, want /login", got)
		}
	})

	// The dashboard sends a browser without a session to the sign-in page,
	// which brings it back after the sign-in.
	browse(t, tab, chromedp.Navigate(e.http.URL+"/"))
	if got := locationOf(t, tab); got.Path != "/login" || got.Query().Get("next") != "/" {
		t.Fatalf("GET / without a session landed on %s, want /login?next=/", got)
	}
	submitSignIn(t, tab, "security-officer", password, 200)
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("totals")))
	if got := locationOf(t, tab); got.Path != "/" {
		t.Errorf("after sign-in the browser is at %s, want /", got)
	}
	if got := textOf(t, tab, chromedp.CSS("main")); !strings.Contains(got, "Compliance with the Operations Security policy") {
		t.Errorf("dashboard text lacks its heading:\n%s", got)
	}
	if got := textOf(t, tab, chromedp.ID("whoami")); !strings.Contains(got, "security-officer") {
		t.Errorf("#whoami = %q, want the signed-in user", got)
	}
	for _, area := range []string{"CM", "GV"} {
		browse(t, tab, chromedp.WaitReady(chromedp.ID("area-"+area)))
	}
	if got := textOf(t, tab, chromedp.ID("req-LG-4")); !strings.Contains(got, "not yet automated") {
		t.Errorf("#req-LG-4 = %q, want it not yet automated", got)
	}
	if got := textOf(t, tab, chromedp.CSS("#req-LG-3 .pill")); got == "pass" {
		t.Errorf("LG-3 passes before any run of the controls")
	}

	// Running the controls posts a form (with its CSRF token) and comes back
	// to the dashboard, where LG-3 now has a verified ledger behind it.
	if resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.ID("run-controls"))); err != nil {
		t.Fatalf("run controls: %v", err)
	} else if resp.Status != 200 {
		t.Fatalf("run controls: the page after it has status %d", resp.Status)
	}
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("totals")))
	if got := textOf(t, tab, chromedp.CSS("#req-LG-3 .pill")); got != "pass" {
		t.Errorf("LG-3 status after the run = %q, want pass (row: %q)", got, textOf(t, tab, chromedp.ID("req-LG-3")))
	}
	if got := textOf(t, tab, chromedp.CSS("main")); !strings.Contains(got, "by security-officer") {
		t.Errorf("dashboard does not name who ran the controls:\n%s", got)
	}

	browse(t, tab,
		chromedp.Navigate(e.http.URL+"/ledger"),
		chromedp.WaitVisible(chromedp.ID("checkpoint")),
		chromedp.WaitVisible(chromedp.ID("entries")),
	)
	if got := textOf(t, tab, chromedp.ID("entries")); !strings.Contains(got, "controls.run") || !strings.Contains(got, "auth.sign_in_failed") {
		t.Errorf("ledger entries lack the run of the controls or the refused sign-in:\n%s", got)
	}
	if resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.ID("verify"))); err != nil {
		t.Fatalf("verify: %v", err)
	} else if resp.Status != 200 {
		t.Fatalf("verify: status %d", resp.Status)
	}
	browse(t, tab, chromedp.WaitVisible(chromedp.ID("verify-result")))
	if got := textOf(t, tab, chromedp.ID("verify-result")); !strings.Contains(got, "Verified:") {
		t.Errorf("#verify-result = %q, want Verified: …", got)
	}

	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	shot := filepath.Join(t.TempDir(), "ledger.png")
	if err := os.WriteFile(shot, png, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the verified ledger: %s (%d bytes)", shot, len(png))
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) <= 10<<10 {
		t.Errorf("screenshot is not a PNG of more than 10 KB: %d bytes, starts %q", len(png), png[:min(8, len(png))])
	}
}

// newBrowser starts headless Chromium for t and returns the context of its
// first tab. The whole browser stops after three minutes, so a hung page fails
// the test instead of hanging it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		storetest.Missing(t, "browser tests need Chromium on the PATH (apt-get install chromium): "+err.Error())
	}
	out := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium output:\n%s", out)
		}
	})
	start := time.Now()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))
	return tab
}

// submitSignIn fills the sign-in form and submits it; the page it leads to must
// have status want.
func submitSignIn(t *testing.T, tab context.Context, user, pw string, want int64) {
	t.Helper()
	browse(t, tab,
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.SendKeys(chromedp.ID("username"), user),
		chromedp.SendKeys(chromedp.ID("password"), pw),
	)
	resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.ID("signin")))
	if err != nil {
		t.Fatalf("sign in as %s: %v", user, err)
	}
	if resp.Status != want {
		t.Fatalf("sign in as %s: status %d, want %d", user, resp.Status, want)
	}
}

func browse(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab, steps...); err != nil {
		t.Fatal(err)
	}
}

// textOf is the visible text of the first element sel matches.
func textOf[S chromedp.Selectable](t *testing.T, tab context.Context, sel S) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %v: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func locationOf(t *testing.T, tab context.Context) *url.URL {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
