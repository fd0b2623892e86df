package web_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/jobs"
	"github.com/opsguard/opsguard/store/storetest"
)

// /readyz lists every scheduled job with its last run and next due time
// (but not a failure's text, which the signed-in /jobs page shows).
func TestReadyzAndJobsPageShowTheJobs(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnv(t, b.DSN(t))
			if err := e.app.Jobs.Register(jobs.Job{Name: "broken", Interval: time.Hour, Run: func(context.Context) error {
				return errors.New("forge at 127.0.0.1 refused")
			}}); err != nil {
				t.Fatal(err)
			}
			ready := func() map[string]map[string]any {
				resp := e.do("GET", "/readyz", "", nil, nil)
				if resp.StatusCode != 200 {
					t.Fatalf("readyz: %d", resp.StatusCode)
				}
				var body struct {
					Status string           `json:"status"`
					Jobs   []map[string]any `json:"jobs"`
				}
				jsonBody(t, resp, &body)
				out := map[string]map[string]any{}
				for _, j := range body.Jobs {
					out[j["name"].(string)] = j
				}
				return out
			}
			before := ready()
			for _, name := range []string{"controls", "change-sync", "vuln-expiry", "ledger-republish", "broken"} {
				j, ok := before[name]
				if !ok || j["next_due_at"] == nil || j["last_outcome"] != nil {
					t.Errorf("readyz before any run: %s = %v", name, j)
				}
			}
			if _, err := e.app.Jobs.RunDue(ctx); err != nil {
				t.Fatal(err)
			}
			after := ready()
			for name, want := range map[string]string{"controls": "ok", "change-sync": "ok", "vuln-expiry": "ok", "ledger-republish": "ok", "broken": "failed"} {
				j := after[name]
				if j["last_outcome"] != want || j["last_started_at"] == nil || j["last_ended_at"] == nil || j["next_due_at"] == j["last_started_at"] {
					t.Errorf("readyz after a run: %s = %v, want outcome %s", name, j, want)
				}
			}
			if j := after["controls"]; j["interval_seconds"] != float64(e.app.Config.Controls.Interval/time.Second) {
				t.Errorf("controls interval = %v", j["interval_seconds"])
			}
			raw, _ := io.ReadAll(e.do("GET", "/readyz", "", nil, nil).Body)
			if strings.Contains(string(raw), "refused") {
				t.Errorf("readyz shows a failure's text to anyone: %s", raw)
			}

			cookie, _ := e.signIn("auditor")
			code, html := e.page(cookie, "/jobs")
			if code != http.StatusOK || !strings.Contains(html, `id="job-change-sync"`) || !strings.Contains(html, "forge at 127.0.0.1 refused") || !strings.Contains(html, `href="/jobs"`) {
				t.Errorf("jobs page: %d\n%s", code, html)
			}
			if resp := e.do("GET", "/jobs", "", nil, nil); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
				t.Errorf("jobs page without signing in: %d", resp.StatusCode)
			}
		})
	}
}
