package sesame_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/seal"
	"github.com/sesame-go/sesame/store/memstore"
)

func newRing(t testing.TB, keys ...string) *seal.KeyRing {
	t.Helper()
	r, err := seal.ParseKeyRing(strings.Join(keys, ","))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func genKey(t testing.TB) string {
	t.Helper()
	k, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newSealedEnv(t *testing.T, ring *seal.KeyRing, revocations sesame.Store) *env {
	return newEnv(t, sesame.Config{Seal: ring, Revocations: revocations})
}

func TestSealedRoundTripWithoutAStore(t *testing.T) {
	e := newSealedEnv(t, newRing(t, genKey(t)), nil)
	cookie := e.newSession("cart", []string{"apple", "pear"})
	if e.store.calls() != 0 {
		t.Fatal("a sealed session used the store")
	}
	if v, err := get[[]string](e, cookie, "cart"); err != nil || len(v) != 2 {
		t.Fatalf("Get = %v, %v", v, err)
	}
	rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { sesame.Get[[]string](s, "cart") })
	if len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Error("a read-only request re-sealed the cookie")
	}
	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("n", 1) })
	c := sessionCookie(rec)
	if c == nil || c.Value == cookie || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("write did not re-seal with the cookie policy: %q", rec.Header().Values("Set-Cookie"))
	}
	if v, err := get[int](e, c.Value, "n"); err != nil || v != 1 {
		t.Fatalf("after write: %v, %v", v, err)
	}
}

func TestSealedTokenSize(t *testing.T) {
	ring := newRing(t, genKey(t))
	e := newSealedEnv(t, ring, nil)
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		s.Login("user-12345")
		s.Put("name", "Alice Example")
		s.Put("theme", "dark")
		s.Put("cart", []int{101, 202, 303})
		s.Put("visits", 42)
		s.Put("recent", []string{"/products/12345", "/products/67890", "/cart", "/checkout/address", "/help/shipping"})
		s.Put("csrf", "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5")
	})
	c := sessionCookie(rec)
	record, _, err := ring.Open(sesame.DefaultCookieName, c.Value)
	if err != nil {
		t.Fatal(err)
	}
	if limit := 1.4*float64(len(record)) + 40; float64(len(c.Value)) > limit {
		t.Fatalf("token of %d bytes for a %d-byte record; want ≤ %.0f", len(c.Value), len(record), limit)
	}
	if len(record) < 250 {
		t.Fatalf("record of %d bytes; the target is stated for about 300", len(record))
	}
	t.Logf("%d-byte record, %d-byte cookie value", len(record), len(c.Value))
}

func TestSealedBadTokensGiveAFreshSession(t *testing.T) {
	key := genKey(t)
	e := newSealedEnv(t, newRing(t, key), nil)
	good := e.newSession("k", "v")
	other := newRing(t, key)
	foreign, _ := other.Seal("other-cookie", []byte("whatever"))
	flipped := []byte(good)
	flipped[len(flipped)/2] ^= 1
	if flipped[len(flipped)/2] == '-' || flipped[len(flipped)/2] == '_' {
		flipped[len(flipped)/2] = 'A'
	}
	tests := []struct{ name, value string }{
		{"bit flip", string(flipped)},
		{"truncated", good[:len(good)-3]},
		{"sealed for another cookie", foreign},
		{"garbage", "not-a-token"},
		{"under an unknown key", func() string { v, _ := newRing(t, genKey(t)).Seal(sesame.DefaultCookieName, []byte{1}); return v }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(tc.value, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if k, err := s.Keys(); err != nil || len(k) != 0 {
					t.Errorf("keys = %q, %v", k, err)
				}
			})
			if c := sessionCookie(rec); c == nil || c.MaxAge >= 0 {
				t.Errorf("bad token not cleared: %q", rec.Header().Values("Set-Cookie"))
			}
		})
	}
}

func TestSealedKeyRotation(t *testing.T) {
	oldKey, newKey := genKey(t), genKey(t)
	e := newSealedEnv(t, newRing(t, oldKey), nil)
	cookie := e.newSession("k", "v")

	rotated := newSealedEnv(t, newRing(t, newKey, oldKey), nil)
	rotated.clock = e.clock
	sesame.SetClock(rotated.m, e.clock.Now)
	if v, err := get[string](rotated, cookie, "k"); err != nil || v != "v" {
		t.Fatalf("old-key session unreadable after rotation: %q, %v", v, err)
	}
	rec := rotated.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("k2", 2) })
	resealed := sessionCookie(rec).Value

	retired := newSealedEnv(t, newRing(t, newKey), nil)
	sesame.SetClock(retired.m, e.clock.Now)
	if v, err := get[string](retired, resealed, "k"); err != nil || v != "v" {
		t.Fatalf("re-sealed token does not open under the new key alone: %q, %v", v, err)
	}
	if _, err := get[string](retired, cookie, "k"); err == nil {
		t.Fatal("a token under a retired key still opens")
	}
}

func TestSealedDeadlinesInsideTheSealCount(t *testing.T) {
	e := newSealedEnv(t, newRing(t, genKey(t)), nil)
	cookie := e.newSession("k", "v")
	e.clock.Advance(31 * time.Minute)
	// The browser would have kept a persistent cookie; a replayed copy
	// must still be refused because the idle deadline is inside the seal.
	if _, err := get[string](e, cookie, "k"); err == nil {
		t.Fatal("idle-expired sealed session accepted")
	}
	if !e.sawEvent(sesame.EventExpired) {
		t.Error("no EventExpired")
	}

	// Touched often, it still ends at the absolute deadline.
	cookie = e.newSession("k", "v")
	for range 30 {
		e.clock.Advance(25 * time.Minute)
		rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { sesame.Get[string](s, "k") })
		if c := sessionCookie(rec); c != nil && c.MaxAge >= 0 {
			cookie = c.Value // the touch re-sealed the session
		}
	}
	if _, err := get[string](e, cookie, "k"); err == nil {
		t.Fatal("sealed session outlived its absolute deadline")
	}
}

// A value that would make the sealed cookie too large is refused by Put
// itself: the handler learns it at once, the response is not a 500, and
// the browser keeps its previous cookie, which still holds the previous
// state. Values that fit still go in, in the same request.
func TestSealedPutTooLargeIsRefusedAtPut(t *testing.T) {
	e := newSealedEnv(t, newRing(t, genKey(t)), nil)
	cookie := e.newSession("k", "v")
	rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Put("big", strings.Repeat("x", 4000)); !errors.Is(err, sesame.ErrTooLarge) {
			t.Errorf("Put of 4000 bytes = %v; want ErrTooLarge", err)
		}
		if err := s.Flash(strings.Repeat("y", 4000)); !errors.Is(err, sesame.ErrTooLarge) {
			t.Errorf("Flash of 4000 bytes = %v; want ErrTooLarge", err)
		}
		if _, err := sesame.Get[string](s, "big"); !errors.Is(err, sesame.ErrNoValue) {
			t.Errorf("a refused value is visible: %v", err)
		}
		if msgs, _ := s.Flashes(); len(msgs) != 0 {
			t.Errorf("a refused flash is visible: %d", len(msgs))
		}
		w.Write([]byte("ok"))
	})
	if rec.Code != http.StatusOK || sessionCookie(rec) != nil || len(e.errors()) != 0 {
		t.Fatalf("response %d, cookie %v, errors %v; want 200, the previous cookie kept, no error",
			rec.Code, sessionCookie(rec), e.errors())
	}
	if v, err := get[string](e, cookie, "k"); err != nil || v != "v" {
		t.Fatalf("previous cookie after a refused Put: %q, %v", v, err)
	}
	if _, err := get[string](e, cookie, "big"); !errors.Is(err, sesame.ErrNoValue) {
		t.Fatalf("the refused value was saved: %v", err)
	}

	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Put("big", strings.Repeat("x", 4000)); !errors.Is(err, sesame.ErrTooLarge) {
			t.Errorf("Put of 4000 bytes = %v; want ErrTooLarge", err)
		}
		if err := s.Put("k2", strings.Repeat("w", 2000)); err != nil {
			t.Errorf("Put that fits after a refused one: %v", err)
		}
	})
	c := sessionCookie(rec)
	if c == nil || len(e.errors()) != 0 {
		t.Fatalf("cookie %v, errors %v", c, e.errors())
	}
	if v, err := get[string](e, c.Value, "k2"); err != nil || len(v) != 2000 {
		t.Fatalf("the value that fits: %d bytes, %v", len(v), err)
	}
	if v, err := get[string](e, c.Value, "k"); err != nil || v != "v" {
		t.Fatalf("earlier value: %q, %v", v, err)
	}
}

// Many values that fit one by one are refused from the one that would
// overflow, whatever their number; what was accepted is saved.
func TestSealedManySmallPutsStopAtTheLimit(t *testing.T) {
	e := newSealedEnv(t, newRing(t, genKey(t)), nil)
	accepted := 0
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		for i := 0; ; i++ {
			err := s.Put(fmt.Sprintf("key-%d", i), strings.Repeat("v", 40))
			if errors.Is(err, sesame.ErrTooLarge) {
				break
			}
			if err != nil || i > 200 {
				t.Fatalf("Put %d: %v", i, err)
			}
			accepted++
		}
	})
	c := sessionCookie(rec)
	if c == nil || len(c.Name)+1+len(c.Value) > 4096 || len(e.errors()) != 0 {
		t.Fatalf("cookie %v, errors %v", c, e.errors())
	}
	var keys []string
	e.do(c.Value, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { keys, _ = s.Keys() })
	if len(keys) != accepted || accepted < 40 {
		t.Fatalf("%d keys saved, %d accepted", len(keys), accepted)
	}
}

// The size Put computes is exact: the largest value it accepts seals into
// a cookie within two bytes of the limit (one more byte of record adds
// one or two base64 characters), for the default name and a long one,
// for an anonymous session and a logged-in one, and for a key ring whose
// tokens are limited below the cookie's size.
func TestSealedPutAcceptsExactlyWhatFits(t *testing.T) {
	for _, tc := range []struct {
		name, cookie string
		login        bool
		maxToken     int // the key ring's, 0 for the default
	}{
		{"anonymous", sesame.DefaultCookieName, false, 0},
		{"logged in", sesame.DefaultCookieName, true, 0},
		{"long cookie name", "__Host-" + strings.Repeat("n", 200), true, 0},
		{"key ring limit", sesame.DefaultCookieName, true, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := newRing(t, genKey(t)).WithMaxTokenLen(tc.maxToken)
			e := newEnv(t, sesame.Config{Seal: ring, Cookie: sesame.CookieConfig{Name: tc.cookie}})
			var largest int
			rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if tc.login {
					if err := s.Login("alice"); err != nil {
						t.Fatal(err)
					}
				}
				s.Put("k", "v")
				lo, hi := 0, 4096 // Put of lo bytes fits, of hi does not
				for hi-lo > 1 {
					mid := (lo + hi) / 2
					switch err := s.Put("big", strings.Repeat("x", mid)); {
					case err == nil:
						lo = mid
					case errors.Is(err, sesame.ErrTooLarge):
						hi = mid
					default:
						t.Fatal(err)
					}
				}
				largest = lo
				if err := s.Put("big", strings.Repeat("x", lo)); err != nil {
					t.Fatal(err)
				}
			})
			var c *http.Cookie
			for _, rc := range rec.Result().Cookies() {
				if rc.Name == tc.cookie {
					c = rc
				}
			}
			if c == nil || len(e.errors()) != 0 {
				t.Fatalf("no cookie for the largest accepted value (%d bytes); errors %v", largest, e.errors())
			}
			n, limit := len(c.Name)+1+len(c.Value), 4096
			if tc.maxToken > 0 {
				n, limit = len(c.Value), tc.maxToken
			}
			if n > limit || n < limit-1 {
				t.Fatalf("largest accepted value (%d bytes) gives %d bytes of cookie; want %d or %d", largest, n, limit-1, limit)
			}
			req := httptest.NewRequest("GET", "https://example.test/", nil)
			req.AddCookie(c)
			var v string
			var err error
			e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, _ := sesame.FromContext(r.Context())
				v, err = sesame.Get[string](s, "big")
			})).ServeHTTP(httptest.NewRecorder(), req)
			if err != nil || len(v) != largest {
				t.Fatalf("largest accepted value reads back as %d bytes, %v", len(v), err)
			}
		})
	}
}

// Put and Flash first compare a quick upper bound of the record with the
// limit and walk the session only when the bound does not fit. A flash
// grows its list by more than its own length (brackets or a comma, a
// longer length prefix); around the limit, for every size of the rest of
// the session, no change Put or Flash accepts may fail at commit.
func TestSealedSizeBoundNeverLetsAnOversizedChangeThrough(t *testing.T) {
	e := newSealedEnv(t, newRing(t, genKey(t)), nil)
	// Message lengths whose JSON (two quotes more) ends a list just below
	// and above a varint boundary of its length prefix (127/128 bytes).
	// The flash is the request's only change, so that the bound has no
	// slack from other changes to hide in.
	accepted := 0
	for pad := 2750; pad < 3000; pad++ {
		for _, first := range []bool{true, false} {
			rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if !first {
					s.Flash("earlier")
				}
				s.Put("pad", strings.Repeat("x", pad))
			})
			c := sessionCookie(rec)
			if c == nil {
				continue
			}
			for _, n := range []int{1, 123, 124, 125, 126} {
				e.do(c.Value, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
					if s.Flash(strings.Repeat("m", n)) == nil {
						accepted++
					}
				})
				if errs := e.errors(); len(errs) != 0 {
					t.Fatalf("pad %d, flash %d: a flash Flash accepted failed at commit: %v", pad, n, errs)
				}
			}
		}
	}
	if accepted < 100 {
		t.Fatalf("only %d sessions took a flash; the sizes do not reach the limit's neighbourhood", accepted)
	}
}

// Login adds the user, user agent and address to the record; a Login that
// would overflow the cookie is refused, and the session stays as it was.
func TestSealedLoginTooLargeIsRefused(t *testing.T) {
	e := newSealedEnv(t, newRing(t, genKey(t)), nil)
	cookie := e.newSession("big", strings.Repeat("x", 2700))
	req := httptest.NewRequest("POST", "https://example.test/login", nil)
	req.Header.Set("Cookie", sesame.DefaultCookieName+"="+cookie)
	req.Header.Set("User-Agent", strings.Repeat("A", 600))
	rec := httptest.NewRecorder()
	e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		if err := s.Login(strings.Repeat("u", 255)); !errors.Is(err, sesame.ErrTooLarge) {
			t.Errorf("Login = %v; want ErrTooLarge", err)
		}
		if u := s.User(); u != "" {
			t.Errorf("refused Login left user %q", u)
		}
	})).ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || sessionCookie(rec) != nil || len(e.errors()) != 0 {
		t.Fatalf("response %d, cookie %v, errors %v", rec.Code, sessionCookie(rec), e.errors())
	}
	if v, err := get[string](e, cookie, "big"); err != nil || len(v) != 2700 || e.userOf(cookie) != "" {
		t.Fatalf("session after a refused Login: %d bytes, %v, user %q", len(v), err, e.userOf(cookie))
	}
}

func TestSealedRevocation(t *testing.T) {
	revocations := newMemStore(t, memstore.Config{})
	e := newSealedEnv(t, newRing(t, genKey(t)), revocations)
	laptop := e.login("alice", "Firefox", "192.0.2.1:1")
	phone := e.login("alice", "Safari", "192.0.2.2:1")
	bob := e.login("bob", "Chrome", "192.0.2.3:1")
	user := func(cookie string) string {
		var u string
		e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { u = s.User() })
		return u
	}
	e.clock.Advance(time.Second)
	var current string
	rec := e.do(phone, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := e.m.RevokeOthers(r.Context()); err != nil {
			t.Fatal(err)
		}
	})
	current = sessionCookie(rec).Value
	if user(laptop) != "" || user(current) != "alice" || user(bob) != "bob" {
		t.Fatalf("after RevokeOthers: laptop=%q phone=%q bob=%q", user(laptop), user(current), user(bob))
	}
	e.clock.Advance(time.Second)
	if err := e.m.RevokeAll(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if user(current) != "" || user(bob) != "bob" {
		t.Fatal("RevokeAll did not end alice's sealed sessions, or ended bob's")
	}
	e.clock.Advance(time.Second)
	if again := e.login("alice", "Firefox", "192.0.2.1:1"); user(again) != "alice" {
		t.Fatal("a login after RevokeAll is refused")
	}
}

func TestSealedWithoutRevocationsCannotRevoke(t *testing.T) {
	e := newSealedEnv(t, newRing(t, genKey(t)), nil)
	cookie := e.login("alice", "Firefox", "192.0.2.1:1")
	if err := e.m.RevokeAll(context.Background(), "alice"); !errors.Is(err, sesame.ErrNoRevocations) {
		t.Fatalf("RevokeAll = %v, want ErrNoRevocations", err)
	}
	// Destroy clears this browser's cookie, but a copy kept elsewhere still
	// opens until its deadline: that is what sealed sessions cannot do.
	rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Destroy() })
	if c := sessionCookie(rec); c == nil || c.MaxAge >= 0 {
		t.Fatal("Destroy did not clear the cookie")
	}
	var u string
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { u = s.User() })
	if u != "alice" {
		t.Fatalf("replayed copy after Destroy: user %q (documented: it stays valid until its deadline)", u)
	}
	if _, err := e.m.Sessions(context.Background(), "alice"); !errors.Is(err, sesame.ErrNoUserIndex) {
		t.Fatalf("Sessions in sealed mode = %v", err)
	}
}

func TestSealedLateChangeIsReported(t *testing.T) {
	e := newSealedEnv(t, newRing(t, genKey(t)), nil)
	cookie := e.newSession("k", "v")
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("body"))
		s.Put("k", "late")
	})
	if errs := e.errors(); len(errs) != 1 || !errors.Is(errs[0], sesame.ErrHeadersWritten) {
		t.Fatalf("errors = %v", errs)
	}
}

// userOf returns the user of the session named by cookie on its next
// request, "" if the session is anonymous, revoked or gone.
func (e *env) userOf(cookie string) string {
	e.t.Helper()
	var u string
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { u = s.User() })
	return u
}

// A login in the very millisecond of RevokeAll, after it returned, must
// survive; a session created in that millisecond before it must not. The
// Manager's clock does not move at all here.
func TestSealedLoginInTheMillisecondOfRevokeAllSurvives(t *testing.T) {
	revocations := newMemStore(t, memstore.Config{})
	e := newSealedEnv(t, newRing(t, genKey(t)), revocations)
	ctx := context.Background()
	for round := range 3 {
		before := e.login("alice", "Firefox", "192.0.2.1:1")
		if err := e.m.RevokeAll(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		after := e.login("alice", "Firefox", "192.0.2.1:1")
		if u := e.userOf(before); u != "" {
			t.Fatalf("round %d: a session created before RevokeAll, in its millisecond, survived", round)
		}
		if u := e.userOf(after); u != "alice" {
			t.Fatalf("round %d: a login after RevokeAll returned, in the same millisecond, was revoked", round)
		}
	}
	// RevokeOthers in the same millisecond keeps the current session and
	// ends one logged in just before, still without the clock moving.
	other := e.login("alice", "Safari", "192.0.2.2:1")
	current := e.login("alice", "Firefox", "192.0.2.1:1")
	rec := e.do(current, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := e.m.RevokeOthers(r.Context()); err != nil {
			t.Fatal(err)
		}
	})
	current = sessionCookie(rec).Value
	if e.userOf(other) != "" || e.userOf(current) != "alice" {
		t.Fatalf("RevokeOthers in one millisecond: other=%q current=%q", e.userOf(other), e.userOf(current))
	}
	later := e.login("alice", "Chrome", "192.0.2.3:1")
	if e.userOf(later) != "alice" {
		t.Fatal("a login after RevokeOthers, in the same millisecond, was revoked")
	}
}

// Two servers share the revocations; the one that serves the login runs
// its clock behind the one that revoked. The login, after RevokeAll
// returned, must still survive on both.
func TestSealedLoginAfterRevokeAllOnASlowerServerSurvives(t *testing.T) {
	revocations := newMemStore(t, memstore.Config{})
	ring := newRing(t, genKey(t))
	fast := newSealedEnv(t, ring, revocations)
	slow := newSealedEnv(t, ring, revocations)
	slow.clock = &clock{now: fast.clock.Now().Add(-250 * time.Millisecond)}
	sesame.SetClock(slow.m, slow.clock.Now)
	before := fast.login("alice", "Firefox", "192.0.2.1:1")
	if err := fast.m.RevokeAll(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	after := slow.login("alice", "Firefox", "192.0.2.1:1")
	if fast.userOf(before) != "" || slow.userOf(before) != "" {
		t.Fatal("a session created before RevokeAll survived it")
	}
	if fast.userOf(after) != "alice" || slow.userOf(after) != "alice" {
		t.Fatalf("login after RevokeAll on a server 250 ms behind: user %q there, %q on the other", slow.userOf(after), fast.userOf(after))
	}
}

// The audit's case on the real clock: 50 times, log in, RevokeAll, log in
// at once. Every first login dies, every second one lives.
func TestSealedImmediateLoginsAfterRevokeAllSurvive(t *testing.T) {
	revocations := newMemStore(t, memstore.Config{})
	e := newSealedEnv(t, newRing(t, genKey(t)), revocations)
	sesame.SetClock(e.m, time.Now)
	ctx := context.Background()
	dead := 0
	for range 50 {
		before := e.login("alice", "Firefox", "192.0.2.1:1")
		if err := e.m.RevokeAll(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		after := e.login("alice", "Firefox", "192.0.2.1:1")
		if e.userOf(before) != "" {
			t.Fatal("a session created before RevokeAll survived it")
		}
		if e.userOf(after) != "alice" {
			dead++
		}
	}
	if dead > 0 {
		t.Fatalf("%d of 50 logins right after RevokeAll were revoked on their next request", dead)
	}
}

// A login that cannot read its user's revocation mark is refused: stamped
// blindly, it could be born revoked, or outlive a revocation.
func TestSealedLoginWithRevocationsDownFails(t *testing.T) {
	ms := newMemStore(t, memstore.Config{})
	revocations := &failingStore{Store: ms, fail: true}
	e := newSealedEnv(t, newRing(t, genKey(t)), revocations)
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Login("alice"); err != nil {
			t.Fatal(err)
		}
	})
	if rec.Code != http.StatusInternalServerError || sessionCookie(rec) != nil {
		t.Fatalf("response %d with cookie %v; want 500 and no session", rec.Code, sessionCookie(rec))
	}
	if errs := e.errors(); len(errs) != 1 || !errors.Is(errs[0], errStoreDown) {
		t.Fatalf("errors = %v; want the revocation store's", errs)
	}
	revocations.fail = false
	if c := e.login("alice", "Firefox", "192.0.2.1:1"); e.userOf(c) != "alice" {
		t.Fatal("login after the revocation store came back failed")
	}
}
