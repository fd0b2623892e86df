package web

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/opsguard/opsguard"
)

type ctxKey int

const infoKey ctxKey = 0

// reqInfo travels with a request so the access log can name the route and
// the actor that the inner handlers found.
type reqInfo struct {
	id    string
	route string
	actor string
}

func info(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(infoKey).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

func requestIDOf(r *http.Request) string  { return info(r).id }
func routeOf(r *http.Request) string      { return info(r).route }
func setRoute(r *http.Request, rt string) { info(r).route = rt }
func setActor(r *http.Request, a string)  { info(r).actor = a }

// requestID takes a sane X-Request-ID from the client or makes one, and
// echoes it in the answer.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !requestIDRE.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey, &reqInfo{id: id})))
	})
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (rw *recorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.ResponseWriter.Write(b)
	rw.bytes += int64(n)
	return n, err
}

func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// accessLog writes one structured line per request. It logs the path but
// never the query string, headers or body, where secrets travel.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recorder{ResponseWriter: w}
		next.ServeHTTP(rw, r)
		if rw.status == 0 {
			rw.status = http.StatusOK
		}
		i := info(r)
		d := time.Since(start)
		s.metrics.observe(r.Method, i.route, rw.status, d)
		s.logger.Info("http", "request_id", i.id, "method", r.Method, "path", r.URL.Path, "route", i.route,
			"status", rw.status, "bytes", rw.bytes, "duration_ms", float64(d.Microseconds())/1000, "actor", i.actor, "remote", r.RemoteAddr)
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.Error("panic", "request_id", requestIDOf(r), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.fail(w, r, false, opsguard.Errorf(opsguard.EInternal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func subtleEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
