// Package notify delivers opsguard events to people and systems.
//
// A [Dispatcher] routes each [Message] by its kind to the configured
// [Channel]s — a signed JSON [Webhook] or an [Email] sent over STARTTLS. It
// never sends on the caller's behalf: [Dispatcher.Route] turns a message
// into [Delivery] rows that the caller writes to a durable outbox in the
// transaction of the event, and the dispatcher's loop claims them from the
// [Queue], sends, and retries each channel independently with exponential
// backoff across restarts until it is sent or dead. Each attempt, failed or
// not, is recorded through the Queue in the database and the tamper-evident
// ledger: a compliance system must be able to show that an alert was sent,
// not just that it was meant to be, and a crash must not lose it.
//
// Receivers of webhooks check authenticity with [VerifySignature]:
//
//	if !notify.VerifySignature(secret, body, r.Header.Get("X-Opsguard-Signature")) {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
package notify
