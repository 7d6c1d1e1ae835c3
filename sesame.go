// Package sesame provides web sessions for net/http that are safe by
// default and cheap when nobody is looking.
//
// A Manager keeps each session's record in a Store under a hash of a random
// 256-bit id; the browser holds only the id, in a cookie that is
// __Host-prefixed, Secure, HttpOnly and SameSite=Lax. Manager.Handler wraps
// an http.Handler: it does no work until the handler touches the session,
// saves changes just before the response header goes out, conditionally on
// the version it read, and re-applies the request's changes when another
// request got there first, so concurrent requests do not lose each other's
// updates and a destroyed session never comes back. With Config.Seal
// instead of a Store, the whole session travels in the cookie, encrypted
// and authenticated, through the same API; with Config.CookieCodec, it
// travels in another system's cookie format (package beaker: Python's
// Beaker), which that system reads and writes too.
//
// A Manager over the in-memory store (package store/memstore; every store
// is made with New(Config) and has a Close):
//
//	store, err := memstore.New(memstore.Config{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer store.Close()
//	m, err := sesame.New(sesame.Config{Store: store})
//	if err != nil {
//		log.Fatal(err)
//	}
//
// and a handler under it that counts a visitor's visits:
//
//	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		s, err := sesame.FromContext(r.Context())
//		if err != nil {
//			http.Error(w, err.Error(), http.StatusInternalServerError)
//			return
//		}
//		n, _ := sesame.Get[int](s, "visits")
//		if err := s.Put("visits", n+1); err != nil {
//			http.Error(w, "session unavailable", http.StatusServiceUnavailable)
//			return
//		}
//		fmt.Fprintf(w, "visit %d", n+1)
//	}))
//
// h is served like any http.Handler, say by http.ListenAndServe. The code
// above is the package's Example, which is compiled and run with the
// tests; the other examples show logging in and out, "log out
// everywhere", reading typed values and committing before streaming.
package sesame

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-go/sesame/seal"
)

// Defaults for Config. Each is what a careful deployment would choose; the
// reasons are on the Config fields.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultLifetime    = 12 * time.Hour
	DefaultCookieName  = "__Host-session"
	// DefaultPlainHTTPCookieName is the cookie name in InsecurePlainHTTP
	// mode, where the __Host- prefix cannot be used.
	DefaultPlainHTTPCookieName = "session"
)

// Config configures a Manager. The zero value of every field except Store
// means its documented default.
type Config struct {
	// Store keeps the session records: server-side sessions. Exactly one
	// of Store, Seal and CookieCodec must be set.
	Store Store

	// Seal turns on sealed-cookie sessions: the whole record, encrypted
	// and authenticated under the key ring's primary key, travels in the
	// cookie, and no store is needed to serve it. Choose it when sessions
	// are small (the cookie must stay under 4096 bytes) and many servers
	// must serve them without sharing a store. A sealed session cannot be
	// deleted from a copy someone kept: Destroy clears the
	// browser's cookie, and only Revocations makes "log out everywhere"
	// possible. Exactly one of Store, Seal and CookieCodec must be set.
	Seal *seal.KeyRing

	// CookieCodec keeps the whole session in its cookie in another
	// system's format, which that system reads and writes as well: a Go
	// handler and, say, a Python application behind one domain then share
	// one session (package beaker's Codec: Beaker's cookie sessions). Set
	// Cookie to the other system's cookie name, path and domain, and
	// IdleTimeout to its idle timeout: the Manager checks its own
	// deadlines as well as the codec's. As with Seal, a copy of the cookie
	// lives until its deadlines, and RevokeAll and RevokeOthers return
	// ErrNoRevocations. Exactly one of Store, Seal and CookieCodec must be
	// set.
	CookieCodec CookieCodec

	// Revocations, with Seal, keeps a small per-user "not valid before"
	// time, so that RevokeAll and RevokeOthers can end sealed sessions:
	// every logged-in request, and every Login, then reads it (one store
	// call). A login after RevokeAll returned always lives, even in the
	// same millisecond; servers sharing Revocations should keep their
	// clocks synchronized, since a session logged in on a server whose
	// clock runs ahead outlives a revocation made just after it by up to
	// the difference. Without Revocations, a sealed session lives until
	// its idle or absolute deadline, whatever happens on the server.
	Revocations Store

	// IdleTimeout ends a session that has not been used for this long.
	// Default 30 minutes: OWASP's Session Management Cheat Sheet suggests
	// 15–30 minutes for ordinary applications, and NIST SP 800-63B
	// (section 7.2, AAL2) allows at most 30 minutes of inactivity. The
	// deadline is extended only when a request uses the session, and at
	// most once per IdleTimeout/20, so reading a session rarely writes.
	// It must be at least one second: New refuses a shorter one, as
	// cookies and some stores count time in whole seconds.
	IdleTimeout time.Duration

	// Lifetime ends a session this long after it began, however active: the
	// absolute timeout. Default 12 hours, NIST SP 800-63B's limit for
	// reauthentication at AAL2 and a working day, as OWASP recommends.
	// Login starts the clock again. Must not be shorter than IdleTimeout.
	Lifetime time.Duration

	// Cookie is the session cookie's policy.
	Cookie CookieConfig

	// InsecurePlainHTTP is a development mode for hosts reached over plain
	// HTTP other than localhost (browsers already accept Secure cookies
	// from http://localhost). It drops the Secure attribute, so the cookie
	// name defaults to "session" (a __Host- cookie must be Secure). Never
	// enable it in production: anyone on the network path can read the
	// cookie. New logs a warning when it is on.
	InsecurePlainHTTP bool

	// MaxSessionsPerUser caps how many sessions one user may hold; Login
	// beyond the cap evicts the user's oldest sessions. 0 means no cap. It
	// requires a Store that implements UserIndex.
	MaxSessionsPerUser int

	// ErrorHandler answers a request whose session could not be loaded or
	// saved. It is called before anything of the response was sent, except
	// when errors.Is(err, ErrHeadersWritten): then the response has begun,
	// w discards writes, and the handler can only record the failure. The
	// default logs the error and answers 500 Internal Server Error.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// OnEvent, if set, is called synchronously for each session event
	// (created, renewed, destroyed, expired, invalid token, conflict). It
	// must be quick and safe for concurrent use.
	OnEvent func(context.Context, Event)

	// Logger receives the Manager's logs: errors, and invalid tokens at
	// debug level. Session ids never appear in them, only a short hash of
	// the store key. Default slog.Default().
	Logger *slog.Logger

	// Hooks are told of every login, logout and idle-deadline extension,
	// in the response that carries the session's cookie, so that they can
	// set cookies of their own: a ticket for applications behind Apache
	// or Plone (ticket.SessionHook), a flag for a shared cache. They run
	// in order, after the session is saved.
	Hooks []Hook

	// Binder, if set, binds logged-in sessions to the client that holds
	// them, beyond the session cookie: it is offered each logged-in
	// session without a binding, and a session it has bound (see
	// Session.Bind) is served only to requests it allows. Package dbsc
	// is one: Device Bound Session Credentials, which bind a session to
	// a key the browser keeps. Sessions without a binding cost nothing
	// more. A bound session is never served without a Binder, so
	// removing it from the configuration ends every bound session. It
	// cannot be used with CookieCodec, whose cookies hold no binding.
	Binder Binder

	// ClientIP returns the client address recorded at Login and shown by
	// Sessions. The default is the host part of r.RemoteAddr; set it when
	// running behind a proxy you trust to report the client's address.
	ClientIP func(r *http.Request) string
}

// CookieConfig is the session cookie's policy. HttpOnly is always set, and
// Secure unless Config.InsecurePlainHTTP.
type CookieConfig struct {
	// Name defaults to "__Host-session". The __Host- prefix makes browsers
	// refuse the cookie unless it is Secure, has Path=/ and no Domain, so a
	// sibling subdomain or a plain-HTTP page cannot plant or overwrite it.
	Name string

	// Domain is empty by default: a host-only cookie, sent to this host
	// alone. Setting it shares the session with every subdomain, which
	// also lets any of them plant cookies; it is refused with a __Host-
	// name.
	Domain string

	// Path defaults to "/" (required by the __Host- prefix).
	Path string

	// SameSite defaults to http.SameSiteLaxMode: the cookie is not sent on
	// cross-site subrequests and POSTs, which stops most cross-site request
	// forgery, yet following a link to the site keeps the user logged in.
	// http.SameSiteNoneMode requires Secure.
	SameSite http.SameSite
}

// Manager loads and saves sessions. It is safe for concurrent use; build
// one with New and share it.
type Manager struct {
	backend   backend   // server-side, sealed or CookieCodec sessions
	store     Store     // server-side sessions; nil with cookie ones
	users     UserIndex // nil if the store keeps none
	clearLine string    // Set-Cookie value that deletes the cookie
	hooks     []Hook
	binder    Binder
	idle      int64 // milliseconds
	lifetime  int64 // milliseconds
	touchStep int64 // milliseconds between idle-deadline extensions
	cookie    CookieConfig
	secure    bool
	maxUser   int
	onError   func(http.ResponseWriter, *http.Request, error)
	onEvent   func(context.Context, Event)
	log       *slog.Logger
	clientIP  func(*http.Request) string
	rand      io.Reader
	now       func() time.Time
	commits   commitLocks // serializes commits of one session in this process
}

// ErrHeadersWritten reports a session change that needed a Set-Cookie
// header after the response header had been sent, such as the first value
// of a new session or a Login in a handler that had already written its
// body. The change is not applied. Call Commit before streaming.
var ErrHeadersWritten = errors.New("sesame: session changed after the response header was written")

// New checks cfg, fills in its defaults and returns a Manager.
func New(cfg Config) (*Manager, error) {
	kinds := 0
	for _, set := range []bool{cfg.Store != nil, cfg.Seal != nil, cfg.CookieCodec != nil} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		return nil, errors.New("sesame: Config.Store (server-side sessions), Config.Seal (sealed cookies) or Config.CookieCodec (another system's cookies) is required")
	case kinds > 1:
		return nil, errors.New("sesame: set one of Config.Store, Config.Seal and Config.CookieCodec, not several")
	case cfg.Revocations != nil && cfg.Seal == nil:
		return nil, errors.New("sesame: Config.Revocations is for sealed sessions (Config.Seal)")
	case cfg.Binder != nil && cfg.CookieCodec != nil:
		// Another system's cookie has no room for a binding.
		return nil, errors.New("sesame: Config.Binder cannot bind sessions kept in Config.CookieCodec's cookies")
	}
	if cfg.IdleTimeout < 0 || cfg.Lifetime < 0 {
		return nil, errors.New("sesame: IdleTimeout and Lifetime must not be negative")
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.IdleTimeout < time.Second {
		return nil, fmt.Errorf("sesame: IdleTimeout %v is under a second", cfg.IdleTimeout)
	}
	if cfg.Lifetime < cfg.IdleTimeout {
		return nil, fmt.Errorf("sesame: Lifetime %v is shorter than IdleTimeout %v", cfg.Lifetime, cfg.IdleTimeout)
	}
	c := &cfg.Cookie
	if c.Name == "" {
		c.Name = DefaultCookieName
		if cfg.InsecurePlainHTTP {
			c.Name = DefaultPlainHTTPCookieName
		}
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 || c.SameSite == http.SameSiteDefaultMode {
		c.SameSite = http.SameSiteLaxMode
	}
	if err := validateCookie(c, !cfg.InsecurePlainHTTP); err != nil {
		return nil, err
	}
	if cfg.MaxSessionsPerUser < 0 {
		return nil, errors.New("sesame: MaxSessionsPerUser must not be negative")
	}
	users, _ := cfg.Store.(UserIndex)
	if cfg.MaxSessionsPerUser > 0 && users == nil {
		return nil, errors.New("sesame: MaxSessionsPerUser needs a Store with a user index")
	}
	m := &Manager{
		store:     cfg.Store,
		users:     users,
		hooks:     cfg.Hooks,
		binder:    cfg.Binder,
		idle:      cfg.IdleTimeout.Milliseconds(),
		lifetime:  cfg.Lifetime.Milliseconds(),
		touchStep: cfg.IdleTimeout.Milliseconds() / 20,
		cookie:    *c,
		secure:    !cfg.InsecurePlainHTTP,
		maxUser:   cfg.MaxSessionsPerUser,
		onError:   cfg.ErrorHandler,
		onEvent:   cfg.OnEvent,
		log:       cfg.Logger,
		clientIP:  cfg.ClientIP,
		rand:      rand.Reader,
		now:       time.Now,
	}
	switch {
	case cfg.Seal != nil:
		m.backend = &sealed{m: m, ring: cfg.Seal, revoked: cfg.Revocations}
	case cfg.CookieCodec != nil:
		m.backend = codecCookie{m: m, codec: cfg.CookieCodec}
	default:
		m.backend = serverSide{m}
	}
	m.clearLine = m.clearingLine()
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.onError == nil {
		m.onError = m.defaultErrorHandler
	}
	if m.clientIP == nil {
		m.clientIP = remoteHost
	}
	if cfg.InsecurePlainHTTP {
		m.log.Warn("sesame: InsecurePlainHTTP is on: session cookies are sent without Secure; use it for development only")
	}
	return m, nil
}

// CookieName returns the name of the session cookie, after defaults: what
// a proxy in front of another application strips before forwarding.
func (m *Manager) CookieName() string { return m.cookie.Name }

// validateCookie refuses cookie policies that contradict themselves or
// that browsers would reject.
func validateCookie(c *CookieConfig, secure bool) error {
	if !validCookieName(c.Name) {
		return fmt.Errorf("sesame: cookie name %q is not a valid cookie name", c.Name)
	}
	if !strings.HasPrefix(c.Path, "/") || strings.ContainsAny(c.Path, ";\x00\r\n") {
		return fmt.Errorf("sesame: cookie path %q must start with / and contain no ';' or control characters", c.Path)
	}
	if strings.ContainsAny(c.Domain, ";, \x00\r\n") {
		return fmt.Errorf("sesame: cookie domain %q is not a domain", c.Domain)
	}
	switch {
	case strings.HasPrefix(c.Name, "__Host-") && c.Domain != "":
		return fmt.Errorf("sesame: a __Host- cookie cannot have a Domain (%q)", c.Domain)
	case strings.HasPrefix(c.Name, "__Host-") && c.Path != "/":
		return fmt.Errorf("sesame: a __Host- cookie must have Path=/, not %q", c.Path)
	case strings.HasPrefix(c.Name, "__Host-") && !secure:
		return errors.New("sesame: a __Host- cookie must be Secure; choose another name with InsecurePlainHTTP")
	case strings.HasPrefix(c.Name, "__Secure-") && !secure:
		return errors.New("sesame: a __Secure- cookie must be Secure; choose another name with InsecurePlainHTTP")
	case c.SameSite == http.SameSiteNoneMode && !secure:
		return errors.New("sesame: SameSite=None requires Secure, which InsecurePlainHTTP turns off")
	case c.SameSite < http.SameSiteDefaultMode || c.SameSite > http.SameSiteNoneMode:
		return fmt.Errorf("sesame: unknown SameSite mode %d", c.SameSite)
	}
	return nil
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (m *Manager) defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	m.log.LogAttrs(r.Context(), slog.LevelError, "sesame: session error",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	if !errors.Is(err, ErrHeadersWritten) {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	}
}

// nowMS is the current time in Unix milliseconds.
func (m *Manager) nowMS() int64 { return m.now().UnixMilli() }
