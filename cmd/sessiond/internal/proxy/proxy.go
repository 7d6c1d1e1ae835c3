// Package proxy is what sessiond does for an application behind it:
// forward auth for nginx, Traefik and Caddy, and a reverse proxy that
// lets only logged-in requests through, with the user in a header and the
// identity headers a client could forge removed.
package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/clientip"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/ops"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
)

// Config is what a Server needs. Every field but Upstream must be set.
type Config struct {
	Users   *users.DB // who is logged in (see users.DB.Current)
	Log     *slog.Logger
	Metrics *ops.Metrics
	// CookieName is the session cookie's, which the upstream never sees.
	CookieName string

	// BoundCookieName is the bound cookie's of device-bound sessions
	// (DBSC), which the upstream never sees either; "" without DBSC.
	BoundCookieName string
	// UserHeader names the logged-in user, for forward auth and the
	// upstream; client copies are removed (--user-header).
	UserHeader string
	// StripHeaders are more request headers to remove before proxying
	// (--strip-headers).
	StripHeaders []string
	// TrustedProxies are the peers whose X-Forwarded-For tells the client's
	// address (--trusted-proxies).
	TrustedProxies []netip.Prefix
	// Upstream is the application to protect (--upstream); nil for forward
	// auth alone.
	Upstream *url.URL
	// UpstreamBodyRate is the pace in bytes per second that earns a
	// proxied upload more time (--upstream-body-rate; see BodyDeadline).
	UpstreamBodyRate int
	// LoginURL is where a visitor who is not logged in is sent: the login
	// page, with back as the address to return to.
	LoginURL func(r *http.Request, back string) string
}

// Server answers forward-auth requests (ForwardAuth) and, with an
// upstream, proxies logged-in requests to it (Protect).
type Server struct {
	opt     Config
	log     *slog.Logger
	metrics *ops.Metrics
	proxy   *httputil.ReverseProxy // nil without an upstream
}

// New returns a Server for c.
func New(c Config) *Server {
	s := &Server{opt: c, log: c.Log, metrics: c.Metrics}
	if c.Upstream != nil {
		s.proxy = s.newProxy(c.Upstream)
	}
	return s
}

// currentUser returns the request's logged-in user, or "".
func (s *Server) currentUser(r *http.Request) (string, *sesame.Session, error) {
	return s.opt.Users.Current(r, s.log)
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
// sessiond. sessiond's README (cmd/sessiond/README.md) lists them.
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

// ForwardAuth answers a proxy's subrequest (nginx auth_request, Traefik
// ForwardAuth, Caddy forward_auth): 200 with the user header for a valid
// session, 401 otherwise.
func (s *Server) ForwardAuth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	user, _, err := s.currentUser(r)
	if err != nil {
		s.log.Error("forward auth: session", "err", err)
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		return
	}
	if user == "" {
		s.metrics.AuthDenied.Inc()
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	s.metrics.AuthOK.Inc()
	w.Header().Set(s.opt.UserHeader, user)
	w.WriteHeader(http.StatusOK)
}

type userKey struct{}

// uploadKey names a proxied request's *timedBody in its context.
type uploadKey struct{}

// Protect is reverse proxy mode: requests with a logged-in session go to
// the upstream with the user header; others are sent to log in (pages) or
// refused with 401 (anything but GET and HEAD).
func (s *Server) Protect(w http.ResponseWriter, r *http.Request) {
	user, _, err := s.currentUser(r)
	if err != nil {
		s.log.Error("proxy: session", "err", err)
		http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
		return
	}
	if user == "" {
		s.metrics.AuthDenied.Inc()
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, s.opt.LoginURL(r, r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	s.metrics.AuthOK.Inc()
	ctx := context.WithValue(r.Context(), userKey{}, user)
	if b, ok := r.Body.(*timedBody); ok {
		b.upload(s.opt.UpstreamBodyRate)
		ctx = context.WithValue(ctx, uploadKey{}, b)
	}
	s.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// newProxy builds the reverse proxy to up. The user header, the identity
// headers, --strip-headers and the session cookie are removed from what
// the client sent, then the user header is set from the session and
// X-Real-IP from the client address. A response the upstream gave no
// Cache-Control is marked private: it was made for a logged-in user.
func (s *Server) newProxy(up *url.URL) *httputil.ReverseProxy {
	strip := headerSet([]string{s.opt.UserHeader}, identityHeaders, s.opt.StripHeaders)
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.Out.Host = pr.In.Host // the upstream sees the name the browser used
			stripHeaders(pr.Out.Header, strip)
			pr.SetXForwarded()
			stripCookie(pr.Out.Header, s.opt.CookieName)
			if s.opt.BoundCookieName != "" {
				stripCookie(pr.Out.Header, s.opt.BoundCookieName)
			}
			if u, ok := pr.In.Context().Value(userKey{}).(string); ok && u != "" {
				pr.Out.Header.Set(s.opt.UserHeader, u)
			}
			if a := clientip.Addr(pr.In, s.opt.TrustedProxies); a.IsValid() {
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
