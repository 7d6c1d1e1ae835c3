package sesame

import "net/http"

// Hook is told of a session's login, logout and idle-deadline extension,
// while the response that carries the session's cookie can still take
// headers: integrations (a mod_auth_tkt ticket, a flag cookie for a shared
// cache) attach through it, and the Manager imports none of them. List
// hooks in Config.Hooks; ticket.SessionHook is one.
//
// The methods run after the session is saved, in the request's goroutine,
// with w the response (its header not yet written), r the request, and
// info the session as Session.Info describes it, its user included. They
// cannot fail the request: a hook logs its own failures. A change made
// after the response header was written (see Session.Commit) reaches no
// hook: LoggedIn and Extended are then told on a later request, and a
// late logout is logged.
type Hook interface {
	// LoggedIn: a Login of info.User was saved; info is the new session.
	LoggedIn(w http.ResponseWriter, r *http.Request, info SessionInfo)

	// Extended: the idle deadline of a logged-in session was extended to
	// info.IdleDeadline. It happens at most once per IdleTimeout/20: an
	// ordinary read between extensions reaches no hook.
	Extended(w http.ResponseWriter, r *http.Request, info SessionInfo)

	// LoggedOut: a logged-in session ended, and the response clears its
	// cookie: it was destroyed (Destroy, or RevokeAll from the user's own
	// request), or the request presented it expired or revoked. When the
	// cookie names no live session and what it named cannot be known
	// (revoked on another server, forgotten by the store, tampered with),
	// info is zero: its User is "". An anonymous session's end reaches no
	// hook.
	LoggedOut(w http.ResponseWriter, r *http.Request, info SessionInfo)
}
