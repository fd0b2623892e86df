package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	defaultTimeout = 10 * time.Second
	// maxErrorBody bounds how much of a failed response lands in an Attempt:
	// enough to see the receiver's complaint, not a whole HTML error page.
	maxErrorBody = 200
	sigPrefix    = "sha256="
)

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	URL     string        // http or https; required
	Secret  []byte        // HMAC-SHA256 key for X-Opsguard-Signature; required
	Timeout time.Duration // per attempt; default 10s
	Client  *http.Client  // optional; default a client without its own timeout
}

// Webhook posts messages as signed JSON, in the style of GitHub's
// X-Hub-Signature-256, so the receiver can check they come from opsguard.
type Webhook struct {
	name string
	cfg  WebhookConfig
}

// NewWebhook checks cfg and returns the channel called name.
func NewWebhook(name string, cfg WebhookConfig) (*Webhook, error) {
	if name == "" {
		return nil, fmt.Errorf("webhook: name is required: %w", ErrInvalidConfig)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL itself is not quoted: it often carries a token.
		return nil, fmt.Errorf("webhook %s: URL must be an absolute http or https URL: %w", name, ErrInvalidConfig)
	}
	if len(cfg.Secret) == 0 {
		return nil, fmt.Errorf("webhook %s: Secret is required: %w", name, ErrInvalidConfig)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("webhook %s: Timeout must not be negative: %w", name, ErrInvalidConfig)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	cfg.Secret = bytes.Clone(cfg.Secret) // the caller may reuse its buffer
	return &Webhook{name: name, cfg: cfg}, nil
}

// Name returns the channel name.
func (w *Webhook) Name() string { return w.name }

// Send posts m once. A 2xx status is success; 4xx statuses other than 408
// and 429 wrap ErrPermanent.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	m = complete(m, time.Now, NewID)
	body, err := encode(m)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: build request: %w", w.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Opsguard-Event", m.Kind)
	req.Header.Set("X-Opsguard-Delivery", m.ID)
	req.Header.Set("X-Opsguard-Signature", sign(w.cfg.Secret, body))
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return w.transportError(err)
	}
	defer resp.Body.Close()
	return w.statusError(resp)
}

// transportError drops the URL that *url.Error prints, since webhook URLs
// (Slack's, for one) embed a token.
func (w *Webhook) transportError(err error) error {
	if uerr, ok := errors.AsType[*url.Error](err); ok {
		err = uerr.Err
	}
	return redactErr(fmt.Errorf("webhook %s: post: %w", w.name, err), string(w.cfg.Secret))
}

func (w *Webhook) statusError(resp *http.Response) error {
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err := fmt.Errorf("webhook %s: status %d: %q", w.name, resp.StatusCode, strings.ToValidUTF8(string(head), "?"))
	if permanentStatus(resp.StatusCode) {
		err = fmt.Errorf("%w (%w)", err, ErrPermanent)
	}
	return redactErr(err, string(w.cfg.Secret))
}

// permanentStatus reports whether the receiver rejected the request itself,
// so sending it again would fail the same way.
func permanentStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return code >= 400 && code < 500
}

func sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return sigPrefix + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature reports whether header, an X-Opsguard-Signature value
// ("sha256=<hex>"), is the HMAC-SHA256 of body under secret. The comparison
// is constant-time so a forger cannot learn the signature byte by byte.
func VerifySignature(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, sigPrefix)
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
