package web

import (
	"context"
	"net/http"

	"github.com/opsguard/opsguard/auth"
)

const inProcessKey ctxKey = 1

// InProcess returns ctx carrying p as the principal of the requests made
// with it. It is for the command line, which runs this package's handler
// in its own process: the principal travels in the request's context,
// which a network client cannot set, never in a header it could send.
func InProcess(ctx context.Context, p auth.Principal) context.Context {
	return context.WithValue(ctx, inProcessKey, p)
}

// inProcess returns the principal InProcess put in r's context.
func inProcess(r *http.Request) (auth.Principal, bool) {
	p, ok := r.Context().Value(inProcessKey).(auth.Principal)
	return p, ok
}
