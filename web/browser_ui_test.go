package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opsguard/opsguard/change"
	"github.com/opsguard/opsguard/vuln"
)

// screenshotDir is where the browser tests keep their screenshots, for a
// person to look at: $OPSGUARD_SCREENSHOTS, or testdata/screenshots.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("OPSGUARD_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// longPurlReport is a Trivy report of n Go modules with purls as long as
// real ones.
func longPurlReport(n int) []byte {
	var vs []map[string]any
	for i := range n {
		vs = append(vs, map[string]any{"VulnerabilityID": fmt.Sprintf("CVE-2024-%05d", 1000+i), "PkgName": fmt.Sprintf("github.com/example-organisation/service-mesh-controller-%02d", i),
			"PkgIdentifier":    map[string]any{"PURL": fmt.Sprintf("pkg:golang/github.com/example-organisation/service-mesh-controller-%02d@v1.24.%d", i, i)},
			"InstalledVersion": fmt.Sprintf("v1.24.%d", i), "Severity": []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}[i%4],
			"Title": "HTTP/2 rapid reset can cause excessive work in net/http servers of the control plane"})
	}
	b, _ := json.Marshal(map[string]any{"SchemaVersion": 2, "ArtifactName": "registry.example/mesh:1", "ArtifactType": "container_image",
		"Results": []map[string]any{{"Target": "mesh-controller", "Class": "lang-pkgs", "Type": "gobinary", "Vulnerabilities": vs}}})
	return b
}

// Every page at a desktop's and a phone's width: the register gives its
// package column room and stays a sensible height, the dashboard's words
// agree, a 404 keeps the navigation; each page is kept as a screenshot.
func TestBrowserPagesAtTwoWidths(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)
	if _, err := e.app.Vuln.Import(ctx, "engineer", vuln.ImportRequest{Asset: "mesh", File: "trivy.json", Data: longPurlReport(60)}); err != nil {
		t.Fatal(err)
	}
	fs, _, _ := e.app.Vuln.List(ctx, vuln.Filter{Asset: "mesh", Limit: 3})
	eng := vuln.Actor{Name: "engineer"}
	if _, err := e.app.Vuln.RequestAcceptance(ctx, eng, fs[0].ID, "the controller is not reachable from outside the cluster", time.Now().AddDate(0, 2, 0)); err != nil {
		t.Fatal(err)
	}
	r, err := e.app.Vuln.RequestAcceptance(ctx, eng, fs[1].ID, "compensating rate limit at the ingress, see RISK-12", time.Now().AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Vuln.Decide(ctx, vuln.Actor{Name: "security-officer", SecurityOfficer: true}, r.ID, true, "until the upgrade in March"); err != nil {
		t.Fatal(err)
	}
	tk, err := e.app.Tickets.Create(ctx, change.Actor{Name: "engineer", Username: "engineer"}, change.NewTicket{Title: "Raise the connection limit of the mesh controller", Category: "configuration", Risk: "low"})
	if err != nil {
		t.Fatal(err)
	}
	addHosts(t, e)
	if _, err := e.app.Controls.Run(ctx, "security-officer", "manual"); err != nil {
		t.Fatal(err)
	}

	browse(t, tab, chromedp.EmulateViewport(1400, 900), chromedp.Navigate(e.http.URL+"/login"))
	shoot(t, tab, "login-1400")
	submitSignIn(t, tab, "security-officer", password, 200)
	pages := []struct{ name, path string }{
		{"dashboard", "/"}, {"findings", "/findings"}, {"finding", "/findings/" + fs[1].ID}, {"approvals", "/approvals"},
		{"changes", "/changes"}, {"tickets", "/tickets"}, {"ticket", "/tickets/" + tk.ID}, {"ledger", "/ledger"}, {"users", "/users"},
		{"tokens", "/tokens"}, {"notifications", "/notifications"}, {"jobs", "/jobs"}, {"account", "/account"}, {"control", "/controls/VM-3.sla-kept"}, {"not-found", "/no/such/page"},
		{"hosts", "/hosts"}, {"host", "/hosts/db-1"},
	}
	pages = append(pages, backupPages(t, e)...)
	for _, width := range []int64{1400, 390} {
		browse(t, tab, chromedp.EmulateViewport(width, 900))
		for _, p := range pages {
			browse(t, tab, chromedp.Navigate(e.http.URL+p.path), chromedp.WaitReady(chromedp.CSS("main")))
			shoot(t, tab, fmt.Sprintf("%s-%d", p.name, width))
			// Nothing wider than the screen but what scrolls inside its section.
			if over, _ := chromedp.Run(tab, chromedp.Evaluate[float64](`document.documentElement.scrollWidth - innerWidth`)); over > 1 {
				t.Errorf("%s at %d px: the page is %v px wider than the screen", p.name, width, over)
			}
		}
	}

	t.Run("register", func(t *testing.T) {
		browse(t, tab, chromedp.EmulateViewport(1400, 900), chromedp.Navigate(e.http.URL+"/findings?asset=mesh"), chromedp.WaitVisible(chromedp.ID("register")))
		w, err := chromedp.Run(tab, chromedp.Evaluate[float64](`document.querySelector("#register td.where").getBoundingClientRect().width`))
		if err != nil || w < 200 {
			t.Errorf("the package column is %v px wide, want at least 200 (%v)", w, err)
		}
		rows, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#register tbody tr").length`))
		h, _ := chromedp.Run(tab, chromedp.Evaluate[float64](`document.getElementById("register").getBoundingClientRect().height`))
		if rows != 50 || h > 50*90 {
			t.Errorf("%d rows make the register %v px tall, want 50 rows of at most 90 px", rows, h)
		}
		// A short word in code is never broken: "main" stays one line high.
		lines, _ := chromedp.Run(tab, chromedp.Evaluate[float64](`(() => { const c = document.createElement("code"); c.textContent = "main"; const td = document.querySelector("#register td.where"); td.appendChild(c); const h = c.getBoundingClientRect().height; c.remove(); return h / parseFloat(getComputedStyle(c.parentElement || td).lineHeight || 20); })()`))
		if lines > 1.5 {
			t.Errorf("the word main in code takes %v lines", lines)
		}
	})

	t.Run("dashboard wording", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(e.http.URL+"/"), chromedp.WaitVisible(chromedp.ID("totals")))
		main := textOf(t, tab, chromedp.CSS("main"))
		if strings.Contains(main, "not evaluated") {
			t.Errorf("the dashboard still says not evaluated")
		}
		header := textOf(t, tab, chromedp.ID("totals"))
		pills, _ := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("tbody .pill.not_applicable")].map(p => p.textContent.trim())`))
		if !strings.Contains(header, "not applicable") || len(pills) == 0 || pills[0] != "not applicable" {
			t.Errorf("header %q and the statuses %q do not use one wording", header, pills)
		}
	})

	t.Run("404 keeps the navigation", func(t *testing.T) {
		resp, err := chromedp.RunResponse(tab, chromedp.Navigate(e.http.URL+"/no/such/page"))
		if err != nil || resp.Status != 404 {
			t.Fatalf("GET /no/such/page: %v %v", resp, err)
		}
		if nav := textOf(t, tab, chromedp.CSS("header nav")); !strings.Contains(nav, "Vulnerabilities") || !strings.Contains(nav, "Approvals") {
			t.Errorf("the 404 page's navigation = %q", nav)
		}
		browse(t, tab, chromedp.Navigate(e.http.URL+"/findings/fnd_nope"))
		if nav := textOf(t, tab, chromedp.CSS("header nav")); !strings.Contains(nav, "Vulnerabilities") {
			t.Errorf("an unknown finding's page has no navigation")
		}
	})
}

// shoot keeps a full-page screenshot of the tab as name.png.
func shoot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // quality 100: a PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot %s is not a PNG", name)
	}
	path := filepath.Join(screenshotDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}
