package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opsguard/opsguard/notify"
)

var webhookSecret = []byte("s3cr3t-hmac-key")

// delivery is what the test receiver saw of one request.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver starts a webhook receiver on loopback that answers with
// statuses[i] for the i-th request (the last one repeats).
func receiver(t *testing.T, statuses ...int) (*httptest.Server, func() []delivery) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []delivery
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, delivery{header: r.Header.Clone(), body: body})
		status := statuses[min(len(seen), len(statuses))-1]
		mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, "receiver says %d", status)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []delivery {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

func newWebhook(t *testing.T, url string) *notify.Webhook {
	t.Helper()
	w, err := notify.NewWebhook("ops-hook", notify.WebhookConfig{URL: url, Secret: webhookSecret})
	if err != nil {
		t.Fatalf("NewWebhook: %v", err)
	}
	return w
}

func TestWebhookSendsSignedJSON(t *testing.T) {
	t.Parallel()
	srv, seen := receiver(t, http.StatusNoContent)
	m := testMessage()
	if err := newWebhook(t, srv.URL).Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := seen()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	d := got[0]
	wantHeaders := map[string]string{
		"Content-Type":        "application/json",
		"X-Opsguard-Event":    m.Kind,
		"X-Opsguard-Delivery": m.ID,
	}
	for k, want := range wantHeaders {
		if v := d.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(d.body, &body); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, d.body)
	}
	wantBody := map[string]any{
		"id":      m.ID,
		"kind":    m.Kind,
		"subject": m.Subject,
		"time":    "2025-03-04T05:06:07Z",
		"summary": m.Summary,
		"data":    map[string]any{"cve": "CVE-2024-1234", "days_over": float64(3)},
	}
	if !reflect.DeepEqual(body, wantBody) {
		t.Errorf("body = %v\nwant %v", body, wantBody)
	}
	sig := d.header.Get("X-Opsguard-Signature")
	if !notify.VerifySignature(webhookSecret, d.body, sig) {
		t.Errorf("signature %q does not verify with the channel secret", sig)
	}
	if notify.VerifySignature([]byte("another secret"), d.body, sig) {
		t.Errorf("signature %q verifies with another secret", sig)
	}
}

func TestWebhookFillsIDAndNullData(t *testing.T) {
	t.Parallel()
	srv, seen := receiver(t, http.StatusOK)
	m := testMessage()
	m.ID, m.Data = "", nil
	if err := newWebhook(t, srv.URL).Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	d := seen()[0]
	var body struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(d.body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.ID) != 32 || body.ID != d.header.Get("X-Opsguard-Delivery") {
		t.Errorf("id = %q, delivery header %q: want the same 32 hex digits", body.ID, d.header.Get("X-Opsguard-Delivery"))
	}
	if string(body.Data) != "{}" {
		t.Errorf("data = %s, want {} so receivers need no null check", body.Data)
	}
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"1"}`)
	// Reference value computed independently:
	// printf '{"id":"1"}' | openssl dgst -sha256 -hmac s3cr3t-hmac-key
	const known = "sha256=993c5844004dd376c1de68bc98ff993b6614772afe37664d7a0455bd8a2c576f"
	srv, seen := receiver(t, http.StatusOK)
	m := testMessage()
	if err := newWebhook(t, srv.URL).Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	sent := seen()[0]
	real := sent.header.Get("X-Opsguard-Signature")
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"channel secret", webhookSecret, sent.body, real, true},
		{"other secret", []byte("nope"), sent.body, real, false},
		{"tampered body", webhookSecret, append(slices.Clone(sent.body), ' '), real, false},
		{"no prefix", webhookSecret, sent.body, strings.TrimPrefix(real, "sha256="), false},
		{"sha1 prefix", webhookSecret, sent.body, "sha1=" + strings.TrimPrefix(real, "sha256="), false},
		{"not hex", webhookSecret, sent.body, "sha256=zz", false},
		{"empty", webhookSecret, sent.body, "", false},
		{"known answer", webhookSecret, body, known, true},
		{"upper-case prefix", webhookSecret, body, strings.ToUpper(known[:7]) + known[7:], false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := notify.VerifySignature(tc.secret, tc.body, tc.header); got != tc.want {
				t.Errorf("VerifySignature = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWebhookRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	srv, seen := receiver(t, 500, 500, 200)
	h := newHarness(t, []notify.Channel{newWebhook(t, srv.URL)}, map[string][]string{"*": {"ops-hook"}}, notify.Options{})
	m := testMessage()
	if err := h.notify(t.Context(), m); err != nil {
		t.Fatalf("notify: %v", err)
	}
	got := h.q.forChannel("ops-hook")
	if len(got) != 3 {
		t.Fatalf("recorded %d attempts, want 3: %+v", len(got), got)
	}
	for i, a := range got {
		wantOK := i == 2
		if a.Number != i+1 || a.OK != wantOK || a.MessageID != m.ID || a.Kind != m.Kind || a.Time.Before(fixedTime) {
			t.Errorf("attempt %d = %+v, want number %d, OK %v, message %s", i, a, i+1, wantOK, m.ID)
		}
		if wantOK != (a.Error == "") {
			t.Errorf("attempt %d: OK %v with error %q", i+1, a.OK, a.Error)
		}
		if !wantOK && !strings.Contains(a.Error, "500") {
			t.Errorf("attempt %d error %q does not name the status", i+1, a.Error)
		}
	}
	if w := h.waits; !slices.Equal(w, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("backoffs = %v, want [1s 2s]", w)
	}
	// The receiver dedupes on the delivery id, so retries must keep it.
	for i, r := range seen() {
		if id := r.header.Get("X-Opsguard-Delivery"); id != m.ID {
			t.Errorf("request %d delivery id = %q, want %q", i+1, id, m.ID)
		}
	}
}

func TestWebhookFailureStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		status       int
		wantAttempts int
	}{
		{"server error is retried until dead", 500, 4},
		{"rate limit is retried", 429, 4},
		{"bad request is permanent", 400, 1},
		{"unauthorized is permanent", 401, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, seen := receiver(t, tc.status)
			// Attempts at 0, 1s, 3s and 7s; the next, at 15s, is too late.
			h := newHarness(t, []notify.Channel{newWebhook(t, srv.URL)}, map[string][]string{"*": {"ops-hook"}},
				notify.Options{DeadAfter: 10 * time.Second})
			err := h.notify(t.Context(), testMessage())
			if err == nil || !strings.Contains(err.Error(), fmt.Sprint(tc.status)) || !strings.Contains(err.Error(), "ops-hook") {
				t.Errorf("notify error = %v, want one naming ops-hook and status %d", err, tc.status)
			}
			if n := len(h.q.forChannel("ops-hook")); n != tc.wantAttempts {
				t.Errorf("recorded %d attempts, want %d", n, tc.wantAttempts)
			}
			if n := len(seen()); n != tc.wantAttempts {
				t.Errorf("receiver got %d requests, want %d", n, tc.wantAttempts)
			}
			for _, a := range h.q.forChannel("ops-hook") {
				if a.OK {
					t.Errorf("attempt %d recorded as OK", a.Number)
				}
			}
		})
	}
}

func TestWebhookErrorIsBoundedAndRedacted(t *testing.T) {
	t.Parallel()
	// A careless receiver echoes the request, signature key and all.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprintf(w, "key %s ", webhookSecret)
		io.WriteString(w, strings.Repeat("x", 10_000))
	}))
	t.Cleanup(srv.Close)
	err := newWebhook(t, srv.URL).Send(t.Context(), testMessage())
	if err == nil {
		t.Fatal("Send succeeded against a 502")
	}
	msg := err.Error()
	if strings.Contains(msg, string(webhookSecret)) {
		t.Errorf("error leaks the secret: %s", msg)
	}
	if !strings.Contains(msg, "502") || !strings.Contains(msg, "key [redacted]") {
		t.Errorf("error %q lacks the status or the start of the body", msg)
	}
	if len(msg) > 400 {
		t.Errorf("error is %d bytes long, want the body cut near 200", len(msg))
	}
}

func TestWebhookTimeout(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		// Reading the body lets the server notice the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		select { // hang until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: srv.Close waits for handlers
	w, err := notify.NewWebhook("slow", notify.WebhookConfig{URL: srv.URL, Secret: webhookSecret, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = w.Send(t.Context(), testMessage())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send error = %v, want a deadline exceeded", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Send took %v despite a 50ms timeout", el)
	}
	if strings.Contains(fmt.Sprint(err), srv.URL) {
		t.Errorf("error %q shows the URL, which may carry a token", err)
	}
	if calls.Load() != 1 {
		t.Errorf("receiver got %d requests, want 1", calls.Load())
	}
}

func TestNewWebhookValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		channel string
		cfg     notify.WebhookConfig
		field   string // expected in the error; "" means valid
	}{
		{"valid", "hook", notify.WebhookConfig{URL: "https://example.com/h", Secret: webhookSecret}, ""},
		{"no name", "", notify.WebhookConfig{URL: "https://example.com/h", Secret: webhookSecret}, "name"},
		{"no URL", "hook", notify.WebhookConfig{Secret: webhookSecret}, "URL"},
		{"ftp URL", "hook", notify.WebhookConfig{URL: "ftp://example.com/h", Secret: webhookSecret}, "URL"},
		{"relative URL", "hook", notify.WebhookConfig{URL: "/h", Secret: webhookSecret}, "URL"},
		{"no secret", "hook", notify.WebhookConfig{URL: "https://example.com/h"}, "Secret"},
		{"negative timeout", "hook", notify.WebhookConfig{URL: "http://example.com/h", Secret: webhookSecret, Timeout: -1}, "Timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, err := notify.NewWebhook(tc.channel, tc.cfg)
			if tc.field == "" {
				if err != nil || w.Name() != tc.channel {
					t.Fatalf("NewWebhook = %v, %v; want channel %q", w, err, tc.channel)
				}
				return
			}
			if !errors.Is(err, notify.ErrInvalidConfig) {
				t.Fatalf("NewWebhook error = %v, want ErrInvalidConfig", err)
			}
			prefix := "webhook " + tc.channel + ":"
			if tc.channel == "" {
				prefix = "webhook:"
			}
			if !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not name channel %q and field %s", err, tc.channel, tc.field)
			}
		})
	}
}
