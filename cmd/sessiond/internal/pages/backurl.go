package main

import (
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
	if strings.HasPrefix(u.Path, prefix) && u.Path != prefix && u.Path != pathSessions {
		return def
	}
	return back
}
