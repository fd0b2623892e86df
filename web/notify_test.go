package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/config"
	"github.com/opsguard/opsguard/store/storetest"
)

// A notice that still fails after notifications.dead_after_days is dead,
// and the API (which the auditor may read) and the page show it so.
func TestDeadNotificationsAreListed(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "receiver down", http.StatusServiceUnavailable)
	}))
	defer hook.Close()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			secret := filepath.Join(t.TempDir(), "hook.secret")
			os.WriteFile(secret, []byte("s"), 0o600)
			e := newEnv(t, b.DSN(t), func(c *config.Config) {
				c.Notifications.Channels = []config.Channel{{Name: "iso", Type: "webhook", URL: hook.URL, SecretFile: secret}}
				c.Notifications.Routes = map[string][]string{"auth.password_reset": {"iso"}}
				c.Notifications.DeadAfterDays = 3
			})
			if _, err := e.app.Auth.ResetPassword(ctx, auth.CLI("t"), "engineer"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.app.DeliverNotifications(ctx); err != nil {
				t.Fatal(err)
			}
			type listing struct {
				Items []struct {
					ID      string `json:"id"`
					Status  string `json:"status"`
					Channel string `json:"channel"`
					Message struct {
						ID   string `json:"id"`
						Kind string `json:"kind"`
					} `json:"message"`
					Attempts    int `json:"attempts"`
					AttemptList []struct {
						OK    bool   `json:"ok"`
						Error string `json:"error"`
					} `json:"attempt_list"`
				} `json:"items"`
			}
			list := func(query string) listing {
				t.Helper()
				resp := e.do("GET", "/api/v1/notifications"+query, e.tokens[auth.Auditor], nil, nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %d", query, resp.StatusCode)
				}
				var l listing
				jsonBody(t, resp, &l)
				return l
			}
			if l := list("?status=pending"); len(l.Items) != 1 || l.Items[0].Attempts != 1 || !strings.Contains(l.Items[0].AttemptList[0].Error, "503") {
				t.Fatalf("pending after one attempt: %+v", l)
			}
			// Four days pass while the receiver stays down.
			storetest.Exec(t, e.app.DB, "UPDATE outbox SET created_at = ?, next_attempt_at = ?",
				time.Now().UTC().AddDate(0, 0, -4).Format("2006-01-02T15:04:05.000000Z"), time.Now().UTC().Add(-time.Second).Format("2006-01-02T15:04:05.000000Z"))
			if n, err := e.app.DeliverNotifications(ctx); n != 1 || err != nil {
				t.Fatalf("attempted %d: %v", n, err)
			}
			l := list("?status=dead")
			if len(l.Items) != 1 || l.Items[0].Message.Kind != "auth.password_reset" || l.Items[0].Channel != "iso" || len(l.Items[0].AttemptList) != 2 {
				t.Fatalf("dead: %+v", l)
			}
			if l := list("?status=pending"); len(l.Items) != 0 {
				t.Errorf("still pending: %+v", l)
			}
			resp := e.do("GET", "/api/v1/notifications?status=lost", e.tokens[auth.Auditor], nil, nil)
			if got := errorOf(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(got.Error.Message, "status") {
				t.Errorf("bad status: %d %+v", resp.StatusCode, got)
			}
			page := e.do("GET", "/notifications?status=dead", e.tokens[auth.Auditor], nil, nil)
			raw, _ := io.ReadAll(page.Body)
			page.Body.Close()
			body := string(raw)
			if page.StatusCode != http.StatusOK || !strings.Contains(body, "notification-"+l.Items[0].ID) || !strings.Contains(body, "dead") {
				t.Errorf("page: %d\n%s", page.StatusCode, body)
			}
		})
	}
}
