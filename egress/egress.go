// Package egress decides where opsguard connects on an API caller's
// behalf: a watched repository's URL, a forge's API. A caller who may add
// a repository must not make the server fetch its own files, another
// service on its loopback or a host of the private network behind it, nor
// carry a token there.
//
// The rule: https (and ssh for git) to a public host. A host the operator
// lists in change.allowed_hosts is allowed even when it is private; a local
// path or file:// URL only from the in-process CLI, whose user can read
// those files anyway, or with change.allow_local_repos. Literal addresses
// and names such as localhost are refused when a repository is added;
// every name is resolved again at each connection and every address it
// resolves to checked, so that a name pointed at 127.0.0.1 later (DNS
// rebinding) is refused too.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Policy is the operator's rule.
type Policy struct {
	// AllowedHosts are host names, addresses and CIDR prefixes
	// (10.1.0.0/16) reachable even though private or loopback.
	AllowedHosts []string
	// AllowLocal accepts local paths and file:// URLs from any caller.
	AllowLocal bool
	// Lookup resolves a host name; nil is the system's resolver. Tests
	// point a name at loopback with it.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

func (p Policy) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		return []netip.Addr{ip}, nil
	}
	if p.Lookup != nil {
		return p.Lookup(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// Kinds of repository URL.
const (
	Remote = "remote" // https://, ssh:// or scp-like user@host:path
	Local  = "local"  // a local path or file:// URL
)

// ErrLocal is a local path or file:// URL from a caller who may not name
// one. Its message is the same whether the path exists or not.
var ErrLocal = errors.New("a local path or file:// URL is accepted only from the in-process CLI (opsguard change repo add without --server) or with change.allow_local_repos")

// RepoURL checks a repository's git URL: local says the caller is the
// in-process CLI. It returns the URL to store (a local path made
// absolute) and its kind.
func (p Policy) RepoURL(raw string, local bool) (string, string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.HasPrefix(raw, "-") || strings.ContainsAny(raw, "\x00\n\r\t") {
		return "", "", fmt.Errorf("%q is not a git URL", raw)
	}
	scheme, _, hasScheme := strings.Cut(raw, "://")
	switch {
	case hasScheme && strings.EqualFold(scheme, "file"):
		if !local && !p.AllowLocal {
			return "", "", ErrLocal
		}
		return raw, Local, nil
	case hasScheme:
		u, err := url.Parse(raw)
		if err != nil {
			return "", "", fmt.Errorf("%q is not a valid URL", raw)
		}
		if s := strings.ToLower(u.Scheme); s != "https" && s != "ssh" {
			return "", "", fmt.Errorf("scheme %s: only https:// and ssh:// (or user@host:path) URLs are fetched", u.Scheme)
		}
		return raw, Remote, p.Host(u.Hostname())
	}
	// git's own reading of a URL without a scheme: "transport::address"
	// runs a remote helper (ext:: runs a command), "host:path" with the
	// colon before any slash is ssh, anything else a local path.
	colon, slash := strings.Index(raw, ":"), strings.Index(raw, "/")
	switch {
	case strings.Contains(raw, "::"):
		return "", "", fmt.Errorf("%q: a transport:: URL (such as ext::) is never fetched", raw)
	case colon > 0 && (slash < 0 || colon < slash):
		return raw, Remote, p.Host(HostOf(raw))
	}
	if !local && !p.AllowLocal {
		return "", "", ErrLocal
	}
	abs, err := filepath.Abs(raw)
	if err != nil {
		return "", "", fmt.Errorf("local path %q: %w", raw, err)
	}
	return abs, Local, nil
}

// HostOf returns the host of a remote git URL: scheme://[user@]host[:port]/…
// or scp-like [user@]host:path.
func HostOf(raw string) string {
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return ""
		}
		return u.Hostname()
	}
	host, _, _ := strings.Cut(raw, ":")
	if at := strings.LastIndex(host, "@"); at >= 0 {
		host = host[at+1:]
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// APIURL checks a forge's API base URL: https to a public host, or http
// or https to a host the operator allowed (plain http sends the token in
// clear, so only where the operator says).
func (p Policy) APIURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL such as https://github.example.com/api/v3/", raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !p.allowedName(u.Hostname()) {
			return fmt.Errorf("%s: plain http only to a host listed in change.allowed_hosts; use https", u.Host)
		}
	default:
		return fmt.Errorf("scheme %s: the forge's API is reached over https", u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("the API URL may not carry credentials")
	}
	return p.Host(u.Hostname())
}

// Host checks a host as written, without resolving it: an address must be
// public, a name must not be one that always means this machine, unless
// the operator allowed it.
func (p Policy) Host(host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	switch {
	case h == "":
		return fmt.Errorf("the URL names no host")
	case p.allowedName(h):
		return nil
	case strings.HasPrefix(h, "-"):
		return fmt.Errorf("host %q may not start with a dash", host)
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if Forbidden(ip) {
			return refused(host)
		}
		return nil
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || h == "localhost.localdomain" || h == "ip6-localhost" || h == "ip6-loopback" {
		return refused(host)
	}
	// "127.1", "2130706433", "0x7f.0.0.1": numbers that resolvers read as
	// addresses. No real name ends in a numeric label.
	labels := strings.Split(h, ".")
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
		return fmt.Errorf("host %q: write an address in its usual form", host)
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("host %q is not a host name", host)
		}
	}
	return nil
}

func refused(host string) error {
	return fmt.Errorf("host %s is loopback, link-local or private: only hosts listed in change.allowed_hosts are reached there", host)
}

// Forbidden reports whether an address is one a caller may not reach
// without the operator's leave: not a public unicast address.
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		sharedSpace.Contains(ip) || thisNetwork.Contains(ip)
}

var (
	sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
)

// allowedName reports whether the operator listed a host, by name,
// address or prefix.
func (p Policy) allowedName(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), "."))
	ip, ipErr := netip.ParseAddr(h)
	for _, a := range p.AllowedHosts {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == h {
			return true
		}
		if ipErr != nil {
			continue
		}
		if pre, err := netip.ParsePrefix(a); err == nil && pre.Contains(ip.Unmap()) {
			return true
		}
		if aip, err := netip.ParseAddr(a); err == nil && aip.Unmap() == ip.Unmap() {
			return true
		}
	}
	return false
}

// Listed reports whether the operator named a host in change.allowed_hosts
// (by name, address or prefix): the hosts trusted with the server's own
// secrets beside the forges' public APIs.
func (p Policy) Listed(host string) bool { return p.allowedName(host) }

// allowedAddr reports whether an address may be reached.
func (p Policy) allowedAddr(ip netip.Addr) bool {
	return !Forbidden(ip) || p.allowedName(ip.String())
}

// Resolve checks every address a host resolves to now, before a program
// (git, ssh) connects to it itself.
func (p Policy) Resolve(ctx context.Context, host string) error {
	if err := p.Host(host); err != nil {
		return err
	}
	if p.allowedName(host) {
		return nil
	}
	ips, err := p.lookup(ctx, host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if !p.allowedAddr(ip) {
			return fmt.Errorf("host %s resolves to %s: %w", host, ip, refused(host))
		}
	}
	return nil
}

// DialContext connects to addr ("host:port") through the addresses the
// host resolves to, refusing any the policy forbids: the address checked
// is the address dialled, so a rebinding between check and use is caught.
func (p Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	byName := p.allowedName(host)
	if err := p.Host(host); err != nil {
		return nil, err
	}
	ips, err := p.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	var last error
	for _, ip := range ips {
		if !byName && !p.allowedAddr(ip) {
			last = fmt.Errorf("host %s resolves to %s: %w", host, ip, refused(host))
			continue
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	if last == nil {
		last = fmt.Errorf("host %s has no address", host)
	}
	return nil, last
}

// Client returns an HTTP client whose every connection, redirects
// included, goes through DialContext. It ignores HTTP(S)_PROXY: a proxy
// would connect on its own, out of the policy's sight.
func (p Policy) Client(timeout time.Duration) *http.Client {
	t := &http.Transport{
		DialContext:           p.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: t, Timeout: timeout}
}

// Check validates the operator's list: each entry a host name, an address
// or a CIDR prefix.
func Check(hosts []string) error {
	for i, h := range hosts {
		h = strings.TrimSpace(h)
		if _, err := netip.ParsePrefix(h); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(h); err == nil {
			continue
		}
		if h == "" || strings.ContainsAny(h, " /:@[]") {
			return fmt.Errorf("entry %d (%q): want a host name, an address or a CIDR prefix", i, h)
		}
	}
	return nil
}
