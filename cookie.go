package sesame

import (
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// cookieState is what the request's Cookie headers said under our name.
type cookieState uint8

const (
	cookieNone      cookieState = iota // no cookie under our name
	cookieValid                        // exactly one well-formed id
	cookieMalformed                    // present but unusable: bad format or conflicting duplicates
)

// maxCookieValue bounds the value we look at. Anything longer cannot be an
// id and is refused before decoding; net/http's MaxHeaderBytes bounds the
// header as a whole.
const maxCookieValue = 4096

// readCookie finds our cookie in the request without parsing the others
// and without allocating. Several values under our name (a sibling host or
// a path-scoped cookie planted next to ours) are resolved safely: identical
// copies count as one; different values mean nobody's id is trusted.
func readCookie(h http.Header, name string) (sessionID, cookieState) {
	var id sessionID
	var value string
	found := false
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			n, v, ok := strings.Cut(part, "=")
			if !ok || n != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if found && v != value {
				return id, cookieMalformed
			}
			found, value = true, v
		}
	}
	if !found {
		return id, cookieNone
	}
	if len(value) > maxCookieValue {
		return id, cookieMalformed
	}
	id, ok := parseID(value)
	if !ok {
		return id, cookieMalformed
	}
	return id, cookieValid
}

// header builds the Set-Cookie value for value with the configured
// policy. expires is zero for a browser-session cookie; a negative maxAge
// deletes the cookie.
func (c *CookieConfig) header(value string, expires time.Time, maxAge int, secure bool) string {
	ck := http.Cookie{
		Name:     c.Name,
		Value:    value,
		Path:     c.Path,
		Domain:   c.Domain,
		Expires:  expires,
		MaxAge:   maxAge,
		Secure:   secure,
		HttpOnly: true,
		SameSite: c.SameSite,
	}
	return ck.String()
}

// setCookieHeader puts v as the only Set-Cookie line for our cookie,
// replacing one an earlier Commit in the same response added.
func setCookieHeader(h http.Header, name, v string) {
	lines := h["Set-Cookie"]
	prefix := name + "="
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = v
			return
		}
	}
	h["Set-Cookie"] = append(lines, v)
}

// addVary adds value to the Vary header unless it is already listed.
func addVary(h http.Header, value string) {
	for _, l := range h["Vary"] {
		for _, f := range strings.Split(l, ",") {
			if f = textproto.TrimString(f); f == "*" || strings.EqualFold(f, value) {
				return
			}
		}
	}
	h.Add("Vary", value)
}

// keepPrivate makes sure a response that carries a session cookie is never
// stored by a shared cache: it keeps the handler's Cache-Control directives
// except those that invite shared caching, and adds "private" unless the
// response already says no-store or private.
func keepPrivate(h http.Header) {
	cur := h.Get("Cache-Control")
	if cur == "" {
		h.Set("Cache-Control", `private, no-cache="Set-Cookie"`)
		return
	}
	var kept []string
	private := false
	for _, d := range strings.Split(cur, ",") {
		d = textproto.TrimString(d)
		name, _, _ := strings.Cut(strings.ToLower(d), "=")
		switch name {
		case "public", "s-maxage":
			continue
		case "private", "no-store":
			private = true
		}
		if d != "" {
			kept = append(kept, d)
		}
	}
	if !private {
		kept = append(kept, "private")
	}
	h.Set("Cache-Control", strings.Join(kept, ", "))
}
