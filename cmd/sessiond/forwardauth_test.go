package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// headerWriter is the least a handler can write to: headers and a status,
// the body dropped. A forward-auth answer has no body.
type headerWriter struct {
	h      http.Header
	status int
}

func (w *headerWriter) Header() http.Header { return w.h }

func (w *headerWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *headerWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// loggedInCheck logs alice in on a test server and returns its handler,
// a forward-auth request carrying her session, and a writer; check runs
// the request and fails unless it names alice.
func loggedInCheck(tb testing.TB, edit func(*options)) (check func()) {
	_, h := newTestServer(tb, edit)
	c := newClient(tb, h)
	if res := c.login("alice", "correct horse"); res.StatusCode != http.StatusSeeOther {
		tb.Fatalf("login: %s", res.Status)
	}
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+pathAuth, nil)
	req.Header.Set("User-Agent", c.ua)
	for n, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: n, Value: v})
	}
	w := &headerWriter{h: http.Header{}}
	return func() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK || w.h.Get("X-Auth-User") != "alice" {
			tb.Fatalf("check answered %d for %q", w.status, w.h.Get("X-Auth-User"))
		}
	}
}

var forwardAuthStores = []struct {
	name string
	edit func(*options)
}{
	{"memstore", nil},
	{"sealed", func(o *options) { o.Sealed = true }},
}

// BenchmarkForwardAuth is sessiond's own work for one forward-auth check
// of a logged-in session: the whole handler, middleware included, on
// memstore and with sealed cookies, without the network and HTTP parsing
// that net/http adds (bench/authcmp measures those too).
func BenchmarkForwardAuth(b *testing.B) {
	for _, tc := range forwardAuthStores {
		b.Run(tc.name, func(b *testing.B) {
			check := loggedInCheck(b, tc.edit)
			b.ReportAllocs()
			for b.Loop() {
				check()
			}
		})
	}
}

// TestForwardAuthDoesNotAllocateForRouting counts the allocations of a
// check of a logged-in session. The check goes past the mux, whose
// pattern matching allocated once per request; what is left is the
// session's load and the user header. More means something new allocates
// on the path every proxied request takes.
func TestForwardAuthDoesNotAllocateForRouting(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops buffers, so allocation counts are not meaningful")
	}
	for _, tc := range []struct {
		name string
		edit func(*options)
		max  float64
	}{
		{"memstore", nil, 6},
		{"sealed", func(o *options) { o.Sealed = true }, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := loggedInCheck(t, tc.edit)
			if n := testing.AllocsPerRun(200, check); n > tc.max {
				t.Errorf("%v allocations per check, want at most %v", n, tc.max)
			}
		})
	}
}

// TestForwardAuthRoutes sends the check by every method a proxy may
// forward, and by other spellings of its path, which the mux still
// cleans and redirects.
func TestForwardAuthRoutes(t *testing.T) {
	_, h := newTestServer(t, nil)
	c := newClient(t, h)
	if res := c.login("alice", "correct horse"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s", res.Status)
	}
	anon := newClient(t, h)
	for _, tt := range []struct {
		method, path string
		who          *client
		status       int
		user         string
		location     string
	}{
		{"GET", pathAuth, c, http.StatusOK, "alice", ""},
		{"HEAD", pathAuth, c, http.StatusOK, "alice", ""},
		{"POST", pathAuth, c, http.StatusOK, "alice", ""},
		{"DELETE", pathAuth, c, http.StatusOK, "alice", ""},
		{"GET", pathAuth, anon, http.StatusUnauthorized, "", ""},
		{"POST", pathAuth, anon, http.StatusUnauthorized, "", ""},
		{"GET", pathAuth + "?x=1", c, http.StatusOK, "alice", ""},
		{"GET", "/_sessiond/./auth", c, http.StatusTemporaryRedirect, "", pathAuth},
		{"GET", "/_sessiond//auth", c, http.StatusTemporaryRedirect, "", pathAuth},
		{"GET", pathAuth + "/", c, http.StatusNotFound, "", ""},
	} {
		u := &url.URL{Scheme: "http", Host: "127.0.0.1:8080", Opaque: "//127.0.0.1:8080" + tt.path}
		req := httptest.NewRequest(tt.method, u.String(), nil)
		res := tt.who.do(req)
		if res.StatusCode != tt.status || res.Header.Get("X-Auth-User") != tt.user {
			t.Errorf("%s %s: %s naming %q, want %d naming %q", tt.method, tt.path, res.Status, res.Header.Get("X-Auth-User"), tt.status, tt.user)
		}
		if loc, _ := res.Location(); tt.location != "" && (loc == nil || loc.Path != tt.location) {
			t.Errorf("%s %s: redirected to %v, want %s", tt.method, tt.path, loc, tt.location)
		}
	}
}
