package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/cacheflag"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/clientip"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/ops"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/proxy"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
	"github.com/sesame-go/sesame/dbsc"
	"github.com/sesame-go/sesame/seal"
	"github.com/sesame-go/sesame/ticket"
)

// server is sessiond's HTTP side, wired together: the pages, forward auth
// and the proxy, on one Manager over an instrumented store.
type server struct {
	opt     *options
	log     *slog.Logger
	mgr     *sesame.Manager
	users   *users.DB
	metrics *ops.Metrics
	ready   http.HandlerFunc // the readiness probe, on both listeners
	pages   *pages.Server
	proxy   *proxy.Server
	binder  *dbsc.Binder // nil unless DBSC is on (--dbsc)
	drain   drainer      // what shutting down gracefully needs
}

// parts are what a server is built over.
type parts struct {
	store        sesame.Store // opened; newServer instruments it
	users        *users.DB
	log          *slog.Logger
	metrics      *ops.Metrics
	ticketSecret string        // with --ticket
	ring         *seal.KeyRing // with --sealed: sessions are sealed cookies and the store keeps only revocations
	limits       *pages.Limits // nil: pages.DefaultLimits
}

// newServer builds the server over its parts.
func newServer(opt *options, p parts) (*server, error) {
	s := &server{opt: opt, log: p.log, users: p.users, metrics: p.metrics}
	store := ops.Instrument(p.store, p.metrics)
	storeReady := ops.Ready(store, s.log)
	// Not ready once shutting down: a load balancer stops sending.
	s.ready = func(w http.ResponseWriter, r *http.Request) {
		if s.drain.draining.Load() {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		storeReady(w, r)
	}
	p.metrics.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sessiond_password_hashes_total",
		Help: "Passwords hashed to check a login (unknown users included), which the login limiter bounds.",
	}, func() float64 { return float64(p.users.Hashes()) }))
	var tickets *ticket.Issuer // nil unless --ticket
	if opt.Ticket {
		var err error
		if tickets, err = newTicketIssuer(opt, p.ticketSecret, s.clientAddr); err != nil {
			return nil, err
		}
	}
	cfg := sesame.Config{
		Store:              store,
		IdleTimeout:        opt.IdleTimeout,
		Lifetime:           opt.Lifetime,
		InsecurePlainHTTP:  opt.InsecurePlainHTTP,
		MaxSessionsPerUser: opt.MaxSessions,
		OnEvent:            p.metrics.OnEvent,
		Logger:             p.log,
		ClientIP:           s.clientIP,
		ErrorHandler:       s.sessionError,
	}
	if p.ring != nil {
		cfg.Store, cfg.Seal, cfg.Revocations = nil, p.ring, store
	}
	if tickets != nil { // --ticket: issued at Login, cleared at logout
		cfg.Hooks = append(cfg.Hooks, ticket.SessionHook{Issuer: tickets, Logger: p.log})
	}
	if opt.CacheFlag {
		cfg.Hooks = append(cfg.Hooks, cacheflag.Hook{InsecurePlainHTTP: opt.InsecurePlainHTTP})
	}
	if opt.dbscEnabled() { // --dbsc: sessions bound to the browser's key
		var err error
		if s.binder, err = newBinder(opt, p.log, p.metrics); err != nil {
			return nil, err
		}
		cfg.Binder = s.binder
	}
	mgr, err := sesame.New(cfg)
	if err != nil {
		return nil, err
	}
	s.mgr = mgr
	p.users.OnChange = s.endSessionsOf
	var up *url.URL
	if opt.Upstream != "" {
		if up, err = url.Parse(opt.Upstream); err != nil {
			return nil, err
		}
	}
	s.pages, err = pages.New(pages.Config{
		Manager:           mgr,
		Users:             p.users,
		Log:               p.log,
		Metrics:           p.metrics,
		TrustedProxies:    opt.TrustedProxies,
		Proxy:             up != nil,
		Sealed:            opt.Sealed,
		InsecurePlainHTTP: opt.InsecurePlainHTTP,
		Health:            ops.Healthz,
		Ready:             s.ready,
		Limits:            p.limits,
	})
	if err != nil {
		return nil, err
	}
	s.proxy = proxy.New(proxy.Config{
		Users:            p.users,
		Log:              p.log,
		Metrics:          p.metrics,
		CookieName:       mgr.CookieName(),
		BoundCookieName:  boundCookieName(s.binder),
		UserHeader:       opt.UserHeader,
		StripHeaders:     opt.StripHeaders,
		TrustedProxies:   opt.TrustedProxies,
		Upstream:         up,
		UpstreamBodyRate: opt.UpstreamBodyRate,
		LoginURL:         s.pages.ToLogin,
	})
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
	mux := http.NewServeMux()
	mux.Handle(pages.Prefix, s.pages.Handler())
	mux.HandleFunc(pages.PathAuth, s.proxy.ForwardAuth) // any method: proxies forward the original one
	if s.binder != nil {
		mux.Handle(pathDBSC, s.binder.Handler()) // the browser's proofs are its CSRF protection
	}
	if s.opt.Upstream != "" {
		mux.HandleFunc("/", s.proxy.Protect)
	} else {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, pages.PathHome, http.StatusFound)
		})
	}
	var h http.Handler = mux
	if s.binder != nil { // a link from another site resumes a bound session
		h = s.binder.Navigations(mux)
	}
	all := s.mgr.Handler(h)
	// The check a proxy makes for every request it passes on goes
	// straight to ForwardAuth, past the mux's pattern matching; any other
	// spelling of its path still reaches it through the mux, which cleans
	// or redirects it as before.
	auth := s.mgr.Handler(http.HandlerFunc(s.proxy.ForwardAuth))
	return s.drain.handler(proxy.BodyDeadline(s.opt.BodyTimeout, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == pages.PathAuth {
			auth.ServeHTTP(w, r)
			return
		}
		all.ServeHTTP(w, r)
	})))
}

// opsHandler serves the operations endpoints for --ops-listen (see
// ops.Handler).
func (s *server) opsHandler() http.Handler {
	return ops.Handler(s.metrics, s.ready)
}

// clientAddr is the client's address (see clientip.Addr).
func (s *server) clientAddr(r *http.Request) netip.Addr {
	return clientip.Addr(r, s.opt.TrustedProxies)
}

// clientIP is clientAddr as text, for the Manager's session list.
func (s *server) clientIP(r *http.Request) string {
	return clientip.String(r, s.opt.TrustedProxies)
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

// endSessionsOf is the users file's OnChange: it ends every session of
// users whose entry changed (a new password) or went away, in the store,
// or with sealed cookies through a revocation. users.DB.Current refuses their
// sessions anyway; this removes them from the store and the sessions
// lists at once, and is what a store without a user index cannot do.
func (s *server) endSessionsOf(users []string) {
	for _, u := range users {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.mgr.RevokeAll(ctx, u)
		cancel()
		switch {
		case err == nil:
			s.log.Info("ended every session of a user given a new password or removed", "user", u)
		case errors.Is(err, sesame.ErrNoUserIndex):
			s.log.Info("a user was given a new password or removed; this store cannot list their sessions, which end at their next request", "user", u)
		default:
			s.log.Error("ending the sessions of a user given a new password or removed; they end at their next request", "user", u, "err", err)
		}
	}
}
