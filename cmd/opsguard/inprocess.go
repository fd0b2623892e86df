package main

import (
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/web"
)

// newInProcess is the client of the API served by this process on the
// data directory of a, acting as p.
func newInProcess(a *app.App, p auth.Principal) *client {
	h := web.New(a, a.Logger).Handler()
	return &client{base: "http://in-process", inProcess: true,
		http:  &http.Client{Transport: handlerTransport{h: h, p: p}},
		close: a.Close}
}

// handlerTransport answers requests by calling the handler in this
// process, as principal p. Bodies stream both ways: the request's is read
// by the handler as the client writes it (a report of hundreds of
// megabytes is never held whole), the answer through a pipe.
type handlerTransport struct {
	h http.Handler
	p auth.Principal
}

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(web.InProcess(req.Context(), t.p))
	in.RemoteAddr = "in-process"
	in.RequestURI = req.URL.RequestURI()
	if in.Body == nil {
		in.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, body: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				pw.CloseWithError(fmt.Errorf("the handler failed: %v", v))
				w.writeHeader(http.StatusInternalServerError)
				return
			}
			w.writeHeader(http.StatusOK) // a handler that wrote nothing
			pw.Close()
		}()
		t.h.ServeHTTP(w, in)
	}()
	<-w.ready
	return &http.Response{Status: http.StatusText(w.status), StatusCode: w.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: pr, ContentLength: -1, Request: req}, nil
}

// pipeWriter is the handler's ResponseWriter: the status and headers are
// handed over once, at the first write; the body goes through the pipe.
type pipeWriter struct {
	header http.Header
	sent   http.Header
	body   *io.PipeWriter
	once   sync.Once
	status int
	ready  chan struct{}
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) { w.writeHeader(code) }

func (w *pipeWriter) writeHeader(code int) {
	w.once.Do(func() {
		w.status, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.writeHeader(http.StatusOK)
	return w.body.Write(b)
}

// Flush is a no-op: every write already reaches the reader.
func (w *pipeWriter) Flush() {}
