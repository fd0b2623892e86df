package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/notify"
	"github.com/opsguard/opsguard/store"
	"github.com/opsguard/opsguard/vuln"
)

// dispatcher builds the notification channels of the config.
func (a *App) dispatcher() (*notify.Dispatcher, error) {
	var chans []notify.Channel
	for _, c := range a.Config.Notifications.Channels {
		switch c.Type {
		case "webhook":
			secret, err := ReadSecretFile(c.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("notification channel %s: %w", c.Name, err)
			}
			w, err := notify.NewWebhook(c.Name, notify.WebhookConfig{URL: c.URL, Secret: []byte(secret)})
			if err != nil {
				return nil, err
			}
			chans = append(chans, w)
		case "email":
			var pw string
			if c.PasswordFile != "" {
				var err error
				if pw, err = ReadSecretFile(c.PasswordFile); err != nil {
					return nil, fmt.Errorf("notification channel %s: %w", c.Name, err)
				}
			}
			e, err := notify.NewEmail(c.Name, notify.EmailConfig{Addr: c.SMTPAddr, From: c.From, To: c.To, Username: c.Username, Password: pw})
			if err != nil {
				return nil, err
			}
			chans = append(chans, e)
		}
	}
	return notify.NewDispatcher(chans, a.Config.Notifications.Routes, attemptRecorder{a.DB, a.Log}, notify.Options{Now: a.Now, Logger: a.Logger})
}

// attemptRecorder stores each delivery attempt and ledgers it.
type attemptRecorder struct {
	db  *store.DB
	log *ledger.Log
}

func (r attemptRecorder) RecordAttempt(ctx context.Context, at notify.Attempt) error {
	return r.db.Update(ctx, func(tx *store.Tx) error {
		aid, err := tx.InsertNotificationAttempt(ctx, at)
		if err != nil {
			return err
		}
		_, err = r.log.Append(ctx, tx, ledger.Event{Actor: "system", Kind: "notification.attempt", Subject: "notification/" + at.MessageID,
			Payload: map[string]any{"attempt_id": aid, "kind": at.Kind, "channel": at.Channel, "attempt": at.Number,
				"time": at.Time.UTC().Format(time.RFC3339Nano), "ok": at.OK, "error": at.Error}})
		return err
	})
}

// controlChanged tells the configured channels that a control started or
// stopped failing ("control.failed", "control.recovered"). Delivery runs in
// the background with its retries; Close waits for it.
func (a *App) controlChanged(ctx context.Context, r control.Result, previous control.Status) {
	kind := "control.recovered"
	if r.Status == control.Fail || r.Status == control.Error {
		kind = "control.failed"
	}
	m := notify.Message{Kind: kind, Subject: "control/" + r.ControlID, Time: r.EvaluatedAt,
		Summary: fmt.Sprintf("%s (%s) is now %s: %s", r.ControlID, r.Requirement, r.Status, r.Summary),
		Data:    map[string]any{"control": r.ControlID, "requirement": r.Requirement, "status": r.Status, "previous": previous, "run": r.RunID, "refs": r.Refs}}
	a.pending.Add(1)
	go func() {
		defer a.pending.Done()
		if err := a.Notify.Notify(context.WithoutCancel(ctx), m); err != nil {
			a.Logger.Error("notify", "kind", kind, "control", r.ControlID, "err", err)
		}
	}()
}

// notifier adapts the dispatcher to the register's Notifier for one round
// of escalation.
type notifier struct {
	a      *App
	emails map[string]string // active users' addresses, read once a round
}

// Notify sends the message to the channels of its kind; a message about
// an owner's assets also goes to the owner's e-mail address, when the
// owner is a user with one.
func (n *notifier) Notify(ctx context.Context, kind, subject, summary string, data map[string]any) error {
	m := notify.Message{Kind: kind, Subject: subject, Summary: summary, Time: n.a.Now(), Data: data}
	if owner, _ := data["owner"].(string); owner != "" {
		if n.emails == nil {
			users, err := n.a.Auth.ListUsers(ctx)
			if err != nil {
				return err
			}
			n.emails = map[string]string{}
			for _, u := range users {
				if u.Active() && u.Email != "" {
					n.emails[u.Username] = u.Email
				}
			}
		}
		if email := n.emails[owner]; email != "" {
			m.To = []string{email}
			data["owner_email"] = email
		}
	}
	return n.a.Notify.Notify(ctx, m)
}

// Escalate runs one round of SLA-breach escalation through the configured
// channels.
func (a *App) Escalate(ctx context.Context) (vuln.EscalationSummary, error) {
	return a.Vuln.Escalate(ctx, &notifier{a: a})
}

// SetAssetOwner names the owner of an asset, who must be an active user
// ("" clears it).
func (a *App) SetAssetOwner(ctx context.Context, actor, asset, owner string) (vuln.AssetInfo, error) {
	if owner != "" {
		users, err := a.Auth.ListUsers(ctx)
		if err != nil {
			return vuln.AssetInfo{}, err
		}
		if !slices.ContainsFunc(users, func(u auth.User) bool { return u.Username == owner && u.Active() }) {
			return vuln.AssetInfo{}, &opsguard.Error{Code: opsguard.EInvalid, Message: fmt.Sprintf("owner %q is not an active user", owner), Details: map[string]any{"field": "owner"}}
		}
	}
	return a.Vuln.SetOwner(ctx, actor, asset, owner)
}

// userNotifier tells a user, at their e-mail address, of something done to
// their account (a password reset), through the channels routed for the
// kind. Delivery runs in the background with its retries; Close waits.
type userNotifier struct{ a *App }

func (n userNotifier) NotifyUser(ctx context.Context, u auth.User, kind, summary string, data map[string]any) {
	m := notify.Message{Kind: kind, Subject: "user/" + u.ID, Summary: summary, Time: n.a.Now(), Data: data}
	if u.Email != "" {
		m.To = []string{u.Email}
	}
	n.a.pending.Add(1)
	go func() {
		defer n.a.pending.Done()
		if err := n.a.Notify.Notify(context.WithoutCancel(ctx), m); err != nil {
			n.a.Logger.Error("notify", "kind", kind, "user", u.Username, "err", err)
		}
	}()
}
