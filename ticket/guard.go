package ticket

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Guard is middleware that admits only requests with a valid ticket
// cookie, as mod_auth_tkt does for a protected location. It puts the
// ticket in the request context (see FromContext, User, Tokens, UserData),
// refreshes the cookie per Config.RefreshRatio and when the old secret
// signed it, and turns other requests away:
//
//   - no valid ticket: a 307 redirect to LoginURL with the request's URL in
//     the BackArgName query parameter (TKTAuthLoginURL,
//     TKTAuthBackArgName), or 401 Unauthorized when LoginURL is empty; an
//     expired ticket's cookie is also cleared, as Apache does;
//   - a valid ticket without any of the required tokens: a 307 redirect to
//     UnauthURL (TKTAuthUnauthURL), or 403 Forbidden when it is empty.
//     (Apache falls back to the login URL here; a user who is logged in
//     but lacks a role is better told so than asked to log in again.)
type Guard struct {
	// Issuer reads, refreshes and clears the cookie.
	Issuer *Issuer
	// LoginURL is where unauthenticated requests are sent; "" answers 401.
	LoginURL string
	// BackArgName names the query parameter carrying the URL to return to
	// after login; "" means "back". Apache's default separator ";" is not
	// used: the parameter is joined with "&" when LoginURL has a query.
	BackArgName string
	// UnauthURL is where authenticated requests lacking a required token
	// are sent; "" answers 403.
	UnauthURL string
}

// Handler returns next guarded by the ticket. With anyOf given, the ticket
// must also hold at least one of those tokens (TKTAuthToken, any-of).
func (g *Guard) Handler(next http.Handler, anyOf ...string) http.Handler {
	required := append([]string(nil), anyOf...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, refresh, err := g.Issuer.Authenticate(r)
		if err != nil {
			if errors.Is(err, ErrExpired) {
				g.Issuer.ClearCookie(w)
			}
			g.login(w, r)
			return
		}
		if !t.HasAnyToken(required...) {
			if g.UnauthURL == "" {
				http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
				return
			}
			g.redirect(w, r, g.UnauthURL)
			return
		}
		if refresh {
			fresh := t
			fresh.Issued = time.Time{} // now
			// A refresh that fails (an IPv6 client after a configuration
			// change, say) leaves the current, still valid ticket in place.
			_ = g.Issuer.SetCookie(w, r, fresh)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, t)))
	})
}

func (g *Guard) login(w http.ResponseWriter, r *http.Request) {
	if g.LoginURL == "" {
		http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		return
	}
	g.redirect(w, r, g.LoginURL)
}

// redirect sends the client to target with the back URL appended.
func (g *Guard) redirect(w http.ResponseWriter, r *http.Request, target string) {
	arg := g.BackArgName
	if arg == "" {
		arg = "back"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	back := scheme + "://" + r.Host + r.URL.RequestURI()
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target+sep+url.QueryEscape(arg)+"="+url.QueryEscape(back), http.StatusTemporaryRedirect)
}

type ctxKey struct{}

// FromContext returns the ticket Guard verified for this request, and
// whether there is one.
func FromContext(ctx context.Context) (Ticket, bool) {
	t, ok := ctx.Value(ctxKey{}).(Ticket)
	return t, ok
}

// User returns the verified ticket's user id, or "" outside a Guard.
func User(ctx context.Context) string {
	t, _ := FromContext(ctx)
	return t.UID
}

// Tokens returns a copy of the verified ticket's tokens, or nil.
func Tokens(ctx context.Context) []string {
	t, _ := FromContext(ctx)
	return append([]string(nil), t.Tokens...)
}

// UserData returns the verified ticket's user data, or "".
func UserData(ctx context.Context) string {
	t, _ := FromContext(ctx)
	return t.UserData
}
