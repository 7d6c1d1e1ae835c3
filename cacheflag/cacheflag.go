// Package cacheflag sets a flag cookie that tells a shared cache in front
// of the site (nginx's proxy_cache, Varnish) whether a request comes from
// a logged-in browser, without asking the application: the cache serves
// anonymous visitors from its store and passes logged-in requests
// through. It is Plone's PLIP #48 for Sesame.
//
// The flag is not a secret and never proves anything: anyone can send it,
// and all it can win is a cache miss. Authorization always comes from the
// session. Add the Hook to sesame.Config.Hooks:
//
//	sesame.Config{Store: store, Hooks: []sesame.Hook{cacheflag.Hook{}}}
//
// The flag is set at login, renewed whenever the session's idle deadline
// is extended, and expires with that deadline; it is cleared at logout,
// and when a request presents a session that has ended. nginx:
//
//	proxy_cache_bypass $cookie_sesame_auth;
//	proxy_no_cache     $cookie_sesame_auth;
//
// Varnish, in vcl_recv:
//
//	if (req.http.Cookie ~ "(^|;\s*)sesame_auth=") { return (pass); }
//	unset req.http.Cookie; # anonymous: the cached page is the same for all
//
// The application marks the pages a shared cache may keep (say
// Cache-Control: public, max-age=60); Sesame keeps every response that
// sets a session cookie private.
package cacheflag

import (
	"net/http"
	"time"

	"github.com/sesame-go/sesame"
)

// DefaultName is the flag cookie's name when Hook.Name is empty. It has no
// __Host- prefix so that a cache's configuration can name it plainly
// ($cookie_sesame_auth in nginx).
const DefaultName = "sesame_auth"

// Hook sets, renews and clears the flag cookie. The zero value is ready to
// use: a host-only cookie named DefaultName, Secure, HttpOnly and
// SameSite=Lax on Path=/.
type Hook struct {
	// Name is the cookie's name; DefaultName if empty.
	Name string

	// Domain shares the flag with subdomains; empty means host-only, as
	// the session cookie.
	Domain string

	// InsecurePlainHTTP drops the Secure attribute, for development over
	// plain HTTP, like sesame.Config.InsecurePlainHTTP.
	InsecurePlainHTTP bool
}

var _ sesame.Hook = Hook{}

// LoggedIn sets the flag until the new session's idle deadline.
func (h Hook) LoggedIn(w http.ResponseWriter, r *http.Request, info sesame.SessionInfo) {
	h.set(w, info.IdleDeadline)
}

// Extended renews the flag until the session's new idle deadline.
func (h Hook) Extended(w http.ResponseWriter, r *http.Request, info sesame.SessionInfo) {
	h.set(w, info.IdleDeadline)
}

// LoggedOut clears the flag, if the request carried one.
func (h Hook) LoggedOut(w http.ResponseWriter, r *http.Request, info sesame.SessionInfo) {
	if _, err := r.Cookie(h.name()); err != nil {
		return
	}
	c := h.cookie()
	c.MaxAge = -1
	http.SetCookie(w, c)
}

func (h Hook) set(w http.ResponseWriter, until time.Time) {
	c := h.cookie()
	c.Value, c.Expires = "1", until
	http.SetCookie(w, c)
}

func (h Hook) name() string {
	if h.Name != "" {
		return h.Name
	}
	return DefaultName
}

func (h Hook) cookie() *http.Cookie {
	return &http.Cookie{
		Name:     h.name(),
		Path:     "/",
		Domain:   h.Domain,
		HttpOnly: true,
		Secure:   !h.InsecurePlainHTTP,
		SameSite: http.SameSiteLaxMode,
	}
}
