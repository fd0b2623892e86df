package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup"
)

// From the backup overview to a data set's page: its procedure changed
// and a copy added through the page's forms, as a person does it.
func TestBrowserDataSetEditAndCopy(t *testing.T) {
	e := newSQLiteEnv(t)
	tab := newBrowser(t)
	by := backup.Actor{Name: "cli:infra-ops", Local: true, Username: "infra-ops", Role: auth.InfraOps}
	if _, err := e.app.Backup.AddDataSet(ctx, by, backup.DataSet{Name: "shop", Owner: "engineer", Description: "Orders"}); err != nil {
		t.Fatal(err)
	}
	browse(t, tab, chromedp.EmulateViewport(1400, 900), chromedp.Navigate(e.http.URL+"/backup"))
	submitSignIn(t, tab, "infra-ops", password, 200)
	if resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`#dataset-shop a[href="/backup/datasets/shop"]`))); err != nil || resp.Status != 200 {
		t.Fatalf("open the data set: %v %v", resp, err)
	}
	browse(t, tab,
		chromedp.WaitVisible(chromedp.ID("edit-dataset")),
		chromedp.SetValue(chromedp.CSS(`#edit-dataset input[name=retention_days]`), "30"),
		chromedp.SetValue(chromedp.CSS(`#edit-dataset textarea[name=instructions]`), "pgbackrest --stanza main restore, then start the shop on it"),
		chromedp.SetValue(chromedp.CSS(`#edit-dataset select[name=frequency]`), "hourly"),
	)
	if resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`#edit-dataset button[type=submit]`))); err != nil || resp.Status != 200 {
		t.Fatalf("save: %v %v", resp, err)
	}
	if got := textOf(t, tab, chromedp.ID("flash")); !strings.Contains(got, "Saved shop") {
		t.Errorf("flash after saving = %q", got)
	}
	browse(t, tab,
		chromedp.SendKeys(chromedp.CSS(`#new-copy input[name=name]`), "pitr"),
		chromedp.SetValue(chromedp.CSS(`#new-copy select[name=source]`), "pgbackrest"),
		chromedp.SendKeys(chromedp.CSS(`#new-copy input[name=location]`), "main"),
		chromedp.Click(chromedp.CSS(`#new-copy input[name=offsite]`)),
	)
	if resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`#new-copy button[type=submit]`))); err != nil || resp.Status != 201 {
		t.Fatalf("add copy: %v %v", resp, err)
	}
	if got := textOf(t, tab, chromedp.ID("copy-pitr")); !strings.Contains(got, "pgbackrest") || !strings.Contains(got, "yes") {
		t.Errorf("the copy's row = %q", got)
	}
	shoot(t, tab, "backup-dataset")
	d, cs, err := e.app.Backup.DataSet(ctx, "shop")
	if err != nil || d.RetentionDays != 30 || d.Frequency != "hourly" || !strings.HasPrefix(d.Instructions, "pgbackrest") || len(cs) != 1 || !cs[0].Offsite {
		t.Errorf("stored: %+v %+v, %v", d, cs, err)
	}
}
