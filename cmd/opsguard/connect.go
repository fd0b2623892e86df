package main

import (
	"context"
	"fmt"

	"github.com/opsguard/opsguard/auth"
)

// client opens the API of the server named by --server, or the same API
// served in this process on the data directory, for the operating-system
// user (admin, or the role of --as-role).
func (g *globals) client(ctx context.Context) (*client, error) {
	if g.server != "" {
		if g.asRole != "" {
			return nil, fmt.Errorf("--as-role is for the in-process command line: with --server the token's user acts")
		}
		if _, err := g.config(); err != nil { // checks -o
			return nil, err
		}
		return newRemote(g.server, g.tokenFile)
	}
	p, err := g.principal()
	if err != nil {
		return nil, err
	}
	a, err := g.open(ctx)
	if err != nil {
		return nil, err
	}
	return newInProcess(a, p), nil
}

// principal is the operator at this shell, admin unless --as-role narrows
// it. The roles that approve and grant exceptions are refused: those
// decisions are a named user's, through --server.
func (g *globals) principal() (auth.Principal, error) {
	p := cliPrincipal()
	if g.asRole == "" {
		return p, nil
	}
	r, err := auth.ParseRole(g.asRole)
	if err != nil {
		return p, fmt.Errorf("--as-role: %w", err)
	}
	for _, perm := range []auth.Permission{auth.ApproveRisk, auth.ApproveChanges, auth.GrantExceptions, auth.PostFacts, auth.ApprovePolicies} {
		if r.Can(perm) {
			return p, fmt.Errorf("--as-role %s: the command line acts as a role that decides nothing (%s may %s: act as a named user through --server)", r, r, perm)
		}
	}
	p.User.Role = r
	return p, nil
}
