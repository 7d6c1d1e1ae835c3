package pages

import (
	"net/http"
	"net/url"
	"strings"
)

// maxBackLen bounds a return-to URL.
const maxBackLen = 2048

// safeBack returns back if it is a path on this site to return to after
// login, else def. Only absolute paths pass: no scheme, no host, nothing
// that a browser would read as another origin ("//host", "/\host", which
// browsers treat like "//", control characters or tabs, which they strip),
// and nothing under /_sessiond/ other than the home and sessions pages, so
// login cannot bounce to logout.
func safeBack(back, def string) string {
	if back == "" || len(back) > maxBackLen || back[0] != '/' {
		return def
	}
	if len(back) > 1 && (back[1] == '/' || back[1] == '\\') {
		return def
	}
	for i := 0; i < len(back); i++ {
		if c := back[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return def
		}
	}
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return def
	}
	// Percent-decoded path must not turn into "//" or "/\" either (some
	// servers decode before routing).
	if p := u.Path; strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return def
	}
	if strings.HasPrefix(u.Path, Prefix) && u.Path != Prefix && u.Path != PathSessions {
		return def
	}
	return back
}

// loginURL is the login page with a return address.
func loginURL(back string) string {
	back = safeBack(back, "")
	if back == "" || back == "/" {
		return PathLogin
	}
	return PathLogin + "?back=" + url.QueryEscape(back)
}

// from serves /_sessiond/from/<original request URI>: the form of login
// link a proxy can build without escaping (nginx: return 302
// /_sessiond/from$request_uri). It redirects to the login page with the
// URI as a checked return address (and the notice that the session ended,
// if the browser still holds one that no longer works).
func (s *Server) from(w http.ResponseWriter, r *http.Request) {
	uri := r.URL.RequestURI()
	back := strings.TrimPrefix(uri, strings.TrimSuffix(PathFrom, "/"))
	if back == uri {
		back = ""
	}
	if user, _, err := s.currentUser(r); err == nil && user != "" {
		http.Redirect(w, r, loginURL(back), http.StatusSeeOther) // the login page sends it back
		return
	}
	http.Redirect(w, r, s.ToLogin(r, back), http.StatusSeeOther)
}
