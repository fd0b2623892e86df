package web

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address of the client a request comes from. Behind the
// trusted proxies of server.trusted_proxies it is read from
// X-Forwarded-For, right to left, skipping the trusted hops: the first
// address not trusted is the client (anything left of it the client may
// have written itself). From a peer that is not a trusted proxy the
// header is ignored: the peer is the client.
func (s *Server) clientIP(r *http.Request) string {
	peer := remoteIP(r)
	if !s.trustedProxy(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing left of it
		}
		client = a.Unmap().String()
		if !s.trustedProxy(client) {
			break
		}
	}
	return client
}

func (s *Server) trustedProxy(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
