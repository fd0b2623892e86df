// Package notify delivers opsguard events to people and systems.
//
// A [Dispatcher] routes each [Message] by its kind to the configured
// [Channel]s — a signed JSON [Webhook] or an [Email] sent over STARTTLS — and
// retries every channel independently with exponential backoff. Each attempt,
// failed or not, is handed to a [Recorder] so the caller can keep it in the
// database and the tamper-evident ledger: a compliance system must be able to
// show that an alert was sent, not just that it was meant to be.
//
// Receivers of webhooks check authenticity with [VerifySignature]:
//
//	if !notify.VerifySignature(secret, body, r.Header.Get("X-Opsguard-Signature")) {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
package notify
