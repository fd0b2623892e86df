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
	return notify.NewDispatcher(chans, a.Config.Notifications.Routes, outboxQueue{a.DB, a.Log}, notify.Options{
		Now: a.Now, Logger: a.Logger, DeadAfter: time.Duration(a.Config.Notifications.DeadAfterDays) * 24 * time.Hour})
}

// outboxTx is what queuing a notification needs of a transaction, whichever
// domain interface the service sees it through.
type outboxTx interface {
	ledger.Tx
	InsertOutbox(ctx context.Context, ds []notify.Delivery) error
	AfterCommit(f func())
}

// enqueue writes m to the outbox, one delivery per channel routed for its
// kind, and ledgers that it was queued, in tx: the transaction of the event
// m tells of. The dispatcher is woken once tx commits.
func (a *App) enqueue(ctx context.Context, tx any, m notify.Message) error {
	otx, ok := tx.(outboxTx)
	if !ok {
		return fmt.Errorf("notify %s: the transaction cannot write the outbox", m.Kind)
	}
	ds := a.Notify.Route(m)
	if len(ds) == 0 {
		return nil
	}
	if err := otx.InsertOutbox(ctx, ds); err != nil {
		return fmt.Errorf("queue notification %s: %w", m.Kind, err)
	}
	chans := make([]string, len(ds))
	for i, d := range ds {
		chans[i] = d.Channel
	}
	_, err := a.Log.Append(ctx, otx, ledger.Event{Actor: "system", Kind: "notification.queued", Subject: "notification/" + ds[0].Message.ID,
		Payload: map[string]any{"kind": m.Kind, "subject": m.Subject, "channels": chans}})
	otx.AfterCommit(a.Notify.Wake)
	return err
}

// outboxQueue is the dispatcher's Queue: the outbox table, with each
// attempt stored and ledgered.
type outboxQueue struct {
	db  *store.DB
	log *ledger.Log
}

// Claim first looks with a read whether anything is due, so an idle
// dispatcher never takes SQLite's write lock from a CLI command.
func (q outboxQueue) Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]notify.Delivery, error) {
	var due bool
	err := q.db.View(ctx, func(tx *store.Tx) error {
		var err error
		due, err = tx.OutboxDue(ctx, now)
		return err
	})
	if err != nil || !due {
		return nil, err
	}
	var ds []notify.Delivery
	err = q.db.Update(ctx, func(tx *store.Tx) error {
		var err error
		ds, err = tx.ClaimOutbox(ctx, now, lease, limit)
		return err
	})
	return ds, err
}

func (q outboxQueue) Record(ctx context.Context, d notify.Delivery, at notify.Attempt) error {
	return q.db.Update(ctx, func(tx *store.Tx) error {
		aid, err := tx.InsertNotificationAttempt(ctx, at)
		if err != nil {
			return err
		}
		if err := tx.FinishOutboxAttempt(ctx, d); err != nil {
			return err
		}
		if q.log.Failed() != nil {
			// The ledger refuses writes (it failed verification); the
			// attempt is still recorded, or the notice of that failure
			// would be sent again at every lease.
			return nil
		}
		es := []ledger.Event{{Actor: "system", Kind: "notification.attempt", Subject: "notification/" + at.MessageID,
			Payload: map[string]any{"attempt_id": aid, "delivery": d.ID, "kind": at.Kind, "channel": at.Channel, "attempt": at.Number,
				"time": at.Time.UTC().Format(time.RFC3339Nano), "ok": at.OK, "error": at.Error, "status": d.Status}}}
		if d.Status == notify.Dead {
			es = append(es, ledger.Event{Actor: "system", Kind: "notification.dead", Subject: "notification/" + at.MessageID,
				Payload: map[string]any{"delivery": d.ID, "kind": at.Kind, "channel": at.Channel, "attempts": d.Attempts, "error": d.LastError}})
		}
		_, err = q.log.Append(ctx, tx, es...)
		return err
	})
}

// DeliverNotifications sends every notification due now, once each, and
// returns how many it attempted (tests; the server runs the dispatcher).
func (a *App) DeliverNotifications(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := a.Notify.RunOnce(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// Notification is one outbox delivery with its attempts.
type Notification struct {
	notify.Delivery
	AttemptList []notify.Attempt `json:"attempt_list"`
}

// Notifications lists outbox deliveries, newest first, with their attempts.
func (a *App) Notifications(ctx context.Context, f notify.DeliveryFilter) ([]Notification, error) {
	var out []Notification
	err := a.DB.View(ctx, func(tx *store.Tx) error {
		ds, err := tx.ListOutbox(ctx, f)
		if err != nil {
			return err
		}
		// A message routed to several channels is one row per channel:
		// its attempts are read once and shared out by channel.
		attempts := map[string][]notify.Attempt{}
		for _, d := range ds {
			as, ok := attempts[d.Message.ID]
			if !ok {
				if as, err = tx.NotificationAttempts(ctx, d.Message.ID); err != nil {
					return err
				}
				attempts[d.Message.ID] = as
			}
			n := Notification{Delivery: d, AttemptList: []notify.Attempt{}}
			for _, at := range as {
				if at.Channel == d.Channel {
					n.AttemptList = append(n.AttemptList, at)
				}
			}
			out = append(out, n)
		}
		return nil
	})
	return out, err
}

// controlChanged queues, in the transaction of the run, a notice that a
// control started or stopped failing ("control.failed", "control.recovered").
func (a *App) controlChanged(ctx context.Context, tx control.Tx, r control.Result, previous control.Status) error {
	kind := "control.recovered"
	if r.Status == control.Fail || r.Status == control.Error {
		kind = "control.failed"
	}
	return a.enqueue(ctx, tx, notify.Message{Kind: kind, Subject: "control/" + r.ControlID, Time: r.EvaluatedAt,
		Summary: fmt.Sprintf("%s (%s) is now %s: %s", r.ControlID, r.Requirement, r.Status, r.Summary),
		Data:    map[string]any{"control": r.ControlID, "requirement": r.Requirement, "status": r.Status, "previous": previous, "run": r.RunID, "refs": r.Refs}})
}

// notifier adapts the dispatcher to the register's Notifier for one round
// of escalation.
type notifier struct {
	a      *App
	emails map[string]string // active users' addresses, read once a round
}

// Notify queues the message for the channels of its kind; a message about
// an owner's assets also goes to the owner's e-mail address, when the
// owner is a user with one.
func (n *notifier) Notify(ctx context.Context, tx vuln.Tx, kind, subject, summary string, data map[string]any) error {
	return n.send(ctx, tx, kind, subject, summary, data)
}

// send is Notify for any module's transaction.
func (n *notifier) send(ctx context.Context, tx any, kind, subject, summary string, data map[string]any) error {
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
	return n.a.enqueue(ctx, tx, m)
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
// kind: it queues the notice in the transaction of the change.
type userNotifier struct{ a *App }

func (n userNotifier) NotifyUser(ctx context.Context, tx auth.Tx, u auth.User, kind, summary string, data map[string]any) error {
	m := notify.Message{Kind: kind, Subject: "user/" + u.ID, Summary: summary, Time: n.a.Now(), Data: data}
	if u.Email != "" {
		m.To = []string{u.Email}
	}
	return n.a.enqueue(ctx, tx, m)
}
