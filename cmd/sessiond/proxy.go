package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
)

// clientAddr is the address of the client: the connection's peer, or, when
// the peer is a trusted proxy (--trusted-proxies), the rightmost address in
// X-Forwarded-For that is not itself a trusted proxy. Headers from an
// untrusted peer are ignored, so a client cannot choose its address.
func (s *server) clientAddr(r *http.Request) netip.Addr {
	return clientAddr(r, s.opt.TrustedProxies)
}

func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !isTrusted(peer, trusted) {
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
		if !isTrusted(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

// parseAddr reads "host:port" or a bare address.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, _ := netip.ParseAddr(s)
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is clientAddr as text, for the Manager's session list.
func (s *server) clientIP(r *http.Request) string {
	a := s.clientAddr(r)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// headerKey folds a header name the way CGI-style servers do (case and
// '_' versus '-'), so that "X_Auth_User" counts as a copy of X-Auth-User.
func headerKey(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}

// identityHeaders are the request headers through which web servers,
// authenticating proxies and clouds tell an application who the user is,
// or what the client's address is. Client copies of them never reach the
// upstream: an application that trusts one of them would otherwise take
// the client's word for it. X-Real-IP and X-Forwarded-* are then set by
// sessiond. The README lists them.
var identityHeaders = []string{
	// CGI's REMOTE_USER as a header, and Authelia's.
	"Remote-User", "Remote-Email", "Remote-Groups", "Remote-Name",
	"X-Remote-User", "X-Remote-Email", "X-Remote-Groups", "X-Authenticated-User",
	// oauth2-proxy and nginx auth_request set-ups.
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Groups",
	"X-Forwarded-Access-Token",
	"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Preferred-Username",
	"X-Auth-Request-Groups", "X-Auth-Request-Access-Token",
	// Grafana's auth proxy, authentik, Kong.
	"X-WEBAUTH-USER", "X-Authentik-Username", "X-Authentik-Email", "X-Authentik-Groups", "X-Authentik-Uid",
	"X-Consumer-Username", "X-Credential-Identifier",
	// Google IAP, Azure App Service, AWS ALB.
	"X-Goog-Authenticated-User-Email", "X-Goog-Authenticated-User-Id", "X-Goog-IAP-JWT-Assertion",
	"X-MS-Client-Principal", "X-MS-Client-Principal-Name", "X-MS-Client-Principal-Id",
	"X-Amzn-Oidc-Identity", "X-Amzn-Oidc-Data", "X-Amzn-Oidc-Accesstoken",
	// TLS client certificates passed on by a terminating proxy.
	"X-SSL-Client-Cert", "X-SSL-Client-DN", "X-SSL-Client-Verify", "X-Client-Cert", "X-Client-DN", "SSL-Client-Cert",
	// The client's address, and how it came (the X-Forwarded ones are set
	// afresh; this removes their CGI-style look-alikes such as
	// X_Forwarded_For).
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Real-IP", "Forwarded", "True-Client-IP", "X-Client-IP", "CF-Connecting-IP", "X-Cluster-Client-IP",
	"Fastly-Client-IP",
}

// headerSet is a set of header names, folded by headerKey.
func headerSet(names ...[]string) map[string]bool {
	set := map[string]bool{}
	for _, l := range names {
		for _, n := range l {
			set[headerKey(n)] = true
		}
	}
	return set
}

// stripHeaders deletes every header that a backend might read as one of
// the names in set (made by headerSet).
func stripHeaders(h http.Header, set map[string]bool) {
	for k := range h {
		if set[headerKey(k)] {
			delete(h, k)
		}
	}
}

// stripCookie removes the cookies called name from a request's Cookie
// headers, so the upstream never sees the session id.
func stripCookie(h http.Header, name string) {
	vals := h.Values("Cookie")
	if len(vals) == 0 {
		return
	}
	var kept []string
	for _, v := range vals {
		for part := range strings.SplitSeq(v, ";") {
			p := strings.TrimSpace(part)
			if p == "" {
				continue
			}
			n, _, _ := strings.Cut(p, "=")
			if strings.TrimSpace(n) == name {
				continue
			}
			kept = append(kept, p)
		}
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}

// forwardAuth answers a proxy's subrequest (nginx auth_request, Traefik
// ForwardAuth, Caddy forward_auth): 200 with the user header for a valid
// session, 401 otherwise.
func (s *server) forwardAuth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	user, _, err := s.currentUser(r)
	if err != nil {
		s.log.Error("forward auth: session", "err", err)
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		return
	}
	if user == "" {
		s.metrics.authChecks.WithLabelValues("denied").Inc()
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	s.metrics.authChecks.WithLabelValues("ok").Inc()
	w.Header().Set(s.opt.UserHeader, user)
	w.WriteHeader(http.StatusOK)
}

type userKey struct{}

// uploadKey names a proxied request's *timedBody in its context.
type uploadKey struct{}

// protect is reverse proxy mode: requests with a logged-in session go to
// the upstream with the user header; others are sent to log in (pages) or
// refused with 401 (anything but GET and HEAD).
func (s *server) protect(w http.ResponseWriter, r *http.Request) {
	user, _, err := s.currentUser(r)
	if err != nil {
		s.log.Error("proxy: session", "err", err)
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		return
	}
	if user == "" {
		s.metrics.authChecks.WithLabelValues("denied").Inc()
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, loginURL(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	s.metrics.authChecks.WithLabelValues("ok").Inc()
	ctx := context.WithValue(r.Context(), userKey{}, user)
	if b, ok := r.Body.(*timedBody); ok {
		b.upload(s.opt.UpstreamBodyRate)
		ctx = context.WithValue(ctx, uploadKey{}, b)
	}
	s.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// loginURL is the login page with a return address.
func loginURL(back string) string {
	back = safeBack(back, "")
	if back == "" || back == "/" {
		return pathLogin
	}
	return pathLogin + "?back=" + url.QueryEscape(back)
}

// newProxy builds the reverse proxy to up. The user header, the identity
// headers, --strip-headers and the session cookie are removed from what
// the client sent, then the user header is set from the session and
// X-Real-IP from the client address. A response the upstream gave no
// Cache-Control is marked private: it was made for a logged-in user.
func (s *server) newProxy(up *url.URL) *httputil.ReverseProxy {
	strip := headerSet([]string{s.opt.UserHeader}, identityHeaders, s.opt.StripHeaders)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.Out.Host = pr.In.Host // the upstream sees the name the browser used
			stripHeaders(pr.Out.Header, strip)
			pr.SetXForwarded()
			stripCookie(pr.Out.Header, s.cookieName)
			if s.binder != nil {
				stripCookie(pr.Out.Header, s.binder.CookieName())
			}
			if u, ok := pr.In.Context().Value(userKey{}).(string); ok && u != "" {
				pr.Out.Header.Set(s.opt.UserHeader, u)
			}
			if a := s.clientAddr(pr.In); a.IsValid() {
				pr.Out.Header.Set("X-Real-IP", a.String())
			}
		},
		ModifyResponse: func(res *http.Response) error {
			if res.Header.Get("Cache-Control") == "" {
				res.Header.Set("Cache-Control", "private")
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if b, ok := r.Context().Value(uploadKey{}).(*timedBody); ok && b.cutOff() {
				s.log.Warn("proxied request body arrived too slowly: cut off", "path", r.URL.Path, "bytes", b.n.Load())
				http.Error(w, "request body too slow", http.StatusRequestTimeout)
				return
			}
			s.log.Warn("upstream failed", "err", err, "path", r.URL.Path)
			http.Error(w, "upstream unavailable", http.StatusBadGateway)
		},
	}
}

// from serves /_sessiond/from/<original request URI>: the form of login
// link a proxy can build without escaping (nginx: return 302
// /_sessiond/from$request_uri). It redirects to the login page with the
// URI as a checked return address.
func (s *server) from(w http.ResponseWriter, r *http.Request) {
	uri := r.URL.RequestURI()
	back := strings.TrimPrefix(uri, strings.TrimSuffix(pathFrom, "/"))
	if back == uri {
		back = ""
	}
	http.Redirect(w, r, loginURL(back), http.StatusSeeOther)
}
