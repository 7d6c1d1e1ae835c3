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
	cookieValid                        // exactly one value, or identical copies of it
	cookieMalformed                    // present but unusable: bad format or conflicting duplicates
)

// maxCookieValue bounds the value we look at. Anything longer cannot be an
// id and is refused before decoding; net/http's MaxHeaderBytes bounds the
// header as a whole.
const maxCookieValue = 4096

// readCookieValue finds our cookie in the request without parsing the
// others and without allocating. Several values under our name (a sibling
// host or a path-scoped cookie planted next to ours) are resolved safely:
// identical copies count as one; different values mean none is trusted.
// A value longer than maxCookieValue is malformed.
func readCookieValue(h http.Header, name string) (string, cookieState) {
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
				return "", cookieMalformed
			}
			found, value = true, v
		}
	}
	switch {
	case !found:
		return "", cookieNone
	case value == "" || len(value) > maxCookieValue:
		return "", cookieMalformed
	}
	return value, cookieValid
}

// cookieStart returns a buffer holding "name=", with room for a value of
// n bytes and the attributes. Append the value, then call cookieLine.
func (m *Manager) cookieStart(n int) []byte {
	b := make([]byte, 0, len(m.cookie.Name)+n+len(m.cookie.Path)+len(m.cookie.Domain)+100)
	b = append(b, m.cookie.Name...)
	return append(b, '=')
}

// cookieLine appends the cookie policy's attributes to b, which
// cookieStart began and a value followed, and returns the Set-Cookie
// value. A non-zero expires makes the cookie persistent.
func (m *Manager) cookieLine(b []byte, expires time.Time) string {
	return string(m.appendAttributes(b, expires, ""))
}

// clearingLine returns the Set-Cookie value that deletes the cookie.
func (m *Manager) clearingLine() string {
	return string(m.appendAttributes(m.cookieStart(0), time.Time{}, "; Max-Age=0"))
}

// appendAttributes appends the cookie policy's attributes, with extra
// after the expiry.
func (m *Manager) appendAttributes(b []byte, expires time.Time, extra string) []byte {
	b = append(b, "; Path="...)
	b = append(b, m.cookie.Path...)
	if m.cookie.Domain != "" {
		b = append(b, "; Domain="...)
		b = append(b, strings.TrimPrefix(m.cookie.Domain, ".")...)
	}
	if !expires.IsZero() {
		b = append(b, "; Expires="...)
		b = expires.UTC().AppendFormat(b, http.TimeFormat)
	}
	b = append(b, extra...)
	b = append(b, "; HttpOnly"...)
	if m.secure {
		b = append(b, "; Secure"...)
	}
	switch m.cookie.SameSite {
	case http.SameSiteLaxMode:
		b = append(b, "; SameSite=Lax"...)
	case http.SameSiteStrictMode:
		b = append(b, "; SameSite=Strict"...)
	case http.SameSiteNoneMode:
		b = append(b, "; SameSite=None"...)
	}
	return b
}

// setHeader sets h[name] to the single value v, replacing an earlier value
// for our cookie in the case of Set-Cookie. buf backs a new header slice,
// saving an allocation per response.
func setHeader(h http.Header, name, v string, buf *[1]string) {
	lines := h[name]
	if name == "Set-Cookie" {
		for i, l := range lines {
			if n := strings.IndexByte(l, '='); n > 0 && l[:n] == v[:strings.IndexByte(v, '=')] {
				lines[i] = v
				return
			}
		}
	}
	if len(lines) == 0 {
		buf[0] = v
		h[name] = buf[:1:1]
		return
	}
	if name == "Set-Cookie" {
		h[name] = append(lines, v)
		return
	}
	h[name] = []string{v}
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
func keepPrivate(h http.Header, buf *[1]string) {
	cur := h.Get("Cache-Control")
	if cur == "" {
		setHeader(h, "Cache-Control", `private, no-cache="Set-Cookie"`, buf)
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
	setHeader(h, "Cache-Control", strings.Join(kept, ", "), buf)
}
