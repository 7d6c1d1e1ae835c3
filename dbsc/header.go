package dbsc

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
)

// Header names of the protocol.
const (
	hdrRegistration = "Secure-Session-Registration"
	hdrChallenge    = "Secure-Session-Challenge"
	hdrResponse     = "Secure-Session-Response"
	hdrSessionID    = "Sec-Secure-Session-Id"
)

// errNoHeader reports a request header that is not there.
var errNoHeader = errors.New("dbsc: header missing")

// requestString reads a request header that the draft defines as a
// structured-field string (RFC 9651), at most max bytes long:
// Secure-Session-Response and Sec-Secure-Session-Id. Chromium sends the
// bare value instead of a quoted one, so both forms are read; parameters
// after it are ignored, as the draft says. A header sent twice is refused,
// so that nothing here picks one of two values.
func requestString(h http.Header, name string, max int) (string, error) {
	vs := h[textproto.CanonicalMIMEHeaderKey(name)]
	switch {
	case len(vs) == 0:
		return "", fmt.Errorf("%w: %s", errNoHeader, name)
	case len(vs) > 1:
		return "", fmt.Errorf("%w: %s sent %d times", ErrMalformed, name, len(vs))
	case len(vs[0]) > max+64:
		return "", fmt.Errorf("%w: %s of %d bytes", ErrMalformed, name, len(vs[0]))
	}
	v, err := parseItemString(vs[0])
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrMalformed, name, err)
	}
	if len(v) > max {
		return "", fmt.Errorf("%w: %s of %d bytes", ErrMalformed, name, len(v))
	}
	return v, nil
}

// parseItemString reads the value of a structured-field item that should
// be a string: either an sf-string, "…" with \" and \\ as its only escapes
// and printable ASCII inside, or a bare run of printable ASCII without
// white space, quotes, backslashes, commas or semicolons. Parameters after
// the value (";name=value…") are ignored. A list (a comma after the
// value) is refused.
func parseItemString(s string) (string, error) {
	s = strings.Trim(s, " \t")
	var v string
	rest := ""
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			c := s[i]
			switch {
			case c == '\\':
				if i+1 == len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
					return "", errors.New("bad escape in string")
				}
				i++
				c = s[i]
			case c < 0x20 || c > 0x7e:
				return "", fmt.Errorf("byte %#x in string", c)
			}
			b.WriteByte(c)
		}
		if i == len(s) {
			return "", errors.New("unterminated string")
		}
		v, rest = b.String(), s[i+1:]
	} else {
		i := 0
		for ; i < len(s) && s[i] != ';'; i++ {
			if c := s[i]; c <= 0x20 || c > 0x7e || c == '"' || c == '\\' || c == ',' {
				return "", fmt.Errorf("byte %#x in bare value", c)
			}
		}
		v, rest = s[:i], s[i:]
	}
	if rest != "" && rest[0] != ';' {
		return "", errors.New("more than one value")
	}
	if strings.IndexByte(rest, ',') >= 0 && !quotedComma(rest) {
		return "", errors.New("more than one value")
	}
	if v == "" {
		return "", errors.New("empty value")
	}
	return v, nil
}

// quotedComma reports whether every comma in params lies inside a quoted
// parameter value, where it is part of the value and not a list separator.
func quotedComma(params string) bool {
	in := false
	for i := 0; i < len(params); i++ {
		switch c := params[i]; {
		case c == '\\' && in:
			i++
		case c == '"':
			in = !in
		case c == ',' && !in:
			return false
		}
	}
	return true
}

// sfString returns s as an sf-string. The values written here (paths,
// challenges and identifiers) are printable ASCII, checked where they are
// made; quotes and backslashes are escaped all the same.
func sfString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// printable reports whether s is non-empty printable ASCII, fit for an
// sf-string and a cookie attribute.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}
