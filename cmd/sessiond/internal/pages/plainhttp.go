package pages

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/clientip"
)

// Browsers keep a Secure cookie (and every __Host- cookie) only from a
// secure origin: https://, or http://localhost and http://127.0.0.1. A
// newcomer who opens sessiond as http://some-host gets the login form back
// after every correct password, with nothing said. These functions notice
// and say what to do.

// PlainHTTPAdvice is what to do about it, for pages and the start-up note.
const PlainHTTPAdvice = "serve HTTPS (--tls-cert and --tls-key, or a TLS proxy in front listed in --trusted-proxies), " +
	"or, for development only, restart sessiond with --insecure-plain-http"

// plainHTTPHost returns the host name under which the browser that sent r
// shows a plain-HTTP page of a host other than localhost, so that it will
// drop the session cookie; "" if it does not, or if that cannot be told.
//
// A POST's Origin says exactly what the browser's address bar says. A GET
// has none: then the request came over plain HTTP straight from the
// browser (a peer that is not a trusted proxy), or a trusted proxy said so
// in X-Forwarded-Proto.
func (s *Server) plainHTTPHost(r *http.Request) string {
	if s.opt.InsecurePlainHTTP {
		return ""
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Scheme != "http" || isLoopbackHost(u.Hostname()) {
			return ""
		}
		return u.Host
	}
	if r.TLS != nil {
		return ""
	}
	if clientip.Trusted(clientip.Parse(r.RemoteAddr), s.opt.TrustedProxies) && !strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "http") {
		return ""
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" || isLoopbackHost(host) {
		return ""
	}
	return r.Host
}

// isLoopbackHost reports whether browsers treat plain HTTP to host as a
// secure context: localhost, *.localhost and loopback addresses.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}

// refusePlainHTTPLogin wraps the login form's handler: a login from a
// browser that would drop the cookie is not attempted (no password is
// checked, no session made); the form comes back saying why.
func (s *Server) refusePlainHTTPLogin(login http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host := s.plainHTTPHost(r)
		if host == "" || r.Header.Get("Origin") == "" {
			login(w, r)
			return
		}
		s.warnPlainHTTP(host)
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		s.render(w, r, http.StatusBadRequest, "login.html", pageData{
			Title:     "Log in",
			Back:      safeBack(r.PostFormValue("back"), s.defaultBack()),
			PlainHTTP: host,
		})
	}
}

// warnPlainHTTP logs, once, that browsers reach sessiond where they cannot
// keep its cookie.
func (s *Server) warnPlainHTTP(host string) {
	s.plainHTTPWarned.Do(func() {
		s.log.Warn("a browser reached sessiond over plain HTTP as "+host+"; it drops the Secure session cookie, so logins cannot work: "+PlainHTTPAdvice, "host", host)
	})
}
