package main

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// The in-memory transport streams both ways: the handler reads the
// request's body as the client writes it, and the client reads the answer
// as the handler writes it. Neither is held whole (a report of hundreds of
// megabytes goes through it), which this exchange proves: it can only end
// if the first chunk comes back before the second is sent.
func TestHandlerTransportStreams(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			t.Error(err)
			return
		}
		w.Write(buf)
		rest, _ := io.ReadAll(r.Body)
		w.Write(rest)
	})
	pr, pw := io.Pipe()
	echoed := make(chan struct{})
	go func() {
		pw.Write([]byte("first"))
		select {
		case <-echoed:
			pw.Write([]byte("second"))
			pw.Close()
		case <-time.After(5 * time.Second):
			pw.CloseWithError(io.ErrUnexpectedEOF) // the answer did not stream
		}
	}()
	req, _ := http.NewRequest("POST", "http://in-process/echo", pr)
	resp, err := (&http.Client{Transport: handlerTransport{h: h}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first" {
		t.Fatalf("first chunk %q, %v", first, err)
	}
	close(echoed)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "second" || resp.StatusCode != 200 {
		t.Errorf("status %d, rest %q, %v", resp.StatusCode, rest, err)
	}
}
