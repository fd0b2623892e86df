package sources_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsguard/opsguard/change/sources"
)

// reply is one recorded answer of a forge.
type reply struct {
	status int
	file   string            // the body, under testdata/; "" for none
	body   string            // a literal body, when there is no file
	header map[string]string // "{base}" in a value stands for the server's URL
}

// ok answers 200 with a recorded body.
func ok(file string, header ...string) reply {
	r := reply{status: http.StatusOK, file: file, header: map[string]string{}}
	for i := 0; i+1 < len(header); i += 2 {
		r.header[header[i]] = header[i+1]
	}
	return r
}

// replay is a forge that answers each request with the next recorded
// reply of its route ("GET /path" or "GET /path?page=N"); the last reply
// of a route repeats. A request of no route fails the test: the provider
// asked for something the forge was not expected to be asked.
type replay struct {
	t      *testing.T
	srv    *httptest.Server
	auth   func(*http.Request) bool
	mu     sync.Mutex
	routes map[string][]reply
	seen   []string
}

func newReplay(t *testing.T, routes map[string][]reply, auth func(*http.Request) bool) *replay {
	t.Helper()
	rp := &replay{t: t, auth: auth, routes: map[string][]reply{}}
	for k, v := range routes {
		rp.routes[k] = slices.Clone(v)
	}
	rp.srv = httptest.NewServer(http.HandlerFunc(rp.serve))
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *replay) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.EscapedPath()
	if p := r.URL.Query().Get("page"); p != "" && p != "1" {
		key += "?page=" + p
	}
	rp.mu.Lock()
	rp.seen = append(rp.seen, key)
	rs, found := rp.routes[key]
	var rep reply
	if found {
		rep = rs[0]
		if len(rs) > 1 {
			rp.routes[key] = rs[1:]
		}
	}
	rp.mu.Unlock()
	if !rp.auth(r) {
		rp.t.Errorf("%s: wrong or missing credentials", key)
	}
	if !found {
		rp.t.Errorf("unexpected request %s", key)
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	for k, v := range rep.header {
		w.Header().Set(k, strings.ReplaceAll(v, "{base}", rp.srv.URL))
	}
	body := []byte(rep.body)
	if rep.file != "" {
		var err error
		if body, err = os.ReadFile(filepath.Join("testdata", rep.file)); err != nil {
			rp.t.Error(err)
		}
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(rep.status)
	w.Write(body)
}

// requests returns the routes asked so far, in order.
func (rp *replay) requests() []string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return slices.Clone(rp.seen)
}

// clock is the injected time of a provider: Sleep records the waits and
// moves Now on, so a reset "in 30s" has passed when the request resumes.
type clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	said   []string
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 2, 12, 2, 34, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *clock) Progress(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.said = append(c.said, msg)
}

func (c *clock) options(base, project, token string) sources.Options {
	return sources.Options{BaseURL: base, Project: project, Token: token, Now: c.Now, Sleep: c.Sleep, Progress: c.Progress}
}

// merge returns base with the routes of over replacing its own.
func merge(base, over map[string][]reply) map[string][]reply {
	out := map[string][]reply{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}
