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

	"github.com/opsguard/opsguard/auth"
	"github.com/opsguard/opsguard/backup"
	"github.com/opsguard/opsguard/control"
	"github.com/opsguard/opsguard/events"
	"github.com/opsguard/opsguard/host"
	"github.com/opsguard/opsguard/ledger"
	"github.com/opsguard/opsguard/policy"
	"github.com/opsguard/opsguard/vuln"
)

// client is how every administrative command acts: through the API, of a
// server named by --server (with a token), or of the same handler run in
// this process on the data directory (as the operating-system user). So a
// command is one API call, authorised and validated in one place.
type client struct {
	base  string // URL prefix of the API's paths
	where string // prefix of error messages: "server HOST: ", or ""
	token string // bearer token (remote only)
	http  *http.Client
	// inProcess is set when the handler runs here, on the data directory.
	inProcess bool
	close     func() error
}

// newRemote reads the token from tokenFile, else OPSGUARD_TOKEN.
func newRemote(server, tokenFile string) (*client, error) {
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
	return &client{base: u.String(), where: "server " + u.Host + ": ", token: token,
		http: &http.Client{Timeout: 5 * time.Minute}, close: func() error { return nil }}, nil
}

func (c *client) Close() error { return c.close() }

// call sends a request and decodes the answer into out (when not nil); an
// answer in the API's error shape becomes an error.
func (c *client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.do(req, out)
}

// do sends req (with the token, remotely) and decodes the answer into out.
func (c *client) do(req *http.Request, out any) error {
	method, path := req.Method, req.URL.Path
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s%w", c.where, err)
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
			return fmt.Errorf("%s%s (%s)", c.where, e.Error.Message, e.Error.Code)
		}
		return fmt.Errorf("%s%s %s: status %d", c.where, method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*rawBody); ok {
		*raw, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s%s %s: bad answer: %w", c.where, method, path, err)
	}
	return nil
}

// checkpointInfo is the newest signed checkpoint.
type checkpointInfo struct {
	Size      int64  `json:"size"`
	Root      string `json:"root_hash"`
	Note      string `json:"note"`
	PublicKey string `json:"public_key"`
}

type items[T any] struct {
	Items []T `json:"items"`
}

// callAs is call for an answer decoded as a T.
func callAs[T any](ctx context.Context, c *client, method, path string, in any) (T, error) {
	var out T
	err := c.call(ctx, method, path, in, &out)
	return out, err
}

// callItems is call for a listing, answered as {"items": [...]}.
func callItems[T any](ctx context.Context, c *client, method, path string, in any) ([]T, error) {
	out, err := callAs[items[T]](ctx, c, method, path, in)
	return out.Items, err
}

func (c *client) ListUsers(ctx context.Context) ([]auth.User, error) {
	return callItems[auth.User](ctx, c, "GET", "/api/v1/users", nil)
}

func (c *client) CreateUser(ctx context.Context, n auth.NewUser) (auth.User, error) {
	var u auth.User
	err := c.call(ctx, "POST", "/api/v1/users", map[string]string{"username": n.Username, "display_name": n.DisplayName,
		"email": n.Email, "role": string(n.Role), "password": n.Password}, &u)
	return u, err
}

func (c *client) DisableUser(ctx context.Context, username string) (auth.User, error) {
	return callAs[auth.User](ctx, c, "POST", "/api/v1/users/"+url.PathEscape(username)+"/disable", nil)
}

func (c *client) SetRole(ctx context.Context, username string, role auth.Role) (auth.User, error) {
	return callAs[auth.User](ctx, c, "POST", "/api/v1/users/"+url.PathEscape(username)+"/role", map[string]string{"role": string(role)})
}

func (c *client) ResetPassword(ctx context.Context, username string) (string, error) {
	var out struct {
		OneTimePassword string `json:"one_time_password"`
	}
	err := c.call(ctx, "POST", "/api/v1/users/"+url.PathEscape(username)+"/password/reset", struct{}{}, &out)
	return out.OneTimePassword, err
}

func (c *client) CreateToken(ctx context.Context, owner, name string, ttl time.Duration) (auth.Token, string, error) {
	var out struct {
		Token  auth.Token `json:"token"`
		Secret string     `json:"secret"`
	}
	err := c.call(ctx, "POST", "/api/v1/tokens", map[string]any{"user": owner, "name": name, "ttl_days": int(ttl / (24 * time.Hour))}, &out)
	return out.Token, out.Secret, err
}

func (c *client) ListTokens(ctx context.Context, username string) ([]auth.Token, error) {
	return callItems[auth.Token](ctx, c, "GET", "/api/v1/tokens?user="+url.QueryEscape(username), nil)
}

func (c *client) RevokeToken(ctx context.Context, id string) (auth.Token, error) {
	return callAs[auth.Token](ctx, c, "DELETE", "/api/v1/tokens/"+url.PathEscape(id), nil)
}

func (c *client) Catalog(ctx context.Context) ([]control.Item, error) {
	return callItems[control.Item](ctx, c, "GET", "/api/v1/catalog", nil)
}

func (c *client) RunControls(ctx context.Context) (control.Run, error) {
	return callAs[control.Run](ctx, c, "POST", "/api/v1/controls/runs", nil)
}

func (c *client) Head(ctx context.Context) (checkpointInfo, error) {
	return callAs[checkpointInfo](ctx, c, "GET", "/api/v1/ledger/checkpoint", nil)
}

func (c *client) Inclusion(ctx context.Context, seq, size int64) (ledger.Inclusion, error) {
	return callAs[ledger.Inclusion](ctx, c, "GET", "/api/v1/ledger/proof/inclusion?seq="+strconv.FormatInt(seq, 10)+"&size="+strconv.FormatInt(size, 10), nil)
}

func (c *client) Consistency(ctx context.Context, from, to int64) (ledger.Consistency, error) {
	return callAs[ledger.Consistency](ctx, c, "GET", "/api/v1/ledger/proof/consistency?from="+strconv.FormatInt(from, 10)+"&to="+strconv.FormatInt(to, 10), nil)
}

func (c *client) Export(ctx context.Context) (*ledger.Export, error) {
	var x ledger.Export
	if err := c.call(ctx, "GET", "/api/v1/ledger/export", nil, &x); err != nil {
		return nil, err
	}
	return &x, nil
}

func (c *client) ImportScan(ctx context.Context, req vuln.ImportRequest) (vuln.Summary, error) {
	q := url.Values{"asset": {req.Asset}, "kind": {req.AssetKind}, "format": {req.Format}, "file": {req.File}}
	src := req.Content()
	httpReq, err := http.NewRequestWithContext(ctx, "POST", c.base+"/api/v1/scans?"+q.Encode(), io.NewSectionReader(src, 0, src.Size()))
	if err != nil {
		return vuln.Summary{}, err
	}
	httpReq.ContentLength = src.Size()
	var sum vuln.Summary
	err = c.do(httpReq, &sum)
	return sum, err
}

func (c *client) Findings(ctx context.Context, f findingQuery) ([]vuln.Finding, int, error) {
	var out struct {
		Items []vuln.Finding `json:"items"`
		Total int            `json:"total"`
	}
	err := c.call(ctx, "GET", "/api/v1/findings?"+f.values().Encode(), nil, &out)
	return out.Items, out.Total, err
}

func (c *client) Finding(ctx context.Context, id string) (vuln.Finding, error) {
	return callAs[vuln.Finding](ctx, c, "GET", "/api/v1/findings/"+url.PathEscape(id), nil)
}

func (c *client) ImportFeed(ctx context.Context, name string, data []byte) (vuln.FeedSummary, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/api/v1/feeds?file="+url.QueryEscape(name), bytes.NewReader(data))
	if err != nil {
		return vuln.FeedSummary{}, err
	}
	var sum vuln.FeedSummary
	err = c.do(req, &sum)
	return sum, err
}

func (c *client) VEX(ctx context.Context, asset, format string) ([]byte, error) {
	var doc json.RawMessage
	err := c.call(ctx, "GET", "/api/v1/vex?"+url.Values{"asset": {asset}, "format": {format}}.Encode(), nil, &doc)
	return doc, err
}

func (c *client) Start(ctx context.Context, id string) (vuln.Finding, error) {
	return callAs[vuln.Finding](ctx, c, "POST", "/api/v1/findings/"+url.PathEscape(id)+"/start", nil)
}

func (c *client) Resolve(ctx context.Context, id string, res vuln.Resolution, j string) (vuln.Finding, error) {
	return callAs[vuln.Finding](ctx, c, "POST", "/api/v1/findings/"+url.PathEscape(id)+"/resolve", map[string]string{"resolution": string(res), "justification": j})
}

func (c *client) Ask(ctx context.Context, kind, id, j string, until time.Time) (vuln.Request, error) {
	path := "/accept"
	if kind == vuln.Extension {
		path = "/extend"
	}
	var out vuln.Request
	err := c.call(ctx, "POST", "/api/v1/findings/"+url.PathEscape(id)+path, map[string]string{"justification": j, "until": until.Format(time.DateOnly)}, &out)
	return out, err
}

func (c *client) Requests(ctx context.Context, status string) ([]vuln.Request, error) {
	return callItems[vuln.Request](ctx, c, "GET", "/api/v1/requests?status="+url.QueryEscape(status), nil)
}

func (c *client) Decide(ctx context.Context, id string, approve bool, note string) (vuln.Request, error) {
	verb, body := "/reject", map[string]string{"reason": note}
	if approve {
		verb, body = "/approve", map[string]string{"note": note}
	}
	var out vuln.Request
	err := c.call(ctx, "POST", "/api/v1/requests/"+url.PathEscape(id)+verb, body, &out)
	return out, err
}

func (c *client) Assets(ctx context.Context) ([]vuln.AssetInfo, error) {
	return callItems[vuln.AssetInfo](ctx, c, "GET", "/api/v1/assets", nil)
}

func (c *client) SetOwner(ctx context.Context, asset, owner string) (vuln.AssetInfo, error) {
	return callAs[vuln.AssetInfo](ctx, c, "PUT", "/api/v1/assets/"+url.PathEscape(asset)+"/owner", map[string]string{"owner": owner})
}

// Verify does not take a server's word: it downloads the ledger and checks
// it here, against the trusted key when one is given. In-process, without
// a trusted key, the handler is this process: its check also reads the
// checkpoint kept beside the key.
func (c *client) Verify(ctx context.Context, trusted string) (*ledger.Report, error) {
	if c.inProcess && trusted == "" {
		var rep ledger.Report
		err := c.call(ctx, "POST", "/api/v1/ledger/verify", nil, &rep)
		return &rep, err
	}
	x, err := c.Export(ctx)
	if err != nil {
		return nil, err
	}
	return x.Verify(ctx, trusted)
}

// sameKey compares two public key texts.
func sameKey(a, b string) bool { return strings.TrimSpace(a) == strings.TrimSpace(b) }

func (c *client) BackupStatus(ctx context.Context) ([]backup.Status, error) {
	return callItems[backup.Status](ctx, c, "GET", "/api/v1/backup/status", nil)
}

func (c *client) DataSets(ctx context.Context) ([]backup.DataSet, error) {
	return callItems[backup.DataSet](ctx, c, "GET", "/api/v1/backup/datasets", nil)
}

func (c *client) AddDataSet(ctx context.Context, d backup.DataSet) (backup.DataSet, error) {
	return callAs[backup.DataSet](ctx, c, "POST", "/api/v1/backup/datasets", d)
}

// DataSet returns a data set (its copies are not read).
func (c *client) DataSet(ctx context.Context, name string) (backup.DataSet, error) {
	return callAs[backup.DataSet](ctx, c, "GET", "/api/v1/backup/datasets/"+url.PathEscape(name), nil)
}

func (c *client) UpdateDataSet(ctx context.Context, name string, d backup.DataSet) (backup.DataSet, error) {
	return callAs[backup.DataSet](ctx, c, "PUT", "/api/v1/backup/datasets/"+url.PathEscape(name), d)
}

func (c *client) AddCopy(ctx context.Context, dataSet string, cp backup.Copy) (backup.Copy, error) {
	return callAs[backup.Copy](ctx, c, "POST", "/api/v1/backup/datasets/"+url.PathEscape(dataSet)+"/copies", cp)
}

func (c *client) Snapshots(ctx context.Context, dataSet string, all bool) ([]backup.Snapshot, error) {
	return callItems[backup.Snapshot](ctx, c, "GET", "/api/v1/backup/datasets/"+url.PathEscape(dataSet)+"/snapshots?all="+strconv.FormatBool(all), nil)
}

func (c *client) CollectBackups(ctx context.Context) ([]backup.CollectResult, error) {
	return callItems[backup.CollectResult](ctx, c, "POST", "/api/v1/backup/collect", nil)
}

// The governance calls (policy/).

func (c *client) Policies(ctx context.Context) ([]policy.DocumentView, error) {
	return callItems[policy.DocumentView](ctx, c, "GET", "/api/v1/policies", nil)
}

func (c *client) Policy(ctx context.Context, doc string) (policy.DocumentDetail, error) {
	var out policy.DocumentDetail
	err := c.call(ctx, "GET", "/api/v1/policies/"+url.PathEscape(doc), nil, &out)
	return out, err
}

// RenderPolicy returns a version (0: the current one) as Markdown or HTML.
func (c *client) RenderPolicy(ctx context.Context, doc string, version int, format string) ([]byte, error) {
	q := url.Values{"format": {format}, "version": {strconv.Itoa(version)}}
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/policies/"+url.PathEscape(doc)+"/render?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var raw rawBody
	err = c.do(req, &raw)
	return raw, err
}

func (c *client) PolicyDiff(ctx context.Context, doc string, from, to int) (policy.Diff, error) {
	var out policy.Diff
	err := c.call(ctx, "GET", fmt.Sprintf("/api/v1/policies/%s/diff?from=%d&to=%d", url.PathEscape(doc), from, to), nil, &out)
	return out, err
}

func (c *client) DraftPolicy(ctx context.Context, doc string, n policy.NewDraft) (policy.Version, error) {
	var out policy.Version
	err := c.call(ctx, "POST", "/api/v1/policies/"+url.PathEscape(doc)+"/drafts", n, &out)
	return out, err
}

func (c *client) EditPolicy(ctx context.Context, doc string, version int, n policy.NewDraft) (policy.Version, error) {
	var out policy.Version
	err := c.call(ctx, "PUT", fmt.Sprintf("/api/v1/policies/%s/versions/%d", url.PathEscape(doc), version), n, &out)
	return out, err
}

func (c *client) PolicyStep(ctx context.Context, doc string, version int, action, note string) (policy.Version, error) {
	var out policy.Version
	err := c.call(ctx, "POST", fmt.Sprintf("/api/v1/policies/%s/versions/%d/%s", url.PathEscape(doc), version, action), map[string]string{"note": note}, &out)
	return out, err
}

func (c *client) Attest(ctx context.Context, n policy.NewAttestation) (policy.Attestation, error) {
	var out policy.Attestation
	err := c.call(ctx, "POST", "/api/v1/attestations", n, &out)
	return out, err
}

func (c *client) Attestations(ctx context.Context, requirement string) ([]policy.Attestation, error) {
	return callItems[policy.Attestation](ctx, c, "GET", "/api/v1/attestations?"+url.Values{"requirement": {requirement}}.Encode(), nil)
}

func (c *client) ReviewAttestation(ctx context.Context, id, decision, note string) (policy.Attestation, error) {
	var out policy.Attestation
	err := c.call(ctx, "POST", "/api/v1/attestations/"+url.PathEscape(id)+"/review", map[string]string{"decision": decision, "note": note}, &out)
	return out, err
}

func (c *client) RequirementsTrend(ctx context.Context, days int) ([]policy.DayCounts, error) {
	return callItems[policy.DayCounts](ctx, c, "GET", "/api/v1/requirements/trend?days="+strconv.Itoa(days), nil)
}

func (c *client) Requirements(ctx context.Context) (policy.Compliance, error) {
	var out policy.Compliance
	err := c.call(ctx, "GET", "/api/v1/requirements", nil, &out)
	return out, err
}

// rawBody takes an answer that is not JSON (a rendered document) as it is.
type rawBody []byte

func (c *client) AckPolicy(ctx context.Context, doc string) (policy.Ack, error) {
	var out policy.Ack
	err := c.call(ctx, "POST", "/api/v1/policies/"+url.PathEscape(doc)+"/ack", nil, &out)
	return out, err
}

func (c *client) StartDrill(ctx context.Context, dataSet string, req backup.DrillRequest) (backup.Drill, error) {
	return callAs[backup.Drill](ctx, c, "POST", "/api/v1/backup/datasets/"+url.PathEscape(dataSet)+"/drills", req)
}

func (c *client) Drills(ctx context.Context, dataSet string) ([]backup.Drill, error) {
	return callItems[backup.Drill](ctx, c, "GET", "/api/v1/backup/drills?dataset="+url.QueryEscape(dataSet), nil)
}

func (c *client) ApproveDrill(ctx context.Context, id string) (backup.Drill, error) {
	return callAs[backup.Drill](ctx, c, "POST", "/api/v1/backup/drills/"+url.PathEscape(id)+"/approve", nil)
}

func (c *client) RCAs(ctx context.Context) ([]backup.RCA, error) {
	return callItems[backup.RCA](ctx, c, "GET", "/api/v1/backup/rcas", nil)
}

func (c *client) RecordRCA(ctx context.Context, id, cause, action string) (backup.RCA, error) {
	return callAs[backup.RCA](ctx, c, "POST", "/api/v1/backup/rcas/"+url.PathEscape(id), map[string]string{"cause": cause, "action": action})
}

func (c *client) Exercises(ctx context.Context) ([]backup.Exercise, error) {
	return callItems[backup.Exercise](ctx, c, "GET", "/api/v1/backup/exercises", nil)
}

func (c *client) AddExercise(ctx context.Context, e backup.Exercise) (backup.Exercise, error) {
	return callAs[backup.Exercise](ctx, c, "POST", "/api/v1/backup/exercises", e)
}

func (c *client) Hosts(ctx context.Context) ([]host.Host, error) {
	return callItems[host.Host](ctx, c, "GET", "/api/v1/hosts", nil)
}

func (c *client) Host(ctx context.Context, name string) (hostView, error) {
	return callAs[hostView](ctx, c, "GET", "/api/v1/hosts/"+url.PathEscape(name), nil)
}

func (c *client) SetHostEnvironment(ctx context.Context, name, env string) (host.Host, error) {
	return callAs[host.Host](ctx, c, "PUT", "/api/v1/hosts/"+url.PathEscape(name)+"/environment", map[string]string{"environment": env})
}

func (c *client) SetHostGroups(ctx context.Context, name string, groups []string) (host.Host, error) {
	if groups == nil {
		groups = []string{}
	}
	return callAs[host.Host](ctx, c, "PUT", "/api/v1/hosts/"+url.PathEscape(name)+"/groups", map[string][]string{"groups": groups})
}

func (c *client) CapacityHistory(ctx context.Context, name string, days int) ([]host.DayRecord, error) {
	return callItems[host.DayRecord](ctx, c, "GET", "/api/v1/hosts/"+url.PathEscape(name)+"/capacity/history?days="+strconv.Itoa(days), nil)
}

func (c *client) CapacityStatus(ctx context.Context) ([]host.Status, error) {
	return callItems[host.Status](ctx, c, "GET", "/api/v1/capacity/status", nil)
}

func (c *client) Events(ctx context.Context, q url.Values) ([]events.Event, error) {
	return callItems[events.Event](ctx, c, "GET", "/api/v1/events?"+q.Encode(), nil)
}

func (c *client) Baselines(ctx context.Context, group string) ([]host.Baseline, error) {
	return callItems[host.Baseline](ctx, c, "GET", "/api/v1/baselines?group="+url.QueryEscape(group), nil)
}

func (c *client) AddBaseline(ctx context.Context, group, doc string) (host.Baseline, error) {
	return callAs[host.Baseline](ctx, c, "POST", "/api/v1/baselines", map[string]string{"group": group, "document": doc})
}

func (c *client) Baseline(ctx context.Context, id string) (host.Baseline, error) {
	return callAs[host.Baseline](ctx, c, "GET", "/api/v1/baselines/"+url.PathEscape(id), nil)
}

func (c *client) DecideBaseline(ctx context.Context, id, action, note string) (host.Baseline, error) {
	return callAs[host.Baseline](ctx, c, "POST", "/api/v1/baselines/"+url.PathEscape(id)+"/"+action, map[string]string{"note": note})
}

func (c *client) CaptureBaseline(ctx context.Context, hostName string) (host.Baseline, error) {
	return callAs[host.Baseline](ctx, c, "POST", "/api/v1/hosts/"+url.PathEscape(hostName)+"/baseline/capture", nil)
}

func (c *client) Drifts(ctx context.Context, hostName string) ([]host.HostDrift, error) {
	return callItems[host.HostDrift](ctx, c, "GET", "/api/v1/drifts?host="+url.QueryEscape(hostName), nil)
}

func (c *client) HostSoftware(ctx context.Context, hostName string) (host.Software, error) {
	return callAs[host.Software](ctx, c, "GET", "/api/v1/hosts/"+url.PathEscape(hostName)+"/software", nil)
}
