package main

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/ops"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
	"github.com/sesame-go/sesame/seal"
	"github.com/sesame-go/sesame/store/memstore"
	"github.com/sesame-go/sesame/store/storetest"
)

// cheapArgon keeps password hashing fast in tests.
var cheapArgon = users.Params{Memory: 64, Time: 1, Threads: 1}

// testOptions are the defaults with a temporary data directory.
func testOptions(t testing.TB) *options {
	t.Helper()
	o, err := parseOptions([]string{"--data-dir", t.TempDir()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// newTestServer builds a server over memstore with users alice and bob
// (password "correct horse"). edit, if given, changes the options first.
func newTestServer(t testing.TB, edit func(*options)) (*server, http.Handler) {
	t.Helper()
	return newTestServerLimits(t, edit, nil)
}

// newTestServerLimits is newTestServer with the given login limits (nil:
// the defaults).
func newTestServerLimits(t testing.TB, edit func(*options), limits *pages.Limits) (*server, http.Handler) {
	t.Helper()
	st, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newTestServerOn(t, st, edit, limits)
}

// newTestServerOn is newTestServerLimits over the store st.
func newTestServerOn(t testing.TB, st sesame.Store, edit func(*options), limits *pages.Limits) (*server, http.Handler) {
	t.Helper()
	o := testOptions(t)
	if edit != nil {
		edit(o)
	}
	// Unless edit gave the server a users file (another server's, say).
	if _, err := os.Stat(o.usersPath()); errors.Is(err, fs.ErrNotExist) {
		for _, u := range []string{"alice", "bob"} {
			if err := users.Add(o.usersPath(), u, "correct horse", cheapArgon); err != nil {
				t.Fatal(err)
			}
		}
	}
	db, err := users.Open(o.usersPath(), cheapArgon)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	s, err := newServer(o, parts{
		store:        st,
		users:        db,
		log:          log,
		metrics:      ops.NewMetrics(),
		ticketSecret: strings.Repeat("s", 32),
		ring:         testRing(t, o),
		limits:       limits,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, s.handler()
}

// client is a minimal browser for handler tests: it keeps cookies by name
// (including Secure ones, as browsers do for http://127.0.0.1) and does not
// follow redirects.
type client struct {
	t       testing.TB
	h       http.Handler
	cookies map[string]string
	ua      string
	remote  string
}

func newClient(t testing.TB, h http.Handler) *client {
	return &client{t: t, h: h, cookies: map[string]string{}, ua: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", remote: "192.0.2.1:4000"}
}

func (c *client) do(r *http.Request) *http.Response {
	c.t.Helper()
	r.RemoteAddr = c.remote
	r.Header.Set("User-Agent", c.ua)
	for n, v := range c.cookies {
		r.AddCookie(&http.Cookie{Name: n, Value: v})
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	res := w.Result()
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" || (!ck.Expires.IsZero() && ck.Expires.Before(time.Now())) {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return res
}

func (c *client) get(path string) *http.Response {
	return c.do(httptest.NewRequest("GET", "http://127.0.0.1:8080"+path, nil))
}

func (c *client) post(path string, form url.Values) *http.Response {
	r := httptest.NewRequest("POST", "http://127.0.0.1:8080"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(r)
}

func (c *client) login(user, password string) *http.Response {
	return c.post(pages.PathLogin, url.Values{"user": {user}, "password": {password}})
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// needBinary returns the path of an executable, or skips (fails under
// SESAME_REQUIRE_SERVERS=1) when it is missing.
func needBinary(t *testing.T, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	storetest.ServerMissing(t, "needs "+filepath.Base(paths[0])+" ("+strings.Join(paths, " or ")+"); install it with: DEBIAN_FRONTEND=noninteractive apt-get install -y "+filepath.Base(paths[0]))
	return ""
}

// listenLoopback listens on a free loopback port.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// testRing returns a sealing key ring when o.Sealed, else nil.
func testRing(t testing.TB, o *options) *seal.KeyRing {
	t.Helper()
	if !o.Sealed {
		return nil
	}
	k, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	r, err := seal.ParseKeyRing(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
