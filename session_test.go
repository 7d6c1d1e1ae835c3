package sesame_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

func TestAnonymousVisitorCostsNothing(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if _, err := sesame.Get[string](s, "name"); !errors.Is(err, sesame.ErrNoValue) {
			t.Errorf("Get on empty session: %v, want ErrNoValue", err)
		}
		if s.User() != "" {
			t.Error("anonymous session has a user")
		}
	})
	if got := rec.Header().Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("Set-Cookie for an anonymous reader: %q", got)
	}
	if e.store.calls() != 0 {
		t.Errorf("store calls = %d, want 0", e.store.calls())
	}
	if rec.Header().Get("Vary") != "Cookie" {
		t.Errorf("Vary = %q, want Cookie: the response depends on the session", rec.Header().Get("Vary"))
	}
}

func TestUntouchedSessionIsNotLoaded(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	cookie := e.newSession("a", 1)
	before := e.store.calls()
	rec := e.do(cookie, func(*sesame.Session, http.ResponseWriter, *http.Request) {})
	if e.store.calls() != before {
		t.Error("a handler that never touched the session caused store calls")
	}
	if rec.Header().Get("Vary") != "" || len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Errorf("untouched session changed headers: %v", rec.Header())
	}
}

func TestCookieDefaults(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("a", 1) })
	lines := rec.Header().Values("Set-Cookie")
	if len(lines) != 1 {
		t.Fatalf("Set-Cookie lines = %q, want exactly one", lines)
	}
	line := lines[0]
	for _, want := range []string{"__Host-session=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(line, want) {
			t.Errorf("Set-Cookie %q lacks %q", line, want)
		}
	}
	for _, unwanted := range []string{"Domain=", "Expires=", "Max-Age="} {
		if strings.Contains(line, unwanted) {
			t.Errorf("Set-Cookie %q has %q: the default cookie is host-only and ends with the browser session", line, unwanted)
		}
	}
	if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "private") {
		t.Errorf("Cache-Control = %q: a response setting the cookie must stay out of shared caches", cc)
	}
	if len(strings.TrimPrefix(strings.SplitN(line, ";", 2)[0], "__Host-session=")) != 43 {
		t.Errorf("cookie value is not a 43-character id: %q", line)
	}
}

func TestPutThenGetOnNextRequest(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	type cart struct {
		Items []string `json:"items"`
		Total float64  `json:"total"`
	}
	want := cart{Items: []string{"apple", "pear"}, Total: 3.5}
	cookie := e.newSession("cart", want)
	got, err := get[cart](e, cookie, "cart")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
	}
	saves := e.store.saves.Load()
	rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		sesame.Get[cart](s, "cart")
	})
	if e.store.saves.Load() != saves {
		t.Error("a read-only request saved the session")
	}
	if len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Error("a read-only request set a cookie")
	}
}

func TestValuesAPI(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	cookie := e.newSession("s", "hello")
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		tests := []struct {
			key   string
			value any
		}{
			{"str", "plain"},
			{"escaped", "quote \" and <tag> and é"},
			{"int", 42},
			{"neg", int64(-7)},
			{"bool", true},
			{"float", 2.5},
			{"slice", []int{1, 2}},
			{"map", map[string]string{"k": "v"}},
		}
		for _, tc := range tests {
			if err := s.Put(tc.key, tc.value); err != nil {
				t.Fatalf("Put(%q): %v", tc.key, err)
			}
		}
		if v, err := sesame.Get[string](s, "escaped"); err != nil || v != "quote \" and <tag> and é" {
			t.Errorf("Get escaped = %q, %v", v, err)
		}
		if v, err := sesame.Get[int](s, "int"); err != nil || v != 42 {
			t.Errorf("Get int = %v, %v", v, err)
		}
		if _, err := sesame.Get[int](s, "str"); err == nil {
			t.Error("Get[int] of a string value succeeded")
		}
		if err := s.Put("bad", make(chan int)); err == nil {
			t.Error("Put of a channel succeeded")
		}
		for _, k := range []string{"", "\x00x", strings.Repeat("k", 256)} {
			if err := s.Put(k, 1); !errors.Is(err, sesame.ErrBadKey) {
				t.Errorf("Put(%q) = %v, want ErrBadKey", k, err)
			}
		}
		v, err := sesame.Pop[string](s, "str")
		if err != nil || v != "plain" {
			t.Errorf("Pop = %q, %v", v, err)
		}
		if _, err := sesame.Get[string](s, "str"); !errors.Is(err, sesame.ErrNoValue) {
			t.Errorf("Get after Pop: %v", err)
		}
		s.Delete("neg")
	})
	keys, _ := func() ([]string, error) {
		var k []string
		var err error
		e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { k, err = s.Keys() })
		return k, err
	}()
	want := []string{"s", "escaped", "int", "bool", "float", "slice", "map"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("Keys = %q, want %q", keys, want)
	}
	if v, err := get[map[string]string](e, cookie, "map"); err != nil || v["k"] != "v" {
		t.Errorf("map after reload = %v, %v", v, err)
	}
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Clear() })
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if k, _ := s.Keys(); len(k) != 0 {
			t.Errorf("Keys after Clear = %q", k)
		}
	})
}

func TestFlashes(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		s.Flash("Saved.")
		s.Flash("Welcome!")
	})
	cookie := sessionCookie(rec).Value
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Flash("Third") })
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		msgs, err := s.Flashes()
		if err != nil || !reflect.DeepEqual(msgs, []string{"Saved.", "Welcome!", "Third"}) {
			t.Errorf("Flashes = %q, %v", msgs, err)
		}
		if k, _ := s.Keys(); len(k) != 0 {
			t.Errorf("flash storage shows in Keys: %q", k)
		}
	})
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if msgs, err := s.Flashes(); err != nil || len(msgs) != 0 {
			t.Errorf("Flashes after reading them = %q, %v", msgs, err)
		}
	})
}

func TestFromContextWithoutMiddleware(t *testing.T) {
	s, err := sesame.FromContext(context.Background())
	if s != nil || !errors.Is(err, sesame.ErrNoSession) {
		t.Fatalf("FromContext = %v, %v; want nil, ErrNoSession", s, err)
	}
}

func TestBadCookiesGiveAFreshSessionWithoutStoreCalls(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	valid := e.newSession("a", 1)
	other := e.newSession("b", 2)
	tests := []struct {
		name   string
		header []string
	}{
		{"garbage", []string{"__Host-session=%%%garbage"}},
		{"wrong length", []string{"__Host-session=" + valid[:20]}},
		{"wrong alphabet", []string{"__Host-session=" + strings.Repeat("+", 43)}},
		{"two different ids", []string{"__Host-session=" + valid + "; __Host-session=" + other}},
		{"oversized", []string{"__Host-session=" + strings.Repeat("A", 64<<10)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.store.calls()
			req := httptest.NewRequest("GET", "/", nil)
			req.Header["Cookie"] = tc.header
			rec := httptest.NewRecorder()
			e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, _ := sesame.FromContext(r.Context())
				if k, err := s.Keys(); err != nil || len(k) != 0 {
					t.Errorf("bad cookie gave keys %q, %v", k, err)
				}
			})).ServeHTTP(rec, req)
			if e.store.calls() != before {
				t.Error("a malformed cookie reached the store")
			}
			c := sessionCookie(rec)
			if c == nil || c.MaxAge >= 0 {
				t.Errorf("bad cookie not cleared: %q", rec.Header().Values("Set-Cookie"))
			}
		})
	}
	if !e.sawEvent(sesame.EventInvalid) {
		t.Error("no EventInvalid")
	}
}

func TestUnknownIDIsNeverAdopted(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	planted := strings.Repeat("A", 43) // well-formed, but no such session
	rec := e.do(planted, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("k", "v") })
	c := sessionCookie(rec)
	if c == nil || c.Value == planted || c.Value == "" {
		t.Fatalf("cookie after writing to an unknown id = %+v; want a fresh id", c)
	}
	if _, err := get[string](e, planted, "k"); !errors.Is(err, sesame.ErrNoValue) {
		t.Fatal("the planted id became a session (fixation)")
	}
}

func TestIdleAndAbsoluteDeadlines(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // time between requests that use the session
		alive bool
	}{
		{"used within idle timeout", []time.Duration{29 * time.Minute}, true},
		{"idle too long", []time.Duration{31 * time.Minute}, false},
		{"kept busy until the absolute deadline", repeat(25*time.Minute, 29), false}, // 12h05m
		{"kept busy just under the absolute deadline", repeat(25*time.Minute, 28), true},
	}
	// Once with a store that forgets records at their deadline, once with
	// one that keeps them, where only the Manager's own checks stand
	// between an expired session and the handler.
	for _, keep := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/store keeps expired=%v", tc.name, keep), func(t *testing.T) {
				var wrap func(sesame.Store) sesame.Store
				if keep {
					wrap = keepExpired
				}
				e := newEnvWrapping(t, sesame.Config{}, wrap)
				cookie := e.newSession("k", "v")
				var err error
				for _, d := range tc.steps {
					e.clock.Advance(d)
					_, err = get[string](e, cookie, "k")
				}
				if alive := err == nil; alive != tc.alive {
					t.Fatalf("alive = %v (last Get: %v), want %v", alive, err, tc.alive)
				}
				if keep && !tc.alive && !e.sawEvent(sesame.EventExpired) {
					t.Error("no EventExpired")
				}
			})
		}
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestExpiredSessionIsClearedAndNeverRevived(t *testing.T) {
	e := newEnvWrapping(t, sesame.Config{}, keepExpired)
	cookie := e.newSession("k", "v")
	e.clock.Advance(31 * time.Minute)
	rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if _, err := sesame.Get[string](s, "k"); !errors.Is(err, sesame.ErrNoValue) {
			t.Errorf("expired session still has data: %v", err)
		}
	})
	if c := sessionCookie(rec); c == nil || c.MaxAge >= 0 {
		t.Errorf("expired cookie not cleared: %q", rec.Header().Values("Set-Cookie"))
	}
	e.clock.Advance(-31 * time.Minute) // even if the clock goes back, it is gone
	if _, err := get[string](e, cookie, "k"); err == nil {
		t.Fatal("expired session revived")
	}
}

func TestTouchExtendsIdleDeadlineRarely(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	cookie := e.newSession("k", "v")
	saves := e.store.saves.Load()
	e.clock.Advance(time.Minute) // under IdleTimeout/20 = 90s: no write
	get[string](e, cookie, "k")
	if e.store.saves.Load() != saves {
		t.Fatal("read-only request wrote before the touch interval")
	}
	e.clock.Advance(time.Minute) // 2 min since the last save: one write
	get[string](e, cookie, "k")
	if e.store.saves.Load() != saves+1 {
		t.Fatalf("saves = %d, want one touch", e.store.saves.Load()-saves)
	}
	// Without the touch, 31 minutes after creation the session would be gone.
	e.clock.Advance(29 * time.Minute)
	if _, err := get[string](e, cookie, "k"); err != nil {
		t.Fatalf("touched session expired: %v", err)
	}
}

func TestRenewOfAnAnonymousVisitorCreatesNothing(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Renew() })
	if e.store.calls() != 0 || len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Fatalf("Renew without a session: %d store calls, Set-Cookie %q", e.store.calls(), rec.Header().Values("Set-Cookie"))
	}
}

func TestRenewKeepsDataAndKillsTheOldID(t *testing.T) {
	renewPaths(t, testRenewKeepsDataAndKillsTheOldID)
}

func testRenewKeepsDataAndKillsTheOldID(t *testing.T, wrap func(sesame.Store) sesame.Store) {
	e := newEnvWrapping(t, sesame.Config{}, wrap)
	old := e.newSession("k", "v")
	rec := e.do(old, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Renew() })
	c := sessionCookie(rec)
	if c == nil || c.Value == old {
		t.Fatalf("Renew did not set a new id: %v", rec.Header().Values("Set-Cookie"))
	}
	if v, err := get[string](e, c.Value, "k"); err != nil || v != "v" {
		t.Fatalf("renewed session lost data: %q, %v", v, err)
	}
	if _, err := get[string](e, old, "k"); err == nil {
		t.Fatal("old id still works after Renew")
	}
	if !e.sawEvent(sesame.EventRenewed) {
		t.Error("no EventRenewed")
	}
}

func TestLoginRenewsAndBindsUser(t *testing.T) {
	renewPaths(t, testLoginRenewsAndBindsUser)
}

func testLoginRenewsAndBindsUser(t *testing.T, wrap func(sesame.Store) sesame.Store) {
	e := newEnvWrapping(t, sesame.Config{}, wrap)
	anon := e.newSession("cart", []string{"apple"})
	e.clock.Advance(20 * time.Minute)
	var created time.Time
	rec := e.do(anon, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Login("alice"); err != nil {
			t.Fatal(err)
		}
		if s.User() != "alice" {
			t.Errorf("User() right after Login = %q", s.User())
		}
	})
	c := sessionCookie(rec)
	if c == nil || c.Value == anon {
		t.Fatal("Login did not renew the id")
	}
	e.do(c.Value, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if s.User() != "alice" {
			t.Errorf("User() = %q", s.User())
		}
		info := s.Info()
		created = info.Created
		if v, err := sesame.Get[[]string](s, "cart"); err != nil || len(v) != 1 {
			t.Errorf("Login lost the cart: %v, %v", v, err)
		}
		if want := created.Add(sesame.DefaultLifetime); !info.Deadline.Equal(want) {
			t.Errorf("Deadline = %v, want %v", info.Deadline, want)
		}
		if want := e.clock.Now().Add(sesame.DefaultIdleTimeout); !info.IdleDeadline.Equal(want) {
			t.Errorf("IdleDeadline = %v, want %v", info.IdleDeadline, want)
		}
	})
	if !created.Equal(e.clock.Now()) {
		t.Errorf("Created = %v; Login should restart the clock at %v", created, e.clock.Now())
	}
	if _, err := get[[]string](e, anon, "cart"); err == nil {
		t.Fatal("pre-login id still valid (fixation)")
	}
	for _, bad := range []string{"", "a\x00b", strings.Repeat("u", 256)} {
		e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
			if err := s.Login(bad); !errors.Is(err, sesame.ErrBadUser) {
				t.Errorf("Login(%q) = %v", bad, err)
			}
		})
	}
}

func TestDestroyEndsTheSession(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	cookie := e.newSession("k", "v")
	rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Destroy() })
	if c := sessionCookie(rec); c == nil || c.MaxAge >= 0 {
		t.Errorf("cookie not cleared: %q", rec.Header().Values("Set-Cookie"))
	}
	if _, err := get[string](e, cookie, "k"); err == nil {
		t.Fatal("session alive after Destroy")
	}
}

func TestDestroyThenPutStartsANewSession(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	old := e.newSession("secret", "x")
	rec := e.do(old, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		s.Destroy()
		s.Flash("You have logged out.")
	})
	lines := rec.Header().Values("Set-Cookie")
	c := sessionCookie(rec)
	if len(lines) != 1 || c == nil || c.Value == old || c.MaxAge < 0 {
		t.Fatalf("Set-Cookie = %q; want one new id", lines)
	}
	e.do(c.Value, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if _, err := sesame.Get[string](s, "secret"); err == nil {
			t.Error("data survived Destroy")
		}
		if msgs, _ := s.Flashes(); len(msgs) != 1 {
			t.Errorf("flash after logout = %q", msgs)
		}
	})
}

func TestRememberMe(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		s.Login("bob")
		s.RememberMe(true)
	})
	c := sessionCookie(rec)
	if c == nil || c.Expires.IsZero() {
		t.Fatalf("remember-me cookie is not persistent: %q", rec.Header().Values("Set-Cookie"))
	}
	if want := e.clock.Now().Add(sesame.DefaultLifetime); !c.Expires.Equal(want) {
		t.Errorf("Expires = %v, want the absolute deadline %v", c.Expires, want)
	}
	rec = e.do(c.Value, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.RememberMe(false) })
	c2 := sessionCookie(rec)
	if c2 == nil || c2.Value != c.Value || !c2.Expires.IsZero() {
		t.Errorf("RememberMe(false) cookie = %q", rec.Header().Values("Set-Cookie"))
	}
}

// TestManyKeysRoundTrip crosses the record's one-byte key count.
func TestManyKeysRoundTrip(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	cookie := e.newSession("k000", 0)
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		for i := 1; i < 200; i++ {
			s.Put(fmt.Sprintf("k%03d", i), i)
		}
	})
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		keys, err := s.Keys()
		if err != nil || len(keys) != 200 {
			t.Fatalf("Keys = %d keys, %v; want 200", len(keys), err)
		}
		for i := range 200 {
			if v, err := sesame.Get[int](s, fmt.Sprintf("k%03d", i)); err != nil || v != i {
				t.Errorf("k%03d = %v, %v", i, v, err)
			}
		}
	})
}

// TestLoginWithRenewerIsOneWrite counts the store calls of a Login: with a
// store that is a sesame.Renewer, the request loads the session and moves
// it in one call; without, it marks the old record dead, saves the new one
// and deletes the old.
func TestLoginWithRenewerIsOneWrite(t *testing.T) {
	tests := []struct {
		name                          string
		wrap                          func(sesame.Store) sesame.Store
		loads, saves, deletes, renews int64
	}{
		{"Renewer", func(s sesame.Store) sesame.Store { return renewingStore{s.(*countingStore)} }, 1, 0, 0, 1},
		{"ThreeCalls", nil, 1, 2, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWrapping(t, sesame.Config{}, tc.wrap)
			anon := e.newSession("cart", "apple")
			counts := func() [4]int64 {
				return [4]int64{e.store.loads.Load(), e.store.saves.Load(), e.store.deletes.Load(), e.store.renews.Load()}
			}
			before := counts()
			rec := e.do(anon, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Login("alice") })
			if c := sessionCookie(rec); c == nil || c.Value == anon {
				t.Fatalf("Login set no new id: %v", rec.Header().Values("Set-Cookie"))
			}
			got := counts()
			for i := range got {
				got[i] -= before[i]
			}
			if want := [4]int64{tc.loads, tc.saves, tc.deletes, tc.renews}; got != want {
				t.Fatalf("Login made %v loads, saves, deletes, renews; want %v", got, want)
			}
		})
	}
}
