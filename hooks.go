package sesame

import "net/http"

// Hook is told of a session's login, logout and idle-deadline extension,
// while the response that carries the session's cookie can still take
// headers: integrations (a mod_auth_tkt ticket, a flag cookie for a shared
// cache) attach through it, and the Manager imports none of them. List
// hooks in Config.Hooks; ticket.SessionHook is one.
//
// The methods run after the session is saved, in the request's goroutine,
// with w the response (its header not yet written) and r the request.
// They cannot fail the request: a hook logs its own failures. A change
// made after the response header was written (see Session.Commit) reaches
// no hook: LoggedIn and Extended are then told on a later request, and a
// late logout is logged.
type Hook interface {
	// LoggedIn: a Login of user was saved.
	LoggedIn(w http.ResponseWriter, r *http.Request, user string)

	// Extended: the idle deadline of user's session was extended, at most
	// once per IdleTimeout/20 (an ordinary read between extensions
	// reaches no hook).
	Extended(w http.ResponseWriter, r *http.Request, user string)

	// LoggedOut: user's session ended in this request (Destroy, or
	// RevokeAll from the user's own request).
	LoggedOut(w http.ResponseWriter, r *http.Request, user string)
}
