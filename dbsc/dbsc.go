package dbsc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/seal"
)

// Defaults for Config.
const (
	// DefaultPath is where Handler serves the registration endpoint
	// (DefaultPath+"register") and the refresh endpoint
	// (DefaultPath+"refresh").
	DefaultPath = "/dbsc/"

	// DefaultCookieName is the bound cookie's name. The __Host- prefix
	// keeps a sibling host from planting one, as for the session cookie.
	DefaultCookieName = "__Host-session-bound"

	// DefaultCookieLifetime is how long a bound cookie works: how long a
	// stolen copy of it and the session cookie still works together, and
	// how often a browser proves that it holds the key.
	DefaultCookieLifetime = 10 * time.Minute

	// DefaultClockSkew is how far a proof's iat and exp claims, and a
	// challenge made by another server, may be from this server's clock.
	DefaultClockSkew = time.Minute
)

// registrationTTL is how long after a login (or an offer to a session
// already logged in) the browser may register: browsers do it at once.
const registrationTTL = 5 * time.Minute

// challengeSlack is how much longer than a bound cookie a refresh
// challenge lives: the one a refresh hands out for the next refresh is
// used when the cookie it came with is about to expire, or has.
const challengeSlack = time.Minute

// Config configures a Binder. The zero value of every field means its
// documented default.
type Config struct {
	// Path is the path under which Handler serves the registration
	// (Path+"register") and refresh (Path+"refresh") endpoints. It must
	// begin and end with a slash. Default DefaultPath.
	Path string

	// CookieName is the bound cookie's name. Default DefaultCookieName.
	// It must differ from the session cookie's.
	CookieName string

	// CookieLifetime is how long a bound cookie works, at least a second.
	// Default DefaultCookieLifetime. It is the time a thief who copied the
	// cookies keeps the session, and the period at which a browser signs
	// a refresh: keep it well under the Manager's IdleTimeout (a refresh
	// counts as use), and no shorter than a few minutes in production,
	// where browsers limit how often a site may make them sign.
	CookieLifetime time.Duration

	// SameSite is the bound cookie's SameSite attribute; give it the
	// session cookie's, so that both go with the same requests. Default
	// http.SameSiteLaxMode.
	SameSite http.SameSite

	// Algorithms are the signature algorithms offered to browsers, most
	// preferred first: ES256, RS256 or both. Default both.
	Algorithms []string

	// Keys seals registration challenges, which must be opened by the
	// server that the registration reaches: servers behind one load
	// balancer share a key ring. Default: a random key ring, enough for
	// a single process (a restart between a login and its registration,
	// a second or so, then costs that one session its binding). Bound
	// sessions never need it: refreshes are checked against the record.
	Keys *seal.KeyRing

	// OfferExisting also offers binding to sessions that logged in
	// before (whose browser ignored the offer, or which predate the
	// Binder), each time their idle deadline is extended. Off by default:
	// whoever holds such a session's cookie then, a thief included, can
	// bind it to their own key and lock its owner out. Without it only
	// the response to the login itself carries the offer.
	OfferExisting bool

	// ClockSkew is how far a proof's iat and exp claims may be from this
	// server's clock. Default DefaultClockSkew.
	ClockSkew time.Duration

	// OnEvent, if set, is called synchronously for each Event. It must
	// be quick and safe for concurrent use.
	OnEvent func(context.Context, Event)

	// Logger receives refused proofs at info level. Default
	// slog.Default().
	Logger *slog.Logger
}

// Binder binds Sesame sessions to a key the browser keeps, with Device
// Bound Session Credentials. It is a sesame.Binder: set it as
// sesame.Config.Binder, and serve its Handler under the Manager's.
type Binder struct {
	registerPath, refreshPath string
	cookieName                string
	cookieAttrs               string // the bound cookie's attributes, as Set-Cookie and the session config give them
	lifetime                  time.Duration
	offerAlgs                 string // "(ES256 RS256)"
	algs                      []string
	keys                      *seal.KeyRing
	offerExisting             bool
	skew                      time.Duration
	onEvent                   func(context.Context, Event)
	log                       *slog.Logger
	now                       func() time.Time
}

var _ sesame.Binder = (*Binder)(nil)

// New checks cfg, fills in its defaults and returns a Binder.
func New(cfg Config) (*Binder, error) {
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if !strings.HasPrefix(cfg.Path, "/") || !strings.HasSuffix(cfg.Path, "/") || !printable(cfg.Path) ||
		strings.ContainsAny(cfg.Path, `"\;, `) {
		return nil, fmt.Errorf("dbsc: Path %q must begin and end with a slash, in printable ASCII without quotes, commas, semicolons or spaces", cfg.Path)
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if !validCookieName(cfg.CookieName) {
		return nil, fmt.Errorf("dbsc: CookieName %q is not a cookie name", cfg.CookieName)
	}
	switch {
	case cfg.CookieLifetime == 0:
		cfg.CookieLifetime = DefaultCookieLifetime
	case cfg.CookieLifetime < time.Second:
		return nil, fmt.Errorf("dbsc: CookieLifetime %v is under a second", cfg.CookieLifetime)
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	} else if cfg.ClockSkew < 0 {
		return nil, errors.New("dbsc: ClockSkew must not be negative")
	}
	sameSite := "Lax"
	switch cfg.SameSite {
	case 0, http.SameSiteDefaultMode, http.SameSiteLaxMode:
	case http.SameSiteStrictMode:
		sameSite = "Strict"
	case http.SameSiteNoneMode:
		sameSite = "None"
	default:
		return nil, fmt.Errorf("dbsc: unknown SameSite mode %d", cfg.SameSite)
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{ES256, RS256}
	}
	for i, a := range cfg.Algorithms {
		if (a != ES256 && a != RS256) || slices.Contains(cfg.Algorithms[:i], a) {
			return nil, fmt.Errorf("dbsc: Algorithms %q: each of ES256 and RS256 at most once", cfg.Algorithms)
		}
	}
	if cfg.Keys == nil {
		k, err := seal.GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("dbsc: generating a key for registration challenges: %w", err)
		}
		if cfg.Keys, err = seal.ParseKeyRing(k); err != nil {
			return nil, err
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Binder{
		registerPath:  cfg.Path + "register",
		refreshPath:   cfg.Path + "refresh",
		cookieName:    cfg.CookieName,
		cookieAttrs:   "Path=/; Secure; HttpOnly; SameSite=" + sameSite,
		lifetime:      cfg.CookieLifetime,
		offerAlgs:     "(" + strings.Join(cfg.Algorithms, " ") + ")",
		algs:          slices.Clone(cfg.Algorithms),
		keys:          cfg.Keys,
		offerExisting: cfg.OfferExisting,
		skew:          cfg.ClockSkew,
		onEvent:       cfg.OnEvent,
		log:           cfg.Logger,
		now:           time.Now,
	}, nil
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return name != ""
}

// Why Allow refused a request, for EventWithheld.
var (
	errNoCookie      = errors.New("dbsc: no bound cookie")
	errCookieExpired = errors.New("dbsc: bound cookie expired")
	errCookieForeign = errors.New("dbsc: bound cookie not made for this session")
)

// CookieName returns the bound cookie's name: what a proxy in front of
// another application strips before forwarding, with the session cookie.
func (b *Binder) CookieName() string { return b.cookieName }

// Allow reports whether r carries a bound cookie that the session's
// binding vouches for and that has not expired (sesame.Binder). It reads
// nothing but the request and the record: no store, no key ring.
func (b *Binder) Allow(r *http.Request, raw []byte) bool {
	secret, ok := secretOf(raw)
	now := b.now().UnixMilli()
	reason := errNoCookie
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
			if name != b.cookieName {
				continue
			}
			exp, valid := openToken(secret, purposeCookie, value)
			switch {
			case ok && valid && now < exp:
				return true
			case ok && valid:
				reason = errCookieExpired
			default:
				reason = errCookieForeign
			}
		}
	}
	if r.URL.Path != b.refreshPath { // a refresh comes for want of a cookie
		b.emit(r.Context(), Event{Kind: EventWithheld, Err: reason})
	}
	return false
}

// Offer invites the browser to bind a session that has just logged in,
// or, with Config.OfferExisting, one whose idle deadline was just
// extended (sesame.Binder): the response gets a Secure-Session-Registration
// header with a challenge for this session, which the browser signs with a
// new key and posts to the registration endpoint.
func (b *Binder) Offer(w http.ResponseWriter, r *http.Request, s sesame.SessionInfo, login bool) {
	if !login && !b.offerExisting {
		return
	}
	c, err := b.registrationChallenge(s.User, s.Created, b.now())
	if err != nil {
		b.log.WarnContext(r.Context(), "dbsc: making a registration challenge", "error", err)
		return
	}
	w.Header().Add(hdrRegistration, b.offerAlgs+";path="+sfString(b.registerPath)+";challenge="+sfString(c))
	b.emit(r.Context(), Event{Kind: EventOffered, User: s.User})
}

// Ended clears the bound cookie of a session that ended (sesame.Binder):
// the browser then refreshes at its next request, and the refresh
// endpoint tells it to end its bound session.
func (b *Binder) Ended(w http.ResponseWriter, r *http.Request, raw []byte) {
	w.Header().Add("Set-Cookie", b.cookieName+"=; Max-Age=0; "+b.cookieAttrs)
}

// boundCookie returns the Set-Cookie value of a bound cookie for the
// session whose binding is bd, working from now on for the lifetime.
func (b *Binder) boundCookie(bd *binding, now time.Time) string {
	v := makeToken(bd.secret[:], purposeCookie, now.Add(b.lifetime).UnixMilli())
	secs := (b.lifetime + time.Second - 1) / time.Second
	return b.cookieName + "=" + v + "; Max-Age=" + strconv.FormatInt(int64(secs), 10) + "; " + b.cookieAttrs
}

// registrationChallenge seals, for the session of user that began at
// created, the time now: the registration endpoint opens it, and accepts
// it for that session only, for registrationTTL.
func (b *Binder) registrationChallenge(user string, created, now time.Time) (string, error) {
	return b.keys.Seal(purposeRegistration, registrationPayload(user, created, now))
}

const purposeRegistration = "sesame/dbsc/registration"

// registrationPayload is what a registration challenge seals: the time it
// was made (Unix ms), and a hash of the session it was made for.
func registrationPayload(user string, created, now time.Time) []byte {
	h := sha256.New()
	h.Write([]byte(user))
	h.Write(binary.BigEndian.AppendUint64([]byte{0}, uint64(created.UnixMilli())))
	return h.Sum(binary.BigEndian.AppendUint64(nil, uint64(now.UnixMilli())))[:8+16]
}

// checkRegistrationChallenge accepts a challenge made by
// registrationChallenge for the session of user begun at created, within
// registrationTTL of now.
func (b *Binder) checkRegistrationChallenge(c, user string, created, now time.Time) error {
	p, _, err := b.keys.Open(purposeRegistration, c)
	if err != nil || len(p) != 8+16 {
		return fmt.Errorf("%w: not a registration challenge of this server", ErrChallenge)
	}
	made := time.UnixMilli(int64(binary.BigEndian.Uint64(p)))
	want := registrationPayload(user, created, made)
	switch {
	case string(p[8:]) != string(want[8:]):
		return fmt.Errorf("%w: made for another session", ErrChallenge)
	case now.Sub(made) > registrationTTL:
		return fmt.Errorf("%w: made %v ago", ErrChallenge, now.Sub(made).Round(time.Second))
	case made.Sub(now) > b.skew:
		return fmt.Errorf("%w: made %v in the future", ErrChallenge, made.Sub(now).Round(time.Second))
	}
	return nil
}

// newBinding makes the binding of a session to key.
func newBinding(alg string, key any) (*binding, error) {
	bd := &binding{alg: algES256, key: key}
	if alg == RS256 {
		bd.alg = algRS256
	}
	if _, err := rand.Read(bd.id[:]); err != nil {
		return nil, err
	}
	if _, err := rand.Read(bd.secret[:]); err != nil {
		return nil, err
	}
	return bd, nil
}

// Info describes a session's binding, for a "your sessions" page or logs.
type Info struct {
	// ID is the session identifier the browser knows the session by.
	ID string
	// Algorithm is ES256 or RS256.
	Algorithm string
	// Thumbprint is the RFC 7638 thumbprint of the browser's public key.
	Thumbprint string
}

// Describe returns what a binding made by this package holds, from
// sesame.Session.Binding.
func Describe(raw []byte) (Info, error) {
	bd, err := decodeBinding(raw)
	if err != nil {
		return Info{}, err
	}
	return Info{ID: b64.EncodeToString(bd.id[:]), Algorithm: bd.algName(), Thumbprint: jwkThumbprint(bd.key)}, nil
}
