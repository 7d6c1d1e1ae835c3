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

func (h *recordingHook) LoggedIn(w http.ResponseWriter, r *http.Request, user string) {
	h.add(w, "in "+user)
}
func (h *recordingHook) Extended(w http.ResponseWriter, r *http.Request, user string) {
	h.add(w, "extended "+user)
}
func (h *recordingHook) LoggedOut(w http.ResponseWriter, r *http.Request, user string) {
	h.add(w, "out "+user)
}

// take returns the calls so far and forgets them.
func (h *recordingHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

// TestHooksHearLoginExtensionAndLogout runs the same story on both kinds
// of session: each hook hears a login, an extension (only when the idle
// deadline is really extended) and a logout, in the order listed, and
// nothing of anonymous sessions or ordinary writes.
func TestHooksHearLoginExtensionAndLogout(t *testing.T) {
	kinds := map[string]func(t *testing.T, hooks []sesame.Hook) *env{
		"server-side": func(t *testing.T, hooks []sesame.Hook) *env {
			return newEnv(t, sesame.Config{Hooks: hooks})
		},
		"sealed": func(t *testing.T, hooks []sesame.Hook) *env {
			revocations := newMemStore(t, memstore.Config{})
			return newEnv(t, sesame.Config{Seal: newRing(t, genKey(t)), Revocations: revocations, Hooks: hooks})
		},
	}
	for name, newKind := range kinds {
		t.Run(name, func(t *testing.T) {
			first, second := &recordingHook{}, &recordingHook{}
			e := newKind(t, []sesame.Hook{first, second})
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
			anon := step("anonymous write", "", func(s *sesame.Session) { s.Put("k", 1) })
			cookie := step("login", anon, func(s *sesame.Session) { s.Login("alice") }, "in alice")
			cookie = step("write", cookie, func(s *sesame.Session) { s.Put("k", 2) })
			step("read", cookie, func(s *sesame.Session) { s.User() })
			e.clock.Advance(sesame.DefaultIdleTimeout / 20)
			cookie = step("read after IdleTimeout/20", cookie, func(s *sesame.Session) { s.User() }, "extended alice")
			step("read right after", cookie, func(s *sesame.Session) { s.User() })
			step("logout", cookie, func(s *sesame.Session) { s.Destroy() }, "out alice")
			step("destroying an anonymous session", anon, func(s *sesame.Session) { s.Destroy() })
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
