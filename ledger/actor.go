package ledger

import (
	"context"
	"strings"
)

// viaSep joins an actor and the credential it acted with in an entry's
// actor: "so1 via tok_…". The leaf format is unchanged; the actor line
// simply says more.
const viaSep = " via "

type credentialKey struct{}

type credential struct{ actor, id string }

// WithCredential returns ctx in which every entry whose actor is actor is
// recorded as "actor via id": the entries a request made with a token
// name the token. Entries of other actors ("system") are left alone.
func WithCredential(ctx context.Context, actor, id string) context.Context {
	return context.WithValue(ctx, credentialKey{}, credential{actor, id})
}

// attribute returns the actor to record for ev in ctx.
func attribute(ctx context.Context, actor string) string {
	if c, ok := ctx.Value(credentialKey{}).(credential); ok && c.actor == actor && c.id != "" {
		return actor + viaSep + c.id
	}
	return actor
}

// SplitActor splits an entry's actor into who acted and the credential
// named with it ("" when none): "so1 via tok_ab" gives "so1", "tok_ab".
func SplitActor(actor string) (who, credential string) {
	who, credential, _ = strings.Cut(actor, viaSep)
	return who, credential
}
