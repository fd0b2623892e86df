package web

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/opsguard/opsguard"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/events"
)

// eventsModule serves the security events: the agents' batches in, the
// search out.
var eventsModule = module{name: "events", routes: (*Server).eventsRoutes, nav: []navLink{{"Events", "/events"}}}

func (s *Server) eventsRoutes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/api/v1/events", Perm: auth.PostFacts, Summary: "A host agent's batch of security events, or its heartbeat (agent token)", handle: s.apiPostEvents},
		{Method: "GET", Pattern: "/api/v1/events", Perm: auth.Read, Summary: "Search the security events by host, kind, user, address and time", handle: s.apiEvents},
		{Method: "GET", Pattern: "/events", Perm: auth.Read, UI: true, Summary: "Event search: host, kind, user, address, time", handle: s.uiEvents},
	}
}

func (s *Server) apiPostEvents(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, events.MaxBatchBytes))
	if err != nil {
		return opsguard.Errorf(opsguard.EInvalid, "batch: larger than %d bytes", events.MaxBatchBytes)
	}
	b, err := events.ParseBatch(body, s.app.Now())
	if err != nil {
		return err
	}
	st, err := s.app.Events.Ingest(r.Context(), events.Sender{Actor: p.Name(), Source: events.SourceAgent}, b)
	return answer(w, http.StatusAccepted, st, err)
}

// eventFilter reads a search from the query: host, kind, user, address,
// since and until (RFC 3339), limit.
func eventFilter(q url.Values) (events.Filter, error) {
	f := events.Filter{Host: q.Get("host"), Kind: q.Get("kind"), User: q.Get("user"), Address: q.Get("address")}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, opsguard.Errorf(opsguard.EInvalid, "%s %q: an RFC 3339 time (2026-01-02T15:04:05Z)", t.name, v)
			}
			*t.to = at
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, opsguard.Errorf(opsguard.EInvalid, "limit %q: a positive number", v)
		}
		f.Limit = n
	}
	return f, nil
}

func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	f, err := eventFilter(r.URL.Query())
	if err != nil {
		return err
	}
	es, err := s.app.Events.Search(r.Context(), f)
	return answer(w, http.StatusOK, items(es), err)
}

func (s *Server) uiEvents(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	q := r.URL.Query()
	f, err := eventFilter(q)
	var es []events.Event
	if err == nil {
		es, err = s.app.Events.Search(r.Context(), f)
	}
	problem := ""
	if err != nil {
		if opsguard.ErrorCode(err) != opsguard.EInvalid {
			return err
		}
		problem = opsguard.ErrorMessage(err)
	}
	s.render(w, http.StatusOK, "events.html", page{Title: "Events", Me: &p, CSRF: p.CSRFToken, Error: problem, Data: struct {
		Query  url.Values
		Kinds  []string
		Events []events.Event
	}{q, events.Kinds, es}})
	return nil
}
