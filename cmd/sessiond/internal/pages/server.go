// Package pages is sessiond's own web pages, under /_sessiond/: logging
// in (with failed logins held back), the signed-in page, "your sessions"
// with revocation, and logging out here or everywhere.
package pages

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/limit"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/ops"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
)

// Prefix is where sessiond's own pages live, so that they do not collide
// with an upstream application's paths.
const Prefix = "/_sessiond/"

// Paths of the pages and endpoints.
const (
	PathHome         = Prefix
	PathLogin        = Prefix + "login"
	PathLogout       = Prefix + "logout"
	PathLogoutAll    = Prefix + "logout-all"
	PathSessions     = Prefix + "sessions"
	PathRevoke       = Prefix + "sessions/revoke"
	PathRevokeOthers = Prefix + "sessions/revoke-others"
	PathAuth         = Prefix + "auth" // forward auth, served by package proxy
	PathFrom         = Prefix + "from/"
	PathHealth       = Prefix + "healthz"
	PathReady        = Prefix + "readyz"
)

//go:embed templates/*.html
var templateFS embed.FS

// Config is what a Server needs.
type Config struct {
	Manager *sesame.Manager
	Users   *users.DB
	Log     *slog.Logger
	Metrics *ops.Metrics
	// TrustedProxies are the peers whose X-Forwarded-For tells the client's
	// address (--trusted-proxies).
	TrustedProxies []netip.Prefix
	// Proxy says that sessiond protects an upstream (--upstream): logging
	// in leads to "/", the application, rather than the home page.
	Proxy bool
	// Sealed says that sessions are sealed cookies (--sealed), which the
	// sessions page cannot list.
	Sealed bool
	// InsecurePlainHTTP is --insecure-plain-http: browsers keep the cookie
	// over plain HTTP, so the pages need not warn that they drop it.
	InsecurePlainHTTP bool
	// Health and Ready answer at PathHealth and PathReady.
	Health, Ready http.HandlerFunc
	// Limits hold back failed logins; nil means DefaultLimits().
	Limits *Limits
}

// Limits are the login limiter's tables (see package limit). Each login
// attempt takes a token from its client address's bucket and from its
// user's, or, for a name that is no user, from a stand-in bucket.
type Limits struct {
	User *limit.Limiter // failed logins per user
	Name *limit.Limiter // failed logins per name that is no user: forgetful stand-ins
	IP   *limit.Limiter // failed logins per client address (IPv6: per /64)
}

// DefaultLimits returns new limiters that allow 5 failed logins per user
// or unknown name, one more every 30 seconds, and 20 per client address,
// one more every 5 seconds, each in a table of 10,000 buckets.
func DefaultLimits() Limits {
	return Limits{
		User: limit.New(limit.Config{Burst: 5, Every: 30 * time.Second, Max: 10000}),
		Name: limit.New(limit.Config{Burst: 5, Every: 30 * time.Second, Max: 10000, Forgetful: true}),
		IP:   limit.New(limit.Config{Burst: 20, Every: 5 * time.Second, Max: 10000}),
	}
}

// Server serves the pages.
type Server struct {
	opt     Config
	log     *slog.Logger
	mgr     *sesame.Manager
	users   *users.DB
	metrics *ops.Metrics
	tmpl    *template.Template

	userLimit *limit.Limiter // failed logins per user
	nameLimit *limit.Limiter // failed logins per name that is no user: forgetful stand-ins
	ipLimit   *limit.Limiter // failed logins per client address (IPv6: per /64)

	cookieName string

	plainHTTPWarned sync.Once // see warnPlainHTTP
}

// New returns a Server for c.
func New(c Config) (*Server, error) {
	lim := DefaultLimits()
	if c.Limits != nil {
		lim = *c.Limits
	}
	s := &Server{
		opt:        c,
		log:        c.Log,
		mgr:        c.Manager,
		users:      c.Users,
		metrics:    c.Metrics,
		userLimit:  lim.User,
		nameLimit:  lim.Name,
		ipLimit:    lim.IP,
		cookieName: c.Manager.CookieName(),
	}
	var err error
	s.tmpl, err = template.New("").Funcs(template.FuncMap{
		"when":  formatTime,
		"ago":   ago,
		"short": shortHandle,
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Handler serves every path under Prefix but PathAuth.
func (s *Server) Handler() http.Handler {
	pages := http.NewServeMux()
	pages.HandleFunc("GET "+PathHome+"{$}", s.home)
	pages.HandleFunc("GET "+PathLogin, s.loginPage)
	pages.HandleFunc("POST "+PathLogin, s.refusePlainHTTPLogin(s.login))
	pages.HandleFunc("POST "+PathLogout, s.logout)
	pages.HandleFunc("GET "+PathLogoutAll, s.logoutAllPage)
	pages.HandleFunc("POST "+PathLogoutAll, s.logoutAll)
	pages.HandleFunc("GET "+PathSessions, s.sessions)
	pages.HandleFunc("POST "+PathRevoke, s.revoke)
	pages.HandleFunc("POST "+PathRevokeOthers, s.revokeOthers)
	pages.HandleFunc("GET "+PathFrom, s.from)
	pages.HandleFunc("GET "+PathHealth, s.opt.Health)
	pages.HandleFunc("GET "+PathReady, s.opt.Ready)
	pages.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "message.html", pageData{Title: "Not found", Message: "There is no such page."})
	})

	// Cross-origin POSTs (login CSRF, forced logout, forced revocation)
	// are refused by Sec-Fetch-Site / Origin checks; SameSite=Lax cookies
	// are the second layer.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusForbidden, "message.html", pageData{Title: "Forbidden", Message: "Cross-origin request refused."})
	}))
	return securityHeaders(csrf.Handler(pages))
}

// securityHeaders keeps sessiond's pages out of frames and caches and
// forbids scripts altogether.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// currentUser returns the request's logged-in user, or "".
func (s *Server) currentUser(r *http.Request) (string, *sesame.Session, error) {
	return s.users.Current(r, s.log)
}
