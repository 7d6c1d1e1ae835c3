package beaker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// The tests in this file put a sesame.Manager with Config.CookieCodec set
// to a Codec behind a real HTTP server, and Beaker's SessionMiddleware
// (testdata/beaker_driver.py) beside it: the test is the browser, carrying
// the one cookie from one application to the other.

// goApp is a Go application behind a Manager serving Beaker's cookie.
type goApp struct {
	t   *testing.T
	m   *sesame.Manager
	srv *httptest.Server

	mu        sync.Mutex
	handle    func(s *sesame.Session, r *http.Request)
	events    []sesame.Event
	loggedIn  []string
	loggedOut []string
}

func startGoApp(t *testing.T, codec *Codec, cfg sesame.Config) *goApp {
	t.Helper()
	a := &goApp{t: t}
	cfg.CookieCodec = codec
	cfg.Cookie.Name = cookieName
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.OnEvent = func(_ context.Context, ev sesame.Event) {
		a.mu.Lock()
		a.events = append(a.events, ev)
		a.mu.Unlock()
	}
	cfg.Hooks = []sesame.Hook{a}
	m, err := sesame.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	a.srv = httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sesame.FromContext(r.Context())
		if err != nil {
			t.Error(err)
			return
		}
		a.mu.Lock()
		handle := a.handle
		a.mu.Unlock()
		handle(s, r)
		io.WriteString(w, "ok")
	})))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *goApp) LoggedIn(_ http.ResponseWriter, _ *http.Request, info sesame.SessionInfo) {
	a.mu.Lock()
	a.loggedIn = append(a.loggedIn, info.User)
	a.mu.Unlock()
}

func (a *goApp) Extended(http.ResponseWriter, *http.Request, sesame.SessionInfo) {}

func (a *goApp) LoggedOut(_ http.ResponseWriter, _ *http.Request, info sesame.SessionInfo) {
	a.mu.Lock()
	a.loggedOut = append(a.loggedOut, info.User)
	a.mu.Unlock()
}

// goResult is what one request to the Go application answered about the
// cookie: its new value, or that it was cleared.
type goResult struct {
	cookie  *http.Cookie // our Set-Cookie, nil if none
	cleared bool
	events  []sesame.Event
}

// do sends one request carrying cookie (none if "") to the Go
// application, whose handler runs handle with the session.
func (a *goApp) do(cookie string, handle func(s *sesame.Session, r *http.Request)) goResult {
	a.t.Helper()
	done := make(chan struct{})
	a.mu.Lock()
	a.handle = func(s *sesame.Session, r *http.Request) {
		defer close(done)
		handle(s, r)
	}
	a.events = nil
	a.mu.Unlock()
	req, err := http.NewRequest("GET", a.srv.URL, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookieName+"="+cookie)
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	<-done
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("Go answered %s: %s", resp.Status, body)
	}
	var res goResult
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			res.cookie, res.cleared = c, c.MaxAge < 0
		}
	}
	a.mu.Lock()
	res.events = a.events
	a.mu.Unlock()
	return res
}

// value returns the new cookie value, failing if there is none.
func (r goResult) value(t *testing.T) string {
	t.Helper()
	if r.cookie == nil || r.cleared || r.cookie.Value == "" {
		t.Fatalf("Go set no session cookie: %+v", r.cookie)
	}
	return r.cookie.Value
}

func (r goResult) saw(kind sesame.EventKind) *sesame.Event {
	for i := range r.events {
		if r.events[i].Kind == kind {
			return &r.events[i]
		}
	}
	return nil
}

// goView is what a Go handler sees of a session through the Session API.
type goView struct {
	User   string
	Values map[string]string // every key, its JSON as Get reads it
}

func viewOf(t *testing.T, s *sesame.Session) goView {
	v := goView{User: s.User(), Values: map[string]string{}}
	keys, err := s.Keys()
	if err != nil {
		t.Error(err)
	}
	for _, k := range keys {
		raw, err := sesame.Get[json.RawMessage](s, k)
		if err != nil {
			t.Errorf("Get(%q): %v", k, err)
		}
		v.Values[k] = string(raw)
	}
	return v
}

func tamper(v string) string {
	b := []byte(v)
	i := sigLength + 5
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func mustPut(t *testing.T, s *sesame.Session, key string, value any) {
	t.Helper()
	if err := s.Put(key, value); err != nil {
		t.Errorf("Put(%q): %v", key, err)
	}
}

// The short story, for every crypto_type and serializer: Python writes a
// logged-in session with a flash message; a Go handler reads it through
// the Session API and changes it with Put, Delete and Flash; Python reads
// Go's change, with the values Go did not touch exactly as Python wrote
// them. A cookie tampered with is refused by each side.
func TestManagerInteropEveryCombination(t *testing.T) {
	py := startBeaker(t)
	for _, cb := range combos() {
		t.Run(cb.name, func(t *testing.T) {
			app := startGoApp(t, mustNew(t, cb.cfg), sesame.Config{})
			kept := map[string]any{"whole float": 3.0, "text": "žluťoučký <kůň>"}
			keptJSON := map[string]string{"whole float": "3.0", "text": `"žluťoučký \u003ckůň\u003e"`}
			if cb.cfg.Serializer == Pickle {
				kept["bytes"] = []byte{0, 1, 0xfe, 0xff}
				kept["when"] = time.Date(2031, 7, 8, 9, 10, 11, 123456000, time.UTC)
				keptJSON["bytes"] = `"AAH+/w=="`
				keptJSON["when"] = `"2031-07-08T09:10:11.123456Z"`
			}
			written := map[string]any{"count": int64(1), "gone": "soon", DefaultUserKey: "alice", DefaultFlashKey: []any{"from python"}}
			for k, v := range kept {
				written[k] = v
			}
			first, pyCookie, resp := py.session(pyReq{Options: cb.options, Set: typedMap(t, written), Save: true})
			if resp.Error != "" || pyCookie == "" {
				t.Fatalf("Beaker wrote no cookie: %+v", resp)
			}

			var view goView
			var flashes []string
			res := app.do(pyCookie, func(s *sesame.Session, r *http.Request) {
				view = viewOf(t, s)
				var err error
				if flashes, err = s.Flashes(); err != nil {
					t.Error(err)
				}
				mustPut(t, s, "count", 2)
				if err := s.Delete("gone"); err != nil {
					t.Error(err)
				}
				if err := s.Flash("from go"); err != nil {
					t.Error(err)
				}
			})
			want := goView{User: "alice", Values: map[string]string{"count": "1", "gone": `"soon"`}}
			for k, v := range keptJSON {
				want.Values[k] = v
			}
			if !reflect.DeepEqual(view, want) {
				t.Fatalf("Go saw\n %#v\nPython wrote\n %#v", view, want)
			}
			if !slices.Equal(flashes, []string{"from python"}) {
				t.Errorf("Go's Flashes = %q", flashes)
			}

			seen, _, resp := py.session(pyReq{Options: cb.options, Cookie: cookieName + "=" + res.value(t)})
			if resp.Error != "" || resp.IsNew {
				t.Fatalf("Beaker did not load Go's cookie: %+v", resp)
			}
			wantPy := map[string]any{"count": int64(2), DefaultUserKey: "alice", DefaultFlashKey: []any{"from go"}}
			for k, v := range kept {
				wantPy[k] = v
			}
			if got := appValues(seen); !reflect.DeepEqual(got, wantPy) {
				t.Errorf("Python read\n %#v\nwant\n %#v", got, wantPy)
			}
			// Beaker's keys are kept, _creation_time to the microsecond.
			orig, err := mustNew(t, cb.cfg).Decode(pyCookie)
			if err != nil {
				t.Fatal(err)
			}
			if ct, _ := seen[keyCreated].(float64); seen[keyID] != first[keyID] || math.Abs(ct-unixFloat(orig.Created)) > 1e-6 {
				t.Errorf("Python read _id %v, _creation_time %v; it wrote %v, %v", seen[keyID], seen[keyCreated], first[keyID], unixFloat(orig.Created))
			}

			// Tampered with: Beaker starts a new session; Go an anonymous one,
			// and clears the cookie.
			seen, _, resp = py.session(pyReq{Options: cb.options, Cookie: cookieName + "=" + tamper(res.value(t))})
			if resp.Error != "" || seen[DefaultUserKey] != nil || seen["count"] != nil || seen[keyID] == first[keyID] {
				t.Errorf("Beaker kept Go's tampered cookie: %v %+v", seen, resp)
			}
			res = app.do(tamper(pyCookie), func(s *sesame.Session, r *http.Request) { view = viewOf(t, s) })
			if view.User != "" || len(view.Values) != 0 || !res.cleared || res.saw(sesame.EventInvalid) == nil {
				t.Errorf("Go served Python's tampered cookie: %+v, cookie %+v, events %v", view, res.cookie, res.events)
			}
		})
	}
}

// onePickleOneJSON are the combinations the longer stories run with: the
// defaults of each serializer's typical deployment.
func onePickleOneJSON(t *testing.T) []combo {
	var out []combo
	for _, cb := range combos() {
		switch cb.name {
		case "crypto_type default, pickle", "crypto_type cryptography, json":
			out = append(out, cb)
		}
	}
	if len(out) != 2 {
		t.Fatalf("combinations not found: %v", out)
	}
	return out
}

// Go starts a session (Put, Flash, Login) that Python reads, with the
// Python types each JSON value becomes; Python's change comes back to Go;
// Renew and Login give the session a new Beaker _id and keep its data;
// RememberMe sets _expires; Destroy clears the cookie.
func TestManagerInteropGoStartsAndLogsIn(t *testing.T) {
	py := startBeaker(t)
	for _, cb := range onePickleOneJSON(t) {
		t.Run(cb.name, func(t *testing.T) {
			app := startGoApp(t, mustNew(t, cb.cfg), sesame.Config{})
			when := time.Date(2031, 7, 8, 9, 10, 11, 0, time.UTC)
			res := app.do("", func(s *sesame.Session, r *http.Request) {
				mustPut(t, s, "text", "héllo")
				mustPut(t, s, "int", 42)
				mustPut(t, s, "float", 2.5)
				mustPut(t, s, "whole float", 3.0)
				mustPut(t, s, "bytes", []byte{1, 2})
				mustPut(t, s, "when", when)
				mustPut(t, s, "nested", map[string]any{"a": []int{1, 2}, "b": nil})
				if err := s.Put("too big", uint64(math.MaxUint64)); !errors.Is(err, ErrInvalidValue) {
					t.Errorf("Put of an int beyond int64 = %v, want ErrInvalidValue", err)
				}
				if err := s.Flash("welcome"); err != nil {
					t.Error(err)
				}
				if err := s.Login("bob"); err != nil {
					t.Error(err)
				}
			})
			if ev := res.saw(sesame.EventCreated); ev == nil || ev.User != "bob" {
				t.Errorf("events %v, want created for bob", res.events)
			}
			seen, pyCookie, resp := py.session(pyReq{Options: cb.options, Cookie: cookieName + "=" + res.value(t),
				Set: typedMap(t, map[string]any{"from python": int64(7)}), Save: true})
			if resp.Error != "" || resp.IsNew {
				t.Fatalf("Beaker did not load Go's cookie: %+v", resp)
			}
			want := map[string]any{
				DefaultUserKey: "bob", DefaultFlashKey: []any{"welcome"},
				"text": "héllo", "int": int64(42), "float": 2.5,
				"whole float": int64(3), // Go's JSON writes 3.0 as 3
				"bytes":       "AQI=",   // base64, as encoding/json writes []byte
				"when":        "2031-07-08T09:10:11Z",
				"nested":      map[string]any{"a": []any{int64(1), int64(2)}, "b": nil},
			}
			if got := appValues(seen); !reflect.DeepEqual(got, want) {
				t.Fatalf("Python read\n %#v\nGo wrote\n %#v", got, want)
			}
			id, _ := seen[keyID].(string)
			if len(id) != 32 {
				t.Errorf("Python read _id %q", id)
			}

			// Python's change, read by Go; then Renew.
			var view goView
			var b []byte
			var at time.Time
			res = app.do(pyCookie, func(s *sesame.Session, r *http.Request) {
				view = viewOf(t, s)
				var err error
				if b, err = sesame.Get[[]byte](s, "bytes"); err != nil {
					t.Error(err)
				}
				if at, err = sesame.Get[time.Time](s, "when"); err != nil {
					t.Error(err)
				}
				if err := s.Renew(); err != nil {
					t.Error(err)
				}
			})
			if view.User != "bob" || view.Values["from python"] != "7" || view.Values["int"] != "42" || len(view.Values) != 8 {
				t.Errorf("Go saw %+v", view)
			}
			if string(b) != "\x01\x02" || !at.Equal(when) {
				t.Errorf("Get[[]byte] = %q, Get[time.Time] = %v", b, at)
			}
			if res.saw(sesame.EventRenewed) == nil {
				t.Errorf("Renew: events %v", res.events)
			}
			renewed, _, resp := py.session(pyReq{Options: cb.options, Cookie: cookieName + "=" + res.value(t)})
			if resp.Error != "" || renewed[keyID] == id || renewed[DefaultUserKey] != "bob" || renewed["from python"] != int64(7) {
				t.Errorf("after Renew Python read %v (_id was %s)", renewed, id)
			}
			if renewed[keyCreated] != seen[keyCreated] {
				t.Errorf("Renew changed _creation_time from %v to %v", seen[keyCreated], renewed[keyCreated])
			}

			// Login as another user: a new _id, a new _creation_time, and
			// the cookie made persistent with RememberMe.
			before := time.Now()
			res = app.do(res.value(t), func(s *sesame.Session, r *http.Request) {
				if err := s.Login("carol"); err != nil {
					t.Error(err)
				}
				if err := s.RememberMe(true); err != nil {
					t.Error(err)
				}
			})
			c := res.cookie
			loggedIn, _, resp := py.session(pyReq{Options: cb.options, Cookie: cookieName + "=" + res.value(t)})
			if resp.Error != "" || loggedIn[keyID] == renewed[keyID] || loggedIn[DefaultUserKey] != "carol" || loggedIn["int"] != int64(42) {
				t.Errorf("after Login Python read %v", loggedIn)
			}
			if ct, _ := loggedIn[keyCreated].(float64); ct < unixFloat(before)-1e-3 {
				t.Errorf("Login kept _creation_time %v", ct)
			}
			deadline := before.Add(sesame.DefaultLifetime)
			if c.Expires.Before(deadline.Add(-time.Second)) || c.Expires.After(time.Now().Add(sesame.DefaultLifetime)) {
				t.Errorf("RememberMe: cookie expires %v, want the absolute deadline", c.Expires)
			}
			if cb.cfg.Serializer == Pickle {
				if exp, ok := loggedIn[keyExpires].(time.Time); !ok || exp.Unix() != c.Expires.Unix() {
					t.Errorf("Python read _expires %v, the cookie expires %v", loggedIn[keyExpires], c.Expires)
				}
			}
			app.mu.Lock()
			logins := slices.Clone(app.loggedIn)
			app.mu.Unlock()
			if !slices.Equal(logins, []string{"bob", "carol"}) {
				t.Errorf("hooks were told of logins %q", logins)
			}

			// Destroy: the cookie is cleared, and the hooks told.
			res = app.do(res.value(t), func(s *sesame.Session, r *http.Request) {
				if err := s.Destroy(); err != nil {
					t.Error(err)
				}
			})
			if !res.cleared || res.cookie.Path != "/" {
				t.Errorf("Destroy: cookie %+v", res.cookie)
			}
			app.mu.Lock()
			logouts := slices.Clone(app.loggedOut)
			app.mu.Unlock()
			if !slices.Equal(logouts, []string{"carol"}) {
				t.Errorf("hooks were told of logouts %q", logouts)
			}
		})
	}
}

// Expired sessions are refused on both sides: by the codec (Beaker's
// timeout), by the Manager's own deadlines (IdleTimeout and Lifetime),
// and by Beaker for a session Go wrote. Python's clock is moved instead
// of waiting.
func TestManagerInteropExpiredBothWays(t *testing.T) {
	const timeout = time.Minute
	py := startBeaker(t)
	for _, cb := range onePickleOneJSON(t) {
		t.Run(cb.name, func(t *testing.T) {
			values := typedMap(t, map[string]any{DefaultUserKey: "alice", "n": int64(1)})
			pyAt := func(offset time.Duration) string {
				t.Helper()
				_, c, resp := py.session(pyReq{Options: cb.options, Set: values, Save: true, ClockOffset: offset.Seconds()})
				if resp.Error != "" || c == "" {
					t.Fatalf("Beaker wrote no cookie: %+v", resp)
				}
				return c
			}
			served := func(app *goApp, cookie string) (goView, goResult) {
				t.Helper()
				var view goView
				res := app.do(cookie, func(s *sesame.Session, r *http.Request) { view = viewOf(t, s) })
				return view, res
			}
			refused := func(what string, view goView, res goResult, kind sesame.EventKind, user string) {
				t.Helper()
				ev := res.saw(kind)
				if view.User != "" || len(view.Values) != 0 || !res.cleared || ev == nil || ev.User != user {
					t.Errorf("%s: Go saw %+v, cookie %+v, events %v", what, view, res.cookie, res.events)
				}
			}

			// Beaker's timeout, which the codec checks as Beaker does.
			withTimeout := cb.cfg
			withTimeout.Timeout = timeout
			app := startGoApp(t, mustNew(t, withTimeout), sesame.Config{IdleTimeout: timeout})
			if view, _ := served(app, pyAt(-timeout/2)); view.User != "alice" {
				t.Errorf("Go refused a session idle for half the timeout: %+v", view)
			}
			view, res := served(app, pyAt(-2*timeout))
			refused("idle past Beaker's timeout", view, res, sesame.EventInvalid, "")

			// The Manager's idle deadline, with no timeout in the codec: the
			// hooks hear that alice's session ended.
			app = startGoApp(t, mustNew(t, cb.cfg), sesame.Config{IdleTimeout: timeout})
			view, res = served(app, pyAt(-2*timeout))
			refused("idle past IdleTimeout", view, res, sesame.EventExpired, "alice")
			app.mu.Lock()
			logouts := slices.Clone(app.loggedOut)
			app.mu.Unlock()
			if !slices.Equal(logouts, []string{"alice"}) {
				t.Errorf("hooks were told of logouts %q", logouts)
			}

			// The Manager's absolute deadline: begun three hours ago, used
			// just now.
			app = startGoApp(t, mustNew(t, cb.cfg), sesame.Config{IdleTimeout: time.Hour, Lifetime: 2 * time.Hour})
			_, used, resp := py.session(pyReq{Options: cb.options, Cookie: cookieName + "=" + pyAt(-3*time.Hour), Save: true})
			if resp.Error != "" {
				t.Fatal(resp.Error)
			}
			view, res = served(app, used)
			refused("past Lifetime", view, res, sesame.EventExpired, "alice")

			// Beaker refuses a session Go wrote once it has been idle past
			// Beaker's timeout, and keeps it before.
			app = startGoApp(t, mustNew(t, withTimeout), sesame.Config{IdleTimeout: timeout})
			goCookie := app.do("", func(s *sesame.Session, r *http.Request) {
				mustPut(t, s, "n", 1)
				if err := s.Login("alice"); err != nil {
					t.Error(err)
				}
			}).value(t)
			options := cb.with(map[string]any{"timeout": int(timeout / time.Second)})
			seen, _, resp := py.session(pyReq{Options: options, Cookie: cookieName + "=" + goCookie, ClockOffset: (timeout / 2).Seconds()})
			if resp.Error != "" || seen[DefaultUserKey] != "alice" {
				t.Errorf("Beaker dropped Go's session within the timeout: %v %+v", seen, resp)
			}
			seen, _, resp = py.session(pyReq{Options: options, Cookie: cookieName + "=" + goCookie, ClockOffset: (2 * timeout).Seconds()})
			if resp.Error != "" || seen[DefaultUserKey] != nil || seen["n"] != nil {
				t.Errorf("Beaker kept Go's session past the timeout: %v %+v", seen, resp)
			}
		})
	}
}

// comboNamed returns the combination of that name.
func comboNamed(t *testing.T, name string) combo {
	t.Helper()
	for _, cb := range combos() {
		if cb.name == name {
			return cb
		}
	}
	t.Fatalf("no combination %q", name)
	return combo{}
}

// A Go handler grows a session until Put refuses it with ErrTooLarge; the
// session as it stood before, the largest Go writes, must load in Beaker,
// which writes every session it loads again at once and raises when that
// is over its limit. Sessions of several shapes, with both serializers.
func TestManagerInteropLargestSessionLoadsInBeaker(t *testing.T) {
	py := startBeaker(t)
	rnd := mathrand.New(mathrand.NewPCG(1, 2))
	text := func(n int) string {
		const alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 žluťoučký kůň úpěl 😀 \"<>&\n"
		r := []rune(alphabet)
		out := make([]rune, n)
		for i := range out {
			out[i] = r[rnd.IntN(len(r))]
		}
		return string(out)
	}
	shapes := []struct {
		name string
		grow func(i int) (string, any) // the i-th change
	}{
		{"many keys", func(i int) (string, any) { return fmt.Sprintf("clé %d", i), text(20) }},
		{"one long string", func(i int) (string, any) { return "text", text(40 * i) }},
		{"a list of ints", func(i int) (string, any) {
			ints := make([]int, 30*i)
			for j := range ints {
				ints[j] = rnd.IntN(100000)
			}
			return "ints", ints
		}},
		{"nested", func(i int) (string, any) {
			return "d" + strconv.Itoa(i), map[string]any{"a": []any{i, "x", 1.5, true}, "b": map[string]any{"c": nil, "é": text(5)}}
		}},
	}
	for _, name := range []string{"crypto_type default, pickle", "signed only, json", "crypto_type cryptography, json"} {
		cb := comboNamed(t, name)
		app := startGoApp(t, mustNew(t, cb.cfg), sesame.Config{})
		for _, shape := range shapes {
			t.Run(name+", "+shape.name, func(t *testing.T) {
				var refused error
				keys := map[string]bool{}
				res := app.do("", func(s *sesame.Session, r *http.Request) {
					for i := 0; i < 400; i++ {
						k, v := shape.grow(i)
						if refused = s.Put(k, v); refused != nil {
							return
						}
						keys[k] = true
					}
				})
				if !errors.Is(refused, sesame.ErrTooLarge) {
					t.Fatalf("growing the session: %v, want sesame.ErrTooLarge", refused)
				}
				seen, _, resp := py.session(pyReq{Options: cb.options, Cookie: cookieName + "=" + res.value(t), Save: true})
				if resp.Error != "" || resp.IsNew || len(appValues(seen)) != len(keys) {
					t.Fatalf("Beaker did not load the largest session Go writes: %d keys of %d, %+v", len(appValues(seen)), len(keys), resp)
				}
			})
		}
	}
}

// What the Manager refuses of a Beaker session: Beaker's own keys, and
// the user and flash keys written with Put; revocation. Keys the Session
// API cannot name pass through a Go write untouched. A session Python
// wrote that is too large for Go to write again is still read, and a
// request that only reads it succeeds, without extending it.
func TestManagerInteropRefusals(t *testing.T) {
	py := startBeaker(t)
	cb := comboNamed(t, "crypto_type default, pickle")
	app := startGoApp(t, mustNew(t, cb.cfg), sesame.Config{})
	unnamable := map[string]any{"": "empty key", strings.Repeat("k", 300): "long key", "\x00nul": "NUL"}
	values := map[string]any{DefaultUserKey: "alice", "n": int64(1)}
	for k, v := range unnamable {
		values[k] = v
	}
	_, pyCookie, resp := py.session(pyReq{Options: cb.options, Set: typedMap(t, values), Save: true})
	if resp.Error != "" {
		t.Fatal(resp.Error)
	}
	var view goView
	res := app.do(pyCookie, func(s *sesame.Session, r *http.Request) {
		view = viewOf(t, s)
		mustPut(t, s, "n", 2)
		for _, k := range []string{"_id", "_creation_time", DefaultUserKey, DefaultFlashKey} {
			if err := s.Put(k, "mallory"); !errors.Is(err, ErrInvalidValue) {
				t.Errorf("Put(%q) = %v, want ErrInvalidValue", k, err)
			}
		}
		if err := app.m.RevokeAll(r.Context(), "alice"); !errors.Is(err, sesame.ErrNoRevocations) {
			t.Errorf("RevokeAll = %v, want ErrNoRevocations", err)
		}
		if err := app.m.RevokeOthers(r.Context()); !errors.Is(err, sesame.ErrNoRevocations) {
			t.Errorf("RevokeOthers = %v, want ErrNoRevocations", err)
		}
	})
	if view.User != "alice" || len(view.Values) != 1 || view.Values["n"] != "1" {
		t.Errorf("Go saw %+v: the keys it cannot name should be hidden", view)
	}
	seen, _, resp := py.session(pyReq{Options: cb.options, Cookie: cookieName + "=" + res.value(t)})
	if resp.Error != "" || resp.IsNew {
		t.Fatalf("Beaker did not load Go's cookie: %+v", resp)
	}
	want := map[string]any{DefaultUserKey: "alice", "n": int64(2)}
	for k, v := range unnamable {
		want[k] = v
	}
	if got := appValues(seen); !reflect.DeepEqual(got, want) {
		t.Errorf("Python read %d keys, want %d: the keys Go cannot name must come back", len(got), len(want))
	}

	// Python fills its cookie, ten minutes ago; the idle deadline is due
	// to be extended, which Go cannot write: the read succeeds anyway.
	_, full, resp := py.session(pyReq{Options: cb.options, Save: true, ClockOffset: -600,
		Set: typedMap(t, map[string]any{DefaultUserKey: "alice", "big": strings.Repeat("x", 2800)})})
	if resp.Error != "" {
		t.Fatal(resp.Error)
	}
	var big string
	var putErr error
	res = app.do(full, func(s *sesame.Session, r *http.Request) {
		big, _ = sesame.Get[string](s, "big")
		putErr = s.Put("more", 1)
	})
	if len(big) != 2800 || res.cookie != nil || !errors.Is(putErr, sesame.ErrTooLarge) {
		t.Errorf("Go read %d bytes, set cookie %+v, Put = %v; want 2800, none, ErrTooLarge", len(big), res.cookie, putErr)
	}
}
