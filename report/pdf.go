package report

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// maxPrint bounds the time a report takes to print.
const maxPrint = 2 * time.Minute

// ChromiumPDF returns a printer of reports by headless Chromium, nil when
// no Chromium is installed (bundles then carry the HTML report alone).
func ChromiumPDF() func(ctx context.Context, html []byte) ([]byte, error) {
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		return nil
	}
	return func(ctx context.Context, html []byte) ([]byte, error) { return printPDF(ctx, bin, html) }
}

// printPDF loads html into a fresh headless Chromium, with no network
// (the report has no outside resource), and prints it.
func printPDF(ctx context.Context, bin string, html []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "opsguard-pdf-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, maxPrint)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin), chromedp.UserDataDir(dir), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	var pdf []byte
	err = chromedp.Do(tab,
		chromedp.Navigate("about:blank"),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			tree, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
			if err != nil {
				return err
			}
			_, err = chromedp.Call(ctx, page.SetDocumentContent, page.SetDocumentContentParams{FrameID: tree.FrameTree.Frame.ID, HTML: string(html)})
			return err
		}),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			res, err := chromedp.Call(ctx, page.PrintToPDF, page.PrintToPDFParams{PrintBackground: new(true)})
			pdf = res.Data
			return err
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("chromium: %w", err)
	}
	return pdf, nil
}
