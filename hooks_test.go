package sesame_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
)

// recordingHook records what Config.Hooks were told, and sets a cookie of
// its own each time, as an integration does.
type recordingHook struct {
	mu    sync.Mutex
	calls []string
}

func (h *recordingHook) add(w http.ResponseWriter, call string) {
	h.mu.Lock()
	h.calls = append(h.calls, call)
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "hooked", Value: "1"})
}

func (h *recordingHook) LoggedIn(w http.ResponseWriter, r *http.Request, info sesame.SessionInfo) {
	h.add(w, "in "+info.User+" until "+info.IdleDeadline.UTC().Format(time.TimeOnly))
}
func (h *recordingHook) Extended(w http.ResponseWriter, r *http.Request, info sesame.SessionInfo) {
	h.add(w, "extended "+info.User+" until "+info.IdleDeadline.UTC().Format(time.TimeOnly))
}
func (h *recordingHook) LoggedOut(w http.ResponseWriter, r *http.Request, info sesame.SessionInfo) {
	h.add(w, "out "+info.User)
}

// take returns the calls so far and forgets them.
func (h *recordingHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

// TestHooksHearLoginExtensionAndLogout runs the same story on every kind
// of session: each hook hears a login, an extension (only when the idle
// deadline is really extended) and a logout, in the order listed, and
// nothing of anonymous sessions or ordinary writes.
func TestHooksHearLoginExtensionAndLogout(t *testing.T) {
	// A store forgets a record at its idle deadline, so a server-side
	// session found expired is one the store no longer has: whose it was
	// cannot be known, and the hooks hear of a logout of an unknown user,
	// even for an anonymous session. A sealed cookie still says whose it
	// was.
	kinds := []struct {
		name              string
		new               func(t *testing.T, hooks []sesame.Hook) *env
		expired, anonGone []string
	}{
		{"server-side", func(t *testing.T, hooks []sesame.Hook) *env {
			return newEnv(t, sesame.Config{Hooks: hooks})
		}, []string{"out "}, []string{"out "}},
		{"server-side, store keeps expired records", func(t *testing.T, hooks []sesame.Hook) *env {
			return newEnvWrapping(t, sesame.Config{Hooks: hooks}, keepExpired)
		}, []string{"out bob"}, nil},
		{"sealed", func(t *testing.T, hooks []sesame.Hook) *env {
			revocations := newMemStore(t, memstore.Config{})
			t.Cleanup(func() { revocations.Close() })
			return newEnv(t, sesame.Config{Seal: newRing(t, genKey(t)), Revocations: revocations, Hooks: hooks})
		}, []string{"out bob"}, nil},
		{"cookie codec", func(t *testing.T, hooks []sesame.Hook) *env {
			return newEnv(t, sesame.Config{CookieCodec: newSignedJSON(t), Hooks: hooks})
		}, []string{"out bob"}, nil},
	}
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			first, second := &recordingHook{}, &recordingHook{}
			e := kind.new(t, []sesame.Hook{first, second})
			step := func(what string, cookie string, fn func(s *sesame.Session), want ...string) string {
				t.Helper()
				rec := e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { fn(s) })
				for i, h := range []*recordingHook{first, second} {
					if got := h.take(); !slices.Equal(got, want) {
						t.Errorf("%s: hook %d heard %q; want %q", what, i, got, want)
					}
				}
				if hooked := cookieOf(rec, "hooked") != nil; hooked != (len(want) > 0) {
					t.Errorf("%s: the hooks' cookie in the response: %v; want %v", what, hooked, len(want) > 0)
				}
				if c := sessionCookie(rec); c != nil && c.MaxAge >= 0 {
					return c.Value
				}
				return cookie
			}
			until := func() string { return e.clock.Now().Add(sesame.DefaultIdleTimeout).UTC().Format(time.TimeOnly) }
			anon := step("anonymous write", "", func(s *sesame.Session) { s.Put("k", 1) })
			cookie := step("login", anon, func(s *sesame.Session) { s.Login("alice") }, "in alice until "+until())
			cookie = step("write", cookie, func(s *sesame.Session) { s.Put("k", 2) })
			step("read", cookie, func(s *sesame.Session) { s.User() })
			e.clock.Advance(sesame.DefaultIdleTimeout / 20)
			cookie = step("read after IdleTimeout/20", cookie, func(s *sesame.Session) { s.User() }, "extended alice until "+until())
			step("read right after", cookie, func(s *sesame.Session) { s.User() })
			step("logout", cookie, func(s *sesame.Session) { s.Destroy() }, "out alice")
			anon = step("anonymous write", "", func(s *sesame.Session) { s.Put("k", 1) })
			step("destroying an anonymous session", anon, func(s *sesame.Session) { s.Destroy() })

			cookie = step("login again", "", func(s *sesame.Session) { s.Login("bob") }, "in bob until "+until())
			e.clock.Advance(sesame.DefaultIdleTimeout + time.Second)
			step("expired", cookie, func(s *sesame.Session) { s.User() }, kind.expired...)
			anon = step("anonymous write", "", func(s *sesame.Session) { s.Put("k", 1) })
			e.clock.Advance(sesame.DefaultIdleTimeout + time.Second)
			step("an anonymous session expired", anon, func(s *sesame.Session) { s.User() }, kind.anonGone...)
			step("a cookie naming no session", "AAAA"+cookie[4:], func(s *sesame.Session) { s.User() }, "out ")
		})
	}
}

// TestHooksHearLogoutEverywhereFromTheUsersOwnRequest: RevokeAll from the
// user's own request ends that session too, and the hooks hear it.
func TestHooksHearLogoutEverywhereFromTheUsersOwnRequest(t *testing.T) {
	h := &recordingHook{}
	e := newEnv(t, sesame.Config{Hooks: []sesame.Hook{h}})
	cookie := e.login("alice", "Firefox", "192.0.2.1:1")
	h.take()
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := e.m.RevokeAll(r.Context(), "alice"); err != nil {
			t.Error(err)
		}
	})
	if got := h.take(); !slices.Equal(got, []string{"out alice"}) {
		t.Errorf("hooks heard %q; want the logout", got)
	}
}

// TestHooksAreNotToldAfterTheHeader: a logout committed after the response
// header was written cannot set cookies, so no hook hears it; it is logged.
func TestHooksAreNotToldAfterTheHeader(t *testing.T) {
	h := &recordingHook{}
	e := newEnv(t, sesame.Config{Hooks: []sesame.Hook{h}})
	cookie := e.login("alice", "Firefox", "192.0.2.1:1")
	h.take()
	e.clock.Advance(time.Second)
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "body first")
		s.Destroy()
	})
	if got := h.take(); len(got) != 0 {
		t.Errorf("hooks heard %q after the header was written", got)
	}
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if s.User() != "" {
			t.Error("the late logout did not end the session")
		}
	})
}

func cookieOf(rec interface{ Result() *http.Response }, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
