package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/opsguard/opsguard/app"
	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/vuln"
)

// remote calls a server's API with an API token.
type remote struct {
	base  *url.URL
	token string
	http  *http.Client
}

// newRemote reads the token from tokenFile, else OPSGUARD_TOKEN.
func newRemote(server, tokenFile string) (*remote, error) {
	u, err := url.Parse(strings.TrimRight(server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want http(s)://host[:port]", server)
	}
	token := os.Getenv("OPSGUARD_TOKEN")
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return nil, fmt.Errorf("--server needs an API token: --token-file FILE or OPSGUARD_TOKEN")
	}
	return &remote{base: u, token: token, http: &http.Client{Timeout: 5 * time.Minute}}, nil
}

func (r *remote) Close() error { return nil }

// call sends a request and decodes the answer into out (when not nil); an
// answer in the API's error shape becomes an error naming the server.
func (r *remote) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base.String()+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return r.do(req, out)
}

// do sends req with the token and decodes the answer into out.
func (r *remote) do(req *http.Request, out any) error {
	method, path := req.Method, req.URL.Path
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("server %s: %w", r.base.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("server %s: %s (%s)", r.base.Host, e.Error.Message, e.Error.Code)
		}
		return fmt.Errorf("server %s: %s %s: status %d", r.base.Host, method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("server %s: %s %s: bad answer: %w", r.base.Host, method, path, err)
	}
	return nil
}

type items[T any] struct {
	Items []T `json:"items"`
}

func (r *remote) ListUsers(ctx context.Context) ([]auth.User, error) {
	var out items[auth.User]
	err := r.call(ctx, "GET", "/api/v1/users", nil, &out)
	return out.Items, err
}

func (r *remote) CreateUser(ctx context.Context, n auth.NewUser) (auth.User, error) {
	var u auth.User
	err := r.call(ctx, "POST", "/api/v1/users", map[string]string{"username": n.Username, "display_name": n.DisplayName,
		"email": n.Email, "role": string(n.Role), "password": n.Password}, &u)
	return u, err
}

func (r *remote) DisableUser(ctx context.Context, username string) (auth.User, error) {
	var u auth.User
	err := r.call(ctx, "POST", "/api/v1/users/"+url.PathEscape(username)+"/disable", nil, &u)
	return u, err
}

func (r *remote) SetRole(ctx context.Context, username string, role auth.Role) (auth.User, error) {
	var u auth.User
	err := r.call(ctx, "POST", "/api/v1/users/"+url.PathEscape(username)+"/role", map[string]string{"role": string(role)}, &u)
	return u, err
}

func (r *remote) ResetPassword(ctx context.Context, username string) (string, error) {
	var out struct {
		OneTimePassword string `json:"one_time_password"`
	}
	err := r.call(ctx, "POST", "/api/v1/users/"+url.PathEscape(username)+"/password/reset", struct{}{}, &out)
	return out.OneTimePassword, err
}

func (r *remote) CreateToken(ctx context.Context, owner, name string, ttl time.Duration) (auth.Token, string, error) {
	var out struct {
		Token  auth.Token `json:"token"`
		Secret string     `json:"secret"`
	}
	err := r.call(ctx, "POST", "/api/v1/tokens", map[string]any{"user": owner, "name": name, "ttl_days": int(ttl / (24 * time.Hour))}, &out)
	return out.Token, out.Secret, err
}

func (r *remote) ListTokens(ctx context.Context, username string) ([]auth.Token, error) {
	var out items[auth.Token]
	err := r.call(ctx, "GET", "/api/v1/tokens?user="+url.QueryEscape(username), nil, &out)
	return out.Items, err
}

func (r *remote) RevokeToken(ctx context.Context, id string) (auth.Token, error) {
	var t auth.Token
	err := r.call(ctx, "DELETE", "/api/v1/tokens/"+url.PathEscape(id), nil, &t)
	return t, err
}

func (r *remote) Catalog(ctx context.Context) ([]control.Item, error) {
	var out items[control.Item]
	err := r.call(ctx, "GET", "/api/v1/catalog", nil, &out)
	return out.Items, err
}

func (r *remote) RunControls(ctx context.Context) (control.Run, error) {
	var run control.Run
	err := r.call(ctx, "POST", "/api/v1/controls/runs", nil, &run)
	return run, err
}

func (r *remote) Head(ctx context.Context) (checkpointInfo, error) {
	var cp checkpointInfo
	err := r.call(ctx, "GET", "/api/v1/ledger/checkpoint", nil, &cp)
	return cp, err
}

func (r *remote) Inclusion(ctx context.Context, seq, size int64) (app.InclusionProof, error) {
	var p app.InclusionProof
	err := r.call(ctx, "GET", "/api/v1/ledger/proof/inclusion?seq="+strconv.FormatInt(seq, 10)+"&size="+strconv.FormatInt(size, 10), nil, &p)
	return p, err
}

func (r *remote) Consistency(ctx context.Context, from, to int64) (app.ConsistencyProof, error) {
	var p app.ConsistencyProof
	err := r.call(ctx, "GET", "/api/v1/ledger/proof/consistency?from="+strconv.FormatInt(from, 10)+"&to="+strconv.FormatInt(to, 10), nil, &p)
	return p, err
}

func (r *remote) Export(ctx context.Context) (*app.Export, error) {
	var x app.Export
	if err := r.call(ctx, "GET", "/api/v1/ledger/export", nil, &x); err != nil {
		return nil, err
	}
	return &x, nil
}

func (r *remote) ImportScan(ctx context.Context, req vuln.ImportRequest) (vuln.Summary, error) {
	q := url.Values{"asset": {req.Asset}, "kind": {req.AssetKind}, "format": {req.Format}, "file": {req.File}}
	src := req.Content()
	httpReq, err := http.NewRequestWithContext(ctx, "POST", r.base.String()+"/api/v1/scans?"+q.Encode(), io.NewSectionReader(src, 0, src.Size()))
	if err != nil {
		return vuln.Summary{}, err
	}
	httpReq.ContentLength = src.Size()
	var sum vuln.Summary
	err = r.do(httpReq, &sum)
	return sum, err
}

func (r *remote) Findings(ctx context.Context, f findingQuery) ([]vuln.Finding, int, error) {
	var out struct {
		Items []vuln.Finding `json:"items"`
		Total int            `json:"total"`
	}
	err := r.call(ctx, "GET", "/api/v1/findings?"+f.values().Encode(), nil, &out)
	return out.Items, out.Total, err
}

func (r *remote) Finding(ctx context.Context, id string) (vuln.Finding, error) {
	var f vuln.Finding
	err := r.call(ctx, "GET", "/api/v1/findings/"+url.PathEscape(id), nil, &f)
	return f, err
}

func (r *remote) ImportFeed(ctx context.Context, name string, data []byte) (vuln.FeedSummary, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", r.base.String()+"/api/v1/feeds?file="+url.QueryEscape(name), bytes.NewReader(data))
	if err != nil {
		return vuln.FeedSummary{}, err
	}
	var sum vuln.FeedSummary
	err = r.do(req, &sum)
	return sum, err
}

func (r *remote) VEX(ctx context.Context, asset, format string) ([]byte, error) {
	var doc json.RawMessage
	err := r.call(ctx, "GET", "/api/v1/vex?"+url.Values{"asset": {asset}, "format": {format}}.Encode(), nil, &doc)
	return doc, err
}

func (r *remote) Start(ctx context.Context, id string) (vuln.Finding, error) {
	var f vuln.Finding
	err := r.call(ctx, "POST", "/api/v1/findings/"+url.PathEscape(id)+"/start", nil, &f)
	return f, err
}

func (r *remote) Resolve(ctx context.Context, id string, res vuln.Resolution, j string) (vuln.Finding, error) {
	var f vuln.Finding
	err := r.call(ctx, "POST", "/api/v1/findings/"+url.PathEscape(id)+"/resolve", map[string]string{"resolution": string(res), "justification": j}, &f)
	return f, err
}

func (r *remote) Ask(ctx context.Context, kind, id, j string, until time.Time) (vuln.Request, error) {
	path := "/accept"
	if kind == vuln.Extension {
		path = "/extend"
	}
	var out vuln.Request
	err := r.call(ctx, "POST", "/api/v1/findings/"+url.PathEscape(id)+path, map[string]string{"justification": j, "until": until.Format(time.DateOnly)}, &out)
	return out, err
}

func (r *remote) Requests(ctx context.Context, status string) ([]vuln.Request, error) {
	var out items[vuln.Request]
	err := r.call(ctx, "GET", "/api/v1/requests?status="+url.QueryEscape(status), nil, &out)
	return out.Items, err
}

func (r *remote) Decide(ctx context.Context, id string, approve bool, note string) (vuln.Request, error) {
	verb, body := "/reject", map[string]string{"reason": note}
	if approve {
		verb, body = "/approve", map[string]string{"note": note}
	}
	var out vuln.Request
	err := r.call(ctx, "POST", "/api/v1/requests/"+url.PathEscape(id)+verb, body, &out)
	return out, err
}

func (r *remote) Assets(ctx context.Context) ([]vuln.AssetInfo, error) {
	var out items[vuln.AssetInfo]
	err := r.call(ctx, "GET", "/api/v1/assets", nil, &out)
	return out.Items, err
}

func (r *remote) SetOwner(ctx context.Context, asset, owner string) (vuln.AssetInfo, error) {
	var out vuln.AssetInfo
	err := r.call(ctx, "PUT", "/api/v1/assets/"+url.PathEscape(asset)+"/owner", map[string]string{"owner": owner}, &out)
	return out, err
}

// Verify does not take the server's word: it downloads the ledger and
// checks it here, against the trusted key when one is given.
func (r *remote) Verify(ctx context.Context, trusted string) (*ledger.Report, error) {
	x, err := r.Export(ctx)
	if err != nil {
		return nil, err
	}
	return x.Verify(ctx, trusted)
}

// sameKey compares two public key texts.
func sameKey(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) }
