package main

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/seal"
	"github.com/sesame-go/sesame/ticket"
)

// prefix is where sessiond's own pages live, so that they do not collide
// with an upstream application's paths.
const prefix = "/_sessiond/"

// Paths of the pages and endpoints.
const (
	pathHome         = prefix
	pathLogin        = prefix + "login"
	pathLogout       = prefix + "logout"
	pathLogoutAll    = prefix + "logout-all"
	pathSessions     = prefix + "sessions"
	pathRevoke       = prefix + "sessions/revoke"
	pathRevokeOthers = prefix + "sessions/revoke-others"
	pathAuth         = prefix + "auth"
	pathFrom         = prefix + "from/"
)

//go:embed templates/*.html
var templateFS embed.FS

// server is sessiond's HTTP side: pages, forward auth and the proxy.
type server struct {
	opt     *options
	log     *slog.Logger
	mgr     *sesame.Manager
	store   sesame.Store
	users   *userDB
	metrics *metrics
	tickets *ticket.Issuer // nil unless --ticket
	proxy   *httputil.ReverseProxy
	tmpl    *template.Template

	userLimit *limiter // failed logins per user
	nameLimit *limiter // failed logins per name that is no user: forgetful stand-ins
	ipLimit   *limiter // failed logins per client address (IPv6: per /64)

	cookieName string
	drain      drainer // what shutting down gracefully needs
}

// newServer builds the server over an opened store (which it instruments)
// and a users file.
// With ring set, sessions are sealed cookies and st keeps only revocations.
func newServer(opt *options, st sesame.Store, users *userDB, log *slog.Logger, m *metrics, ticketSecret string, ring *seal.KeyRing) (*server, error) {
	s := &server{
		opt:       opt,
		log:       log,
		store:     instrument(st, m),
		users:     users,
		metrics:   m,
		userLimit: newLimiter(5, 30*time.Second, 10000),
		nameLimit: newLimiter(5, 30*time.Second, 10000),
		ipLimit:   newLimiter(20, 5*time.Second, 10000),
	}
	s.nameLimit.forgetful = true
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sessiond_password_hashes_total",
		Help: "Passwords hashed to check a login (unknown users included), which the login limiter bounds.",
	}, func() float64 { return float64(users.hashes.Load()) }))
	if opt.Ticket {
		var err error
		if s.tickets, err = newTicketIssuer(opt, ticketSecret, s.clientAddr); err != nil {
			return nil, err
		}
	}
	cfg := sesame.Config{
		Ticket:             s.tickets, // nil unless --ticket: issued at Login, cleared at Logout
		Store:              s.store,
		IdleTimeout:        opt.IdleTimeout,
		Lifetime:           opt.Lifetime,
		InsecurePlainHTTP:  opt.InsecurePlainHTTP,
		MaxSessionsPerUser: opt.MaxSessions,
		OnEvent:            m.onEvent,
		Logger:             log,
		ClientIP:           s.clientIP,
		ErrorHandler:       s.sessionError,
	}
	if ring != nil {
		cfg.Store, cfg.Seal, cfg.Revocations = nil, ring, s.store
	}
	mgr, err := sesame.New(cfg)
	if err != nil {
		return nil, err
	}
	s.mgr = mgr
	s.cookieName = mgr.CookieName()
	if opt.Upstream != "" {
		up, err := url.Parse(opt.Upstream)
		if err != nil {
			return nil, err
		}
		s.proxy = s.newProxy(up)
	}
	s.tmpl, err = template.New("").Funcs(template.FuncMap{
		"when": formatTime,
		"ago":  ago,
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return s, nil
}

func newTicketIssuer(opt *options, secret string, addr func(*http.Request) netip.Addr) (*ticket.Issuer, error) {
	digest, err := parseDigest(opt.TicketDigest)
	if err != nil {
		return nil, err
	}
	codec, err := ticket.New(ticket.Config{
		Secret:   secret,
		Digest:   digest,
		IgnoreIP: opt.TicketIgnoreIP,
		Timeout:  cmp.Or(opt.TicketTimeout, opt.IdleTimeout),
	})
	if err != nil {
		return nil, fmt.Errorf("ticket: %w", err)
	}
	return &ticket.Issuer{
		Codec:    codec,
		Cookie:   ticket.CookieConfig{Domain: opt.TicketDomain, InsecureDevelopmentHTTP: opt.InsecurePlainHTTP},
		ClientIP: addr,
	}, nil
}

// parseDigest reads --ticket-digest.
func parseDigest(s string) (ticket.Digest, error) {
	switch strings.ToLower(s) {
	case "sha256", "":
		return ticket.SHA256, nil
	case "sha512":
		return ticket.SHA512, nil
	case "md5":
		return ticket.LegacyMD5, nil
	}
	return 0, fmt.Errorf("--ticket-digest %q: want sha256, sha512 or md5", s)
}

// handler is the whole HTTP surface.
func (s *server) handler() http.Handler {
	pages := http.NewServeMux()
	pages.HandleFunc("GET "+pathHome+"{$}", s.home)
	pages.HandleFunc("GET "+pathLogin, s.loginPage)
	pages.HandleFunc("POST "+pathLogin, s.login)
	pages.HandleFunc("POST "+pathLogout, s.logout)
	pages.HandleFunc("POST "+pathLogoutAll, s.logoutAll)
	pages.HandleFunc("GET "+pathSessions, s.sessions)
	pages.HandleFunc("POST "+pathRevoke, s.revoke)
	pages.HandleFunc("POST "+pathRevokeOthers, s.revokeOthers)
	pages.HandleFunc("GET "+pathFrom, s.from)
	pages.HandleFunc(prefix, func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "message.html", pageData{Title: "Not found", Message: "There is no such page."})
	})

	// Cross-origin POSTs (login CSRF, forced logout, forced revocation)
	// are refused by Sec-Fetch-Site / Origin checks; SameSite=Lax cookies
	// are the second layer.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusForbidden, "message.html", pageData{Title: "Forbidden", Message: "Cross-origin request refused."})
	}))

	mux := http.NewServeMux()
	mux.Handle(prefix, securityHeaders(csrf.Handler(pages)))
	mux.HandleFunc(pathAuth, s.forwardAuth) // any method: proxies forward the original one
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.opt.MetricsListen == "" {
		mux.Handle("GET /metrics", s.metricsHandler())
	}
	if s.proxy != nil {
		mux.HandleFunc("/", s.protect)
	} else {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, pathHome, http.StatusFound)
		})
	}
	return s.drain.handler(s.bodyDeadline(s.mgr.Handler(mux)))
}

func (s *server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
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

// readyz answers 200 when the store answers a real Load, and 503 once
// sessiond is shutting down.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Cache-Control", "no-store")
	if s.drain.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	_, _, err := s.store.Load(ctx, "sessiond-readiness-probe")
	if err != nil && !errors.Is(err, sesame.ErrNotFound) {
		s.log.Warn("readiness: store failed", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// sessionError is the Manager's ErrorHandler: a store failure is a 503
// and is logged (without ids: the Manager's errors carry none).
func (s *server) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("session", "err", err, "path", r.URL.Path)
	if errors.Is(err, sesame.ErrHeadersWritten) {
		return
	}
	http.Error(w, "session store unavailable", http.StatusServiceUnavailable)
}

// currentUser returns the request's logged-in user, or "". A session of a
// user who has since been removed from the users file is ended.
func (s *server) currentUser(r *http.Request) (string, *sesame.Session, error) {
	sess, err := sesame.FromContext(r.Context())
	if err != nil {
		return "", nil, err
	}
	u := sess.User()
	if err := sess.Err(); err != nil {
		return "", sess, err
	}
	if u != "" && !s.users.Exists(u) {
		s.log.Info("ending the session of a removed user", "user", u)
		_ = sess.Logout()
		return "", sess, nil
	}
	return u, sess, nil
}

// formatTime shows a time for people.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2 Jan 2006 15:04:05 MST")
}

// ago says how long before now t was (or how long until it comes).
func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	switch {
	case d < time.Minute:
		if suffix == "ago" {
			return "just now"
		}
		return "in under a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " " + suffix
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " " + suffix
	}
	return plural(int(d/(24*time.Hour)), "day") + " " + suffix
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
