package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/vuln"
)

// backend is what the administrative commands act on: the data directory
// in-process, or a server through its API when --server is given. Both run
// the same services with the same rules; only the actor differs (the OS
// user here, the token's user there).
type backend interface {
	changeBackend
	notifyBackend
	Close() error
	ListUsers(ctx context.Context) ([]auth.User, error)
	CreateUser(ctx context.Context, n auth.NewUser) (auth.User, error)
	DisableUser(ctx context.Context, username string) (auth.User, error)
	SetRole(ctx context.Context, username string, r auth.Role) (auth.User, error)
	// ResetPassword gives another user a one-time password, returned.
	ResetPassword(ctx context.Context, username string) (string, error)
	CreateToken(ctx context.Context, owner, name string, ttl time.Duration) (auth.Token, string, error)
	ListTokens(ctx context.Context, username string) ([]auth.Token, error)
	RevokeToken(ctx context.Context, id string) (auth.Token, error)
	Catalog(ctx context.Context) ([]control.Item, error)
	RunControls(ctx context.Context) (control.Run, error)
	Head(ctx context.Context) (checkpointInfo, error)
	Inclusion(ctx context.Context, seq, size int64) (app.InclusionProof, error)
	Consistency(ctx context.Context, from, to int64) (app.ConsistencyProof, error)
	Export(ctx context.Context) (*app.Export, error)
	ImportScan(ctx context.Context, req vuln.ImportRequest) (vuln.Summary, error)
	Findings(ctx context.Context, f findingQuery) ([]vuln.Finding, int, error)
	Finding(ctx context.Context, id string) (vuln.Finding, error)
	ImportFeed(ctx context.Context, name string, data []byte) (vuln.FeedSummary, error)
	VEX(ctx context.Context, asset, format string) ([]byte, error)
	Start(ctx context.Context, id string) (vuln.Finding, error)
	Resolve(ctx context.Context, id string, r vuln.Resolution, justification string) (vuln.Finding, error)
	Ask(ctx context.Context, kind, id, justification string, until time.Time) (vuln.Request, error)
	Requests(ctx context.Context, status string) ([]vuln.Request, error)
	Decide(ctx context.Context, id string, approve bool, note string) (vuln.Request, error)
	Assets(ctx context.Context) ([]vuln.AssetInfo, error)
	SetOwner(ctx context.Context, asset, owner string) (vuln.AssetInfo, error)
	// Verify checks the whole ledger; trusted, when set, is the public key
	// the caller holds, which the ledger's own must equal.
	Verify(ctx context.Context, trusted string) (*ledger.Report, error)
}

// checkpointInfo is the newest signed checkpoint.
type checkpointInfo struct {
	Size      int64  `json:"size"`
	Root      string `json:"root_hash"`
	Note      string `json:"note"`
	PublicKey string `json:"public_key"`
}

// backend opens the server named by --server, or the data directory.
func (g *globals) backend(ctx context.Context) (backend, error) {
	if g.server != "" {
		if _, err := g.config(); err != nil { // checks -o
			return nil, err
		}
		return newRemote(g.server, g.tokenFile)
	}
	a, err := g.open(ctx)
	if err != nil {
		return nil, err
	}
	return local{a: a, p: cliPrincipal()}, nil
}

// local runs the services in-process on the data directory.
type local struct {
	a *app.App
	p auth.Principal
}

func (l local) Close() error { return l.a.Close() }

func (l local) ListUsers(ctx context.Context) ([]auth.User, error) { return l.a.Auth.ListUsers(ctx) }

func (l local) CreateUser(ctx context.Context, n auth.NewUser) (auth.User, error) {
	return l.a.Auth.CreateUser(ctx, l.p, n)
}

func (l local) DisableUser(ctx context.Context, username string) (auth.User, error) {
	return l.a.Auth.DisableUser(ctx, l.p, username)
}

func (l local) SetRole(ctx context.Context, username string, r auth.Role) (auth.User, error) {
	return l.a.Auth.SetRole(ctx, l.p, username, r)
}

func (l local) ResetPassword(ctx context.Context, username string) (string, error) {
	return l.a.Auth.ResetPassword(ctx, l.p, username)
}

func (l local) CreateToken(ctx context.Context, owner, name string, ttl time.Duration) (auth.Token, string, error) {
	return l.a.Auth.CreateToken(ctx, l.p, owner, name, ttl)
}

func (l local) ListTokens(ctx context.Context, username string) ([]auth.Token, error) {
	return l.a.Auth.ListTokens(ctx, l.p, username)
}

func (l local) RevokeToken(ctx context.Context, id string) (auth.Token, error) {
	return l.a.Auth.RevokeToken(ctx, l.p, id)
}

func (l local) Catalog(ctx context.Context) ([]control.Item, error) { return l.a.Controls.Catalog(ctx) }

func (l local) RunControls(ctx context.Context) (control.Run, error) {
	return l.a.Controls.Run(ctx, l.p.Name(), "manual")
}

// Head prints the newest checkpoint and publishes it again (file beside
// the key, witness), which only the data directory's owner can do.
func (l local) Head(ctx context.Context) (checkpointInfo, error) {
	cp, ok, err := l.a.Head(ctx)
	if err != nil {
		return checkpointInfo{}, err
	}
	if !ok {
		return checkpointInfo{}, fmt.Errorf("the ledger is empty")
	}
	l.a.Log.Publish(ctx, cp)
	return checkpointInfo{cp.Size, hex.EncodeToString(cp.Root), string(cp.Note), l.a.Log.Key().Public}, nil
}

func (l local) Inclusion(ctx context.Context, seq, size int64) (app.InclusionProof, error) {
	return l.a.Inclusion(ctx, seq, size)
}

func (l local) Consistency(ctx context.Context, from, to int64) (app.ConsistencyProof, error) {
	return l.a.Consistency(ctx, from, to)
}

func (l local) Export(ctx context.Context) (*app.Export, error) { return l.a.ExportLedger(ctx) }

func (l local) ImportScan(ctx context.Context, req vuln.ImportRequest) (vuln.Summary, error) {
	return l.a.Vuln.Import(ctx, l.p.Name(), req)
}

func (l local) Findings(ctx context.Context, q findingQuery) ([]vuln.Finding, int, error) {
	f, err := q.filter()
	if err != nil {
		return nil, 0, err
	}
	return l.a.Vuln.List(ctx, f)
}

func (l local) Finding(ctx context.Context, id string) (vuln.Finding, error) {
	return l.a.Vuln.Get(ctx, id)
}

// actor: the local operator administers the data directory but holds no
// security officer's authority, so local approvals are refused by design.
func (l local) actor() vuln.Actor { return vuln.Actor{Name: l.p.Name()} }

func (l local) ImportFeed(ctx context.Context, name string, data []byte) (vuln.FeedSummary, error) {
	return l.a.Vuln.ImportFeed(ctx, l.p.Name(), name, data)
}

func (l local) VEX(ctx context.Context, asset, format string) ([]byte, error) {
	return l.a.Vuln.ExportVEX(ctx, asset, format)
}

func (l local) Start(ctx context.Context, id string) (vuln.Finding, error) {
	return l.a.Vuln.Start(ctx, l.actor(), id)
}

func (l local) Resolve(ctx context.Context, id string, r vuln.Resolution, j string) (vuln.Finding, error) {
	return l.a.Vuln.Resolve(ctx, l.actor(), id, r, j)
}

func (l local) Ask(ctx context.Context, kind, id, j string, until time.Time) (vuln.Request, error) {
	if kind == vuln.Extension {
		return l.a.Vuln.RequestExtension(ctx, l.actor(), id, j, until)
	}
	return l.a.Vuln.RequestAcceptance(ctx, l.actor(), id, j, until)
}

func (l local) Requests(ctx context.Context, status string) ([]vuln.Request, error) {
	return l.a.Vuln.Requests(ctx, status)
}

func (l local) Decide(ctx context.Context, id string, approve bool, note string) (vuln.Request, error) {
	return l.a.Vuln.Decide(ctx, l.actor(), id, approve, note)
}

func (l local) Assets(ctx context.Context) ([]vuln.AssetInfo, error) { return l.a.Vuln.Assets(ctx) }

func (l local) SetOwner(ctx context.Context, asset, owner string) (vuln.AssetInfo, error) {
	return l.a.SetAssetOwner(ctx, l.p.Name(), asset, owner)
}

func (l local) Verify(ctx context.Context, trusted string) (*ledger.Report, error) {
	if trusted != "" && !sameKey(trusted, l.a.Log.Key().Public) {
		return nil, fmt.Errorf("the ledger's key %s is not the trusted key", l.a.Log.Key().Public)
	}
	return l.a.VerifyLedger(ctx)
}
