package dbsc

import (
	"net/http"

	"github.com/sesame-go/sesame"
)

// Navigations wraps next, under the Manager's Handler, so that following
// a link from another site reaches a bound session whose bound cookie has
// expired.
//
// A browser refreshes a bound session only for requests that its own
// origin starts (the draft's allowed refresh initiators; Chromium reports
// InScopeRefreshNotAllowed otherwise). Such a navigation therefore arrives
// with the session cookie alone, and the session is withheld from it.
// Navigations answers it, instead of next, with a page that loads the same
// URL again at once: a navigation of the site's own, which the browser
// holds back for a refresh, and which then arrives with a fresh bound
// cookie. It does so only for GET navigations from another site whose
// session is withheld, so each is answered once: the reload comes from the
// site itself, and a client without the key (a thief) sees an anonymous
// session then, as before.
func (b *Binder) Navigations(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") == "navigate" && withheld(r) {
			h := w.Header()
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Referrer-Policy", "same-origin")
			_, _ = w.Write([]byte(bouncePage))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bouncePage loads its own URL again, without script.
const bouncePage = `<!doctype html><meta http-equiv="refresh" content="0"><title>Resuming your session</title>`

// withheld reports whether the request's session is a bound one that was
// withheld from it, for a request another site started: the only kind
// that a browser with the key sends without refreshing first.
func withheld(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
	default:
		return false
	}
	s, err := sesame.FromContext(r.Context())
	if err != nil || s.User() != "" {
		return false
	}
	raw, err := s.Binding()
	return err == nil && raw != nil
}
