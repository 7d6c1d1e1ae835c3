package ticket

import (
	"log/slog"
	"net/http"

	"github.com/sesame-go/sesame"
)

// SessionHook shares a Sesame session's login with applications behind
// Apache or Plone: it is a sesame.Hook, for sesame.Config.Hooks, wired in
// one line:
//
//	sesame.Config{Store: store, Hooks: []sesame.Hook{ticket.SessionHook{Issuer: issuer}}}
//
// At a login it issues a ticket next to the session cookie, so that the
// other applications see the same user; whenever the session's idle
// deadline is extended it issues a fresh one, so that the ticket lives as
// long as the session is used; when a logged-in session ends it clears the
// ticket. A ticket cannot be revoked before it times out: keep the codec's
// Timeout at or below the session's IdleTimeout. Failing to issue one (an
// IPv6 client with IP binding on, say) is logged; the login stands.
type SessionHook struct {
	// Issuer writes and clears the ticket cookie. It must be set.
	Issuer *Issuer

	// For builds the ticket for user, for example to add tokens (groups)
	// or user data. nil means Ticket{UID: user}.
	For func(r *http.Request, user string) Ticket

	// Logger receives failures to issue a ticket. nil means slog.Default().
	Logger *slog.Logger
}

// LoggedIn issues the ticket of the session's user.
func (h SessionHook) LoggedIn(w http.ResponseWriter, r *http.Request, info sesame.SessionInfo) {
	h.issue(w, r, info.User)
}

// Extended issues the ticket of the session's user again, valid from now.
func (h SessionHook) Extended(w http.ResponseWriter, r *http.Request, info sesame.SessionInfo) {
	h.issue(w, r, info.User)
}

// LoggedOut clears the ticket cookie, also when the session that ended
// cannot be known (a revoked session's cookie, say): a ticket must not
// outlive it in this browser.
func (h SessionHook) LoggedOut(w http.ResponseWriter, r *http.Request, info sesame.SessionInfo) {
	h.Issuer.ClearCookie(w)
}

func (h SessionHook) issue(w http.ResponseWriter, r *http.Request, user string) {
	t := Ticket{UID: user}
	if h.For != nil {
		t = h.For(r, user)
	}
	if err := h.Issuer.SetCookie(w, r, t); err != nil {
		log := h.Logger
		if log == nil {
			log = slog.Default()
		}
		log.WarnContext(r.Context(), "ticket: issuing the login ticket", "error", err)
	}
}
