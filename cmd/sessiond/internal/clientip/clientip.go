// Package clientip tells the address of the client behind a request: the
// connection's peer, or, when the peer is a trusted proxy, what the
// proxies' X-Forwarded-For says.
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Addr is the address of the client: the connection's peer, or, when the
// peer is a trusted proxy (--trusted-proxies), the rightmost address in
// X-Forwarded-For that is not itself a trusted proxy. Headers from an
// untrusted peer are ignored, so a client cannot choose its address.
func Addr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := Parse(r.RemoteAddr)
	if !peer.IsValid() || !Trusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a malformed chain is not believed beyond its peer
		}
		a = a.Unmap()
		if !Trusted(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

// String is Addr as text, "" when the peer's address cannot be read: for
// the Manager's session list and for logs.
func String(r *http.Request, trusted []netip.Prefix) string {
	a := Addr(r, trusted)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// Parse reads "host:port" or a bare address.
func Parse(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, _ := netip.ParseAddr(s)
	return a.Unmap()
}

// Trusted reports whether a is one of the trusted proxies.
func Trusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
