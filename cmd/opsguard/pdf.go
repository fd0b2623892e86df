package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// printPDF prints an HTML document to PDF with headless Chromium, on this
// machine: the file is written to a private temporary directory and opened
// from there, with no network.
func printPDF(ctx context.Context, html []byte) ([]byte, error) {
	dir, err := os.MkdirTemp("", "opsguard-pdf-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "document.html")
	if err := os.WriteFile(file, html, 0o600); err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.UserDataDir(filepath.Join(dir, "profile")))
	if p := chromium(); p != "" {
		opts = append(opts, chromedp.ExecPath(p))
	}
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	tab, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(tab, chromedp.Navigate("file://"+file)); err != nil {
		return nil, fmt.Errorf("print the PDF with headless Chromium (install chromium): %w", err)
	}
	tctx, cancel := context.WithTimeout(tab, time.Minute)
	defer cancel()
	pdf, err := chromedp.Run(tctx, chromedp.Action[[]byte](func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		yes := true
		r, err := cdp.Call(ctx, t, page.PrintToPDF, page.PrintToPDFParams{PrintBackground: &yes})
		return r.Data, err
	}))
	if err != nil {
		return nil, fmt.Errorf("print the PDF with headless Chromium (install chromium): %w", err)
	}
	return pdf, nil
}

// chromium finds Debian's browser; "" lets chromedp look.
func chromium() string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
