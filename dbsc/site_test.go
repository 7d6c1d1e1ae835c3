package dbsc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/dbsc"
	"github.com/sesame-go/sesame/dbsc/dbsctest"
	"github.com/sesame-go/sesame/seal"
	"github.com/sesame-go/sesame/store/memstore"
)

// clock is a settable time source, started from the real time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingStore counts the calls that reach a store, and can hold every
// save back until a number of loads have happened: requests that all read
// a record before any of them writes it.
type countingStore struct {
	sesame.Store
	loads, saves atomic.Int64

	mu      sync.Mutex
	waitFor int           // loads still to come before saves go on
	gate    chan struct{} // closed when they have; nil: no gate
}

// holdSaves holds saves back until n more loads have happened (or ten
// seconds, so that a broken test fails instead of hanging).
func (c *countingStore) holdSaves(n int) {
	c.mu.Lock()
	c.waitFor, c.gate = n, make(chan struct{})
	c.mu.Unlock()
}

func (c *countingStore) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	c.loads.Add(1)
	v, ver, err := c.Store.Load(ctx, key)
	c.mu.Lock()
	if c.gate != nil && c.waitFor > 0 {
		if c.waitFor--; c.waitFor == 0 {
			close(c.gate)
		}
	}
	c.mu.Unlock()
	return v, ver, err
}

func (c *countingStore) Save(ctx context.Context, key string, v []byte, ver uint64, o sesame.SaveOptions) (uint64, error) {
	c.mu.Lock()
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-time.After(10 * time.Second):
		}
	}
	c.saves.Add(1)
	return c.Store.Save(ctx, key, v, ver, o)
}

func (c *countingStore) UserSessions(ctx context.Context, user string) ([]sesame.StoredRecord, error) {
	return c.Store.(sesame.UserIndex).UserSessions(ctx, user)
}

func (c *countingStore) DeleteUser(ctx context.Context, user string) error {
	return c.Store.(sesame.UserIndex).DeleteUser(ctx, user)
}

// site is an HTTPS site on loopback with sessions, DBSC, and the pages of
// dbsctest.SiteMux (POST /login?user=U, GET /) and these:
//
//	POST /logout         destroys the session
//	POST /revoke-others  ends the user's other sessions
//	GET  /binding        the session's binding, described
type site struct {
	t      testing.TB
	srv    *httptest.Server
	h      http.Handler // the whole site, under the Manager
	m      *sesame.Manager
	b      *dbsc.Binder
	store  *countingStore
	clock  *clock
	mu     sync.Mutex
	events []dbsc.Event
}

// siteOptions changes a site's configuration before it starts.
type siteOptions struct {
	dbsc   dbsc.Config
	sesame sesame.Config
}

func newSite(t testing.TB, edit func(*siteOptions)) *site {
	t.Helper()
	ms, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	st := &site{t: t, store: &countingStore{Store: ms}, clock: newClock()}
	o := &siteOptions{}
	o.dbsc.Logger = slog.New(slog.DiscardHandler)
	o.sesame.Store = st.store
	o.sesame.Logger = slog.New(slog.DiscardHandler)
	if edit != nil {
		edit(o)
	}
	o.dbsc.OnEvent = func(_ context.Context, ev dbsc.Event) {
		st.mu.Lock()
		st.events = append(st.events, ev)
		st.mu.Unlock()
	}
	b, err := dbsc.New(o.dbsc)
	if err != nil {
		t.Fatal(err)
	}
	dbsc.SetClock(b, st.clock.Now)
	o.sesame.Binder = b
	m, err := sesame.New(o.sesame)
	if err != nil {
		t.Fatal(err)
	}
	st.m, st.b = m, b
	st.h = m.Handler(b.Navigations(st.mux()))
	st.srv = httptest.NewUnstartedServer(st.h)
	st.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short at Close
	st.srv.StartTLS()
	t.Cleanup(st.srv.Close)
	return st
}

func (st *site) mux() http.Handler {
	mux := dbsctest.SiteMux(st.b)
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		s.Destroy()
	})
	mux.HandleFunc("POST /revoke-others", func(w http.ResponseWriter, r *http.Request) {
		if err := st.m.RevokeOthers(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("GET /binding", func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		raw, err := s.Binding()
		if err != nil || raw == nil {
			http.Error(w, fmt.Sprint("no binding ", err), http.StatusNotFound)
			return
		}
		in, err := dbsc.Describe(raw)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s %s %s", in.ID, in.Algorithm, in.Thumbprint)
	})
	return mux
}

// browser returns a browser of the site with a key for alg ("" for a
// browser without DBSC).
func (st *site) browser(alg string) *dbsctest.Browser {
	st.t.Helper()
	b := &dbsctest.Browser{Base: st.srv.URL, Client: st.srv.Client(), Now: st.clock.Now}
	if alg != "" {
		k, err := dbsctest.NewKey(alg)
		if err != nil {
			st.t.Fatal(err)
		}
		b.Key = k
	}
	return b
}

// login logs br in as user; a DBSC browser registers before it returns.
func (st *site) login(br *dbsctest.Browser, user string) *http.Response {
	st.t.Helper()
	res, err := br.PostForm("/login?user="+url.QueryEscape(user), nil)
	if err != nil || res.StatusCode != http.StatusOK {
		st.t.Fatalf("login: %s, %v", dbsctest.Status(res), err)
	}
	return res
}

// boundBrowser returns a browser with a key for alg, logged in as alice
// and bound, and its bound session.
func (st *site) boundBrowser(alg string) (*dbsctest.Browser, dbsctest.Session) {
	st.t.Helper()
	br := st.browser(alg)
	st.login(br, "alice")
	return br, only(st.t, br)
}

// who returns what / says to br: "user U" or "anonymous".
func (st *site) who(br *dbsctest.Browser) string {
	st.t.Helper()
	res, err := br.Get("/")
	if err != nil {
		st.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// took returns the events reported since the last call.
func (st *site) took() []dbsc.Event {
	st.mu.Lock()
	defer st.mu.Unlock()
	ev := st.events
	st.events = nil
	return ev
}

// refused returns the errors of the EventRefused events since the last
// call of took or refused.
func (st *site) refused() []error {
	var errs []error
	for _, ev := range st.took() {
		if ev.Kind == dbsc.EventRefused {
			errs = append(errs, ev.Err)
		}
	}
	return errs
}

// only returns br's one bound session.
func only(t testing.TB, br *dbsctest.Browser) dbsctest.Session {
	t.Helper()
	ss := br.Sessions()
	if len(ss) != 1 {
		t.Fatalf("the browser keeps %d bound sessions; want 1", len(ss))
	}
	return ss[0]
}

// boundCookie returns the Set-Cookie of the bound cookie in res, or nil.
func boundCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == dbsc.DefaultCookieName {
			return c
		}
	}
	return nil
}

// refusedWith reports whether errs holds exactly one error, which is target.
func refusedWith(errs []error, target error) bool {
	return len(errs) == 1 && errors.Is(errs[0], target)
}

var algs = []string{dbsc.ES256, dbsc.RS256}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsa1024 is a browser key too short to accept.
func rsa1024(t *testing.T) *dbsctest.Key {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	key, err := dbsctest.KeyFrom(k)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newRing(t *testing.T) *seal.KeyRing {
	t.Helper()
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
