package web

import (
	"net/http"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/notify"
)

// notifyRoutes show the notification outbox: what was queued, sent or
// given up on, with every attempt. Everyone who reads may see it (the
// auditor first): it shows that alerts went out.
func (s *Server) notifyRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/api/v1/notifications", Perm: auth.Read, Summary: "Notifications of the outbox with their attempts, newest first", handle: s.apiNotifications},
		{Method: "GET", Pattern: "/notifications", Perm: auth.Read, UI: true, Summary: "Notifications page", handle: s.uiNotifications},
	}
}

// notificationFilter reads ?status= and ?limit= (at most 500).
func notificationFilter(r *http.Request) (notify.DeliveryFilter, error) {
	var f notify.DeliveryFilter
	if v := r.URL.Query().Get("status"); v != "" {
		st, err := notify.ParseStatus(v)
		if err != nil {
			return f, &opsguard.Error{Code: opsguard.EInvalid, Message: "query parameter status: " + err.Error(), Details: map[string]any{"field": "status"}}
		}
		f.Status = st
	}
	limit, err := intParam(r, "limit", 100)
	if err != nil {
		return f, err
	}
	if limit < 1 || limit > 500 {
		return f, &opsguard.Error{Code: opsguard.EInvalid, Message: "query parameter limit: want 1 to 500", Details: map[string]any{"field": "limit"}}
	}
	f.Limit = int(limit)
	return f, nil
}

func (s *Server) apiNotifications(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	f, err := notificationFilter(r)
	if err != nil {
		return err
	}
	ns, err := s.app.Notifications(r.Context(), f)
	return answer(w, http.StatusOK, items(ns), err)
}

type notificationsView struct {
	Status        notify.Status
	Notifications []app.Notification
}

func (s *Server) uiNotifications(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	f, err := notificationFilter(r)
	if err != nil {
		return err
	}
	ns, err := s.app.Notifications(r.Context(), f)
	if err != nil {
		return err
	}
	s.render(w, http.StatusOK, "notifications.html", page{Title: "Notifications", Me: &p, CSRF: p.CSRFToken, Data: notificationsView{f.Status, ns}})
	return nil
}
