package ticket

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
	"time"
)

// DefaultCookieName is mod_auth_tkt's default TKTAuthCookieName.
const DefaultCookieName = "auth_tkt"

// PloneCookieName is plone.session's default cookie name, the name an
// Issuer uses when its Codec speaks Format Plone and CookieConfig.Name is
// empty.
const PloneCookieName = "__ac"

// maxCandidates bounds how many cookies under our name one request may
// make us verify.
const maxCandidates = 4

// ErrNoTicket: the request carries no cookie under the ticket's name.
var ErrNoTicket = errors.New("ticket: no ticket cookie")

// ErrAmbiguous: the request carries valid tickets for different users
// (a cookie planted beside ours, for example from a sibling host). None of
// them is trusted.
var ErrAmbiguous = errors.New("ticket: valid tickets for different users")

// CookieConfig is the policy for the ticket cookie. The zero value is the
// secure default: name auth_tkt (__ac for Format Plone), Path=/,
// host-only, HttpOnly, Secure, SameSite=Lax, no expiry (a browser-session
// cookie).
//
// mod_auth_tkt sets none of HttpOnly, Secure (unless TKTAuthCookieSecure
// on) or SameSite, and by default sends Domain=<request host> when it
// refreshes a ticket. Set Domain to the same value as TKTAuthDomain so
// both write the same cookie rather than two cookies of one name.
type CookieConfig struct {
	// Name is the cookie name (TKTAuthCookieName, the cookie_name of
	// plone.session's plugin); "" means auth_tkt, or __ac when the
	// Issuer's Codec speaks Format Plone.
	Name string
	// Domain is the cookie's Domain attribute (TKTAuthDomain); "" means a
	// host-only cookie.
	Domain string
	// Path is the cookie path; "" means "/" (mod_auth_tkt always uses /).
	Path string
	// MaxAge, if positive, makes the cookie persistent for that long
	// (TKTAuthCookieExpires). It does not extend the ticket's validity,
	// which Config.Timeout alone decides.
	MaxAge time.Duration
	// SameSite defaults to http.SameSiteLaxMode.
	SameSite http.SameSite
	// InsecureDevelopmentHTTP leaves out the Secure attribute so the
	// cookie also travels over plain HTTP. For development on
	// http://localhost only: over plain HTTP anyone on the path can read
	// and replay the ticket.
	InsecureDevelopmentHTTP bool
}

// Issuer writes, reads and clears the ticket cookie of a request. The
// zero value is not usable: Codec must be set. An Issuer is safe for
// concurrent use once configured.
type Issuer struct {
	// Codec signs and verifies tickets.
	Codec *Codec
	// Cookie is the cookie policy.
	Cookie CookieConfig
	// ClientIP returns the address a ticket is bound to when IP binding is
	// on. nil means the host of r.RemoteAddr. Behind a reverse proxy,
	// return the address the proxy vouches for (the one Apache would see
	// as useragent_ip through mod_remoteip), never a header the client
	// controls.
	ClientIP func(r *http.Request) netip.Addr
}

func (i *Issuer) name() string {
	switch {
	case i.Cookie.Name != "":
		return i.Cookie.Name
	case i.Codec != nil && i.Codec.format == Plone:
		return PloneCookieName
	}
	return DefaultCookieName
}

func (i *Issuer) clientIP(r *http.Request) netip.Addr {
	if i.ClientIP != nil {
		return i.ClientIP(r)
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a
}

func (i *Issuer) cookie(value string, maxAge int) *http.Cookie {
	c := &http.Cookie{
		Name:     i.name(),
		Value:    value,
		Path:     i.Cookie.Path,
		Domain:   i.Cookie.Domain,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   !i.Cookie.InsecureDevelopmentHTTP,
		SameSite: i.Cookie.SameSite,
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteLaxMode
	}
	return c
}

// SetCookie issues t for the client of r and adds the Set-Cookie header to
// w. Call it before the response header is written. If t.Issued is zero
// the current time is used. Errors are those of Codec.Issue (ErrNotIPv4
// for an IPv6 client with IP binding on, ErrInvalidField, ErrTooLarge) or
// an invalid cookie configuration; on error no header is added.
func (i *Issuer) SetCookie(w http.ResponseWriter, r *http.Request, t Ticket) error {
	v, err := i.Codec.Issue(t, i.clientIP(r))
	if err != nil {
		return err
	}
	maxAge := 0
	if i.Cookie.MaxAge > 0 {
		maxAge = int((i.Cookie.MaxAge + time.Second - 1) / time.Second)
	}
	c := i.cookie(v, maxAge)
	if err := c.Valid(); err != nil {
		return fmt.Errorf("ticket: %w", err)
	}
	w.Header().Add("Set-Cookie", c.String())
	return nil
}

// ClearCookie adds a Set-Cookie header to w that deletes the ticket cookie
// (logout). Call it before the response header is written. A ticket that
// was copied elsewhere stays valid until it expires: tickets cannot be
// revoked.
func (i *Issuer) ClearCookie(w http.ResponseWriter) {
	w.Header().Add("Set-Cookie", i.cookie("", -1).String())
}

// Authenticate verifies the ticket cookie of r. Several cookies under the
// name (Apache's domain cookie beside a host-only one, say) are all
// verified, up to a small bound: the newest valid one wins, but valid
// tickets for different users give ErrAmbiguous. Empty values are
// skipped, as Apache skips them. refresh is as for Codec.Parse. Without
// a non-empty cookie the error is ErrNoTicket; when none is valid it is
// the first one's verification error.
//
// The Cookie header is read as mod_auth_tkt reads it, so a raw ticket
// (not base64) whose uid, tokens or user data hold non-ASCII bytes, '"'
// or '\' is verified rather than dropped, as http.Request.Cookies would.
func (i *Issuer) Authenticate(r *http.Request) (t Ticket, refresh bool, err error) {
	values := cookieValues(r.Header, i.name(), maxCandidates)
	if len(values) == 0 {
		return Ticket{}, false, ErrNoTicket
	}
	ip := i.clientIP(r)
	found := false
	var firstErr error
	for _, v := range values {
		got, ref, perr := i.Codec.Parse(v, ip)
		if perr != nil {
			if firstErr == nil {
				firstErr = perr
			}
			continue
		}
		if found && got.UID != t.UID {
			return Ticket{}, false, ErrAmbiguous
		}
		if !found || got.Issued.After(t.Issued) {
			t, refresh = got, ref
		}
		found = true
	}
	if !found {
		return Ticket{}, false, firstErr
	}
	return t, refresh, nil
}

// cookieValues returns the non-empty values of the first max cookies named
// name in the Cookie header lines of h, in order. A value runs from the
// "=" after the name to the next ";", without the white space around it;
// its quotes, if any, are left for Parse. Unlike http.Request.Cookies it
// keeps values holding bytes outside RFC 6265's cookie-octet (non-ASCII,
// '"' or '\'), which mod_auth_tkt accepts in a raw ticket; every
// value is verified by its signature before it means anything. Parts
// without "=" or under another name are skipped. It allocates only the
// result, which holds at most max values whatever the header's size; Parse
// bounds each value's length before decoding it.
func cookieValues(h http.Header, name string, max int) []string {
	var values []string
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(part, "=")
			if !ok || textproto.TrimString(k) != name {
				continue
			}
			v = textproto.TrimString(v)
			if v == "" || v == `""` {
				continue
			}
			values = append(values, v)
			if len(values) == max {
				return values
			}
		}
	}
	return values
}
