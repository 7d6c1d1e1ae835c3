package sesame

import (
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
)

func TestReadCookie(t *testing.T) {
	id, _ := newID(rand.Reader)
	other, _ := newID(rand.Reader)
	const name = "__Host-session"
	tests := []struct {
		name    string
		headers []string
		want    cookieState
	}{
		{"none", nil, cookieNone},
		{"other cookies only", []string{"a=b; c=d"}, cookieNone},
		{"one", []string{"a=b; " + name + "=" + id.String()}, cookieValid},
		{"quoted", []string{name + `="` + id.String() + `"`}, cookieValid},
		{"identical duplicates", []string{name + "=" + id.String() + "; " + name + "=" + id.String()}, cookieValid},
		{"duplicates across header lines", []string{name + "=" + id.String(), name + "=" + other.String()}, cookieMalformed},
		{"different duplicates", []string{name + "=" + other.String() + "; " + name + "=" + id.String()}, cookieMalformed},
		{"valid then garbage", []string{name + "=" + id.String() + "; " + name + "=x"}, cookieMalformed},
		{"garbage", []string{name + "=!!!"}, cookieMalformed},
		{"empty value", []string{name + "="}, cookieMalformed},
		{"wrong length", []string{name + "=" + id.String()[:40]}, cookieMalformed},
		{"oversized", []string{name + "=" + strings.Repeat("A", 1<<20)}, cookieMalformed},
		{"name is a prefix", []string{name + "x=" + id.String()}, cookieNone},
		{"no equals", []string{name}, cookieNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": tc.headers}
			got, state := readCookie(h, name)
			if state != tc.want {
				t.Fatalf("state = %d, want %d", state, tc.want)
			}
			if state == cookieValid && got != id {
				t.Fatalf("id = %x, want %x", got, id)
			}
		})
	}
}

func TestKeepPrivate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `private, no-cache="Set-Cookie"`},
		{"public, max-age=60", "max-age=60, private"},
		{"no-store", "no-store"},
		{"private, max-age=5", "private, max-age=5"},
		{"max-age=5, s-maxage=100", "max-age=5, private"},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.in != "" {
			h.Set("Cache-Control", tc.in)
		}
		keepPrivate(h, new([1]string))
		if got := h.Get("Cache-Control"); got != tc.want {
			t.Errorf("keepPrivate(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAddVary(t *testing.T) {
	h := http.Header{}
	h.Add("Vary", "Accept-Encoding, cookie")
	addVary(h, "Cookie")
	if got := h.Values("Vary"); len(got) != 1 {
		t.Fatalf("Vary = %q; Cookie was already listed", got)
	}
	h = http.Header{}
	addVary(h, "Cookie")
	addVary(h, "Cookie")
	if got := h.Values("Vary"); len(got) != 1 || got[0] != "Cookie" {
		t.Fatalf("Vary = %q", got)
	}
}

func FuzzReadCookie(f *testing.F) {
	id, _ := newID(rand.Reader)
	f.Add("__Host-session=" + id.String())
	f.Add("a=b; __Host-session=\"" + id.String() + "\"; c")
	f.Add(";;;=;__Host-session")
	f.Fuzz(func(t *testing.T, header string) {
		got, state := readCookie(http.Header{"Cookie": {header}}, "__Host-session")
		if state == cookieValid && !strings.Contains(header, got.String()) {
			t.Fatalf("valid id %q not in header %q", got.String(), header)
		}
	})
}

// readCookie finds our cookie's id as a server-side session's load does:
// the one value under our name, which must be a well-formed id.
func readCookie(h http.Header, name string) (sessionID, cookieState) {
	value, state := readCookieValue(h, name)
	if state != cookieValid {
		return sessionID{}, state
	}
	id, ok := parseID(value)
	if !ok {
		return sessionID{}, cookieMalformed
	}
	return id, cookieValid
}
