package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/opsguard/opsguard/ledger"
)

// TestBrowserAuditDownloadAndVerify: an auditor downloads the bundle of
// today from the Audit page, uploads it to the verify page (verified),
// then a truncated copy of it (refused).
func TestBrowserAuditDownloadAndVerify(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(tab, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	browse(t, tab, chromedp.Navigate(e.http.URL+"/login"))
	submitSignIn(t, tab, "auditor", password, 200)
	today := time.Now().UTC().Format("2006-01-02")
	browse(t, tab,
		chromedp.Navigate(e.http.URL+"/audit"),
		chromedp.WaitVisible(chromedp.ID("download")),
		chromedp.SetValue(chromedp.CSS(`#download input[name=from]`), today),
		chromedp.SetValue(chromedp.CSS(`#download input[name=to]`), today),
		chromedp.Click(chromedp.CSS(`#download button`)),
	)
	bundle := waitDownload(t, tab, dir)

	verifyUpload := func(file string) string {
		browse(t, tab,
			chromedp.Navigate(e.http.URL+"/audit"),
			chromedp.WaitVisible(chromedp.ID("verify-form")),
			chromedp.SetUploadFiles(chromedp.CSS(`#verify-form input[name=bundle]`), []string{file}),
			chromedp.Click(chromedp.ID("verify-bundle")),
			chromedp.WaitVisible(chromedp.CSS("#verify-result, #verify-error")),
		)
		return textOf(t, tab, chromedp.CSS("main"))
	}
	if got := verifyUpload(bundle); !strings.Contains(got, "verified") || !strings.Contains(got, "42 requirements") {
		t.Errorf("the downloaded bundle, uploaded:\n%s", got)
	}
	b, _ := os.ReadFile(bundle)
	bad := filepath.Join(t.TempDir(), "bad.zip")
	os.WriteFile(bad, b[:len(b)-100], 0o644)
	if got := verifyUpload(bad); !strings.Contains(got, "does not verify") {
		t.Errorf("a truncated bundle, uploaded:\n%s", got)
	}
	// The download is ledgered with who asked.
	es, err := e.app.Entries(ctx, ledger.EntryFilter{Kind: "audit.exported", Limit: 10})
	if err != nil || len(es) != 1 || es[0].Actor != "auditor" {
		t.Errorf("audit.exported entries: %+v %v", es, err)
	}
}

// waitDownload waits for the one finished download in dir.
func waitDownload(t *testing.T, tab context.Context, dir string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		ms, _ := filepath.Glob(filepath.Join(dir, "*.zip"))
		if len(ms) == 1 {
			return ms[0]
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no bundle downloaded to %s", dir)
	return ""
}
