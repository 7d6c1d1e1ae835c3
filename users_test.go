package sesame_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
)

// login creates a session for user from a client with the given user agent
// and address, and returns its cookie value.
func (e *env) login(user, ua, addr string) string {
	e.t.Helper()
	req := httptest.NewRequest("POST", "https://example.test/login", nil)
	req.Header.Set("User-Agent", ua)
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sesame.FromContext(r.Context())
		if err := s.Login(user); err != nil {
			e.t.Fatal(err)
		}
	})).ServeHTTP(rec, req)
	c := sessionCookie(rec)
	if c == nil {
		e.t.Fatalf("login set no cookie: %v", rec.Header())
	}
	return c.Value
}

func TestSessionsListsAUsersSessions(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	laptop := e.login("alice", "Firefox/140", "192.0.2.10:5555")
	e.clock.Advance(time.Minute)
	phone := e.login("alice", "Safari/19", "198.51.100.7:443")
	e.login("bob", "Chrome", "203.0.113.1:1")

	var infos []sesame.SessionInfo
	var err error
	e.do(phone, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		infos, err = e.m.Sessions(r.Context(), "alice")
	})
	if err != nil || len(infos) != 2 {
		t.Fatalf("Sessions = %+v, %v; want alice's two", infos, err)
	}
	newest, oldest := infos[0], infos[1]
	if newest.UserAgent != "Safari/19" || newest.IP != "198.51.100.7" || !newest.Current {
		t.Errorf("newest = %+v; want the phone, marked current", newest)
	}
	if oldest.UserAgent != "Firefox/140" || oldest.IP != "192.0.2.10" || oldest.Current {
		t.Errorf("oldest = %+v; want the laptop", oldest)
	}
	if newest.Created.Sub(oldest.Created) != time.Minute || newest.LastSeen.IsZero() || newest.Deadline.IsZero() {
		t.Errorf("times: %+v", infos)
	}
	for _, in := range infos {
		if in.Handle == laptop || in.Handle == phone {
			t.Fatal("a handle is a usable session id")
		}
	}
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	laptop := e.login("alice", "Firefox", "192.0.2.10:1")
	phone := e.login("alice", "Safari", "192.0.2.11:1")
	bobs := e.login("bob", "Chrome", "192.0.2.12:1")
	ctx := context.Background()
	infos, err := e.m.Sessions(ctx, "alice")
	if err != nil || len(infos) != 2 {
		t.Fatalf("alice's sessions: %d, %v; want 2", len(infos), err)
	}
	bobInfos, err := e.m.Sessions(ctx, "bob")
	if err != nil || len(bobInfos) != 1 {
		t.Fatalf("bob's sessions: %d, %v; want 1", len(bobInfos), err)
	}

	if err := e.m.Revoke(ctx, "alice", bobInfos[0].Handle); !errors.Is(err, sesame.ErrNotFound) {
		t.Fatalf("alice revoking bob's session: %v, want ErrNotFound", err)
	}
	if err := e.m.Revoke(ctx, "alice", "../../etc/passwd"); !errors.Is(err, sesame.ErrNotFound) {
		t.Fatalf("revoking a malformed handle: %v", err)
	}
	var target string
	for _, in := range infos {
		if in.UserAgent == "Safari" {
			target = in.Handle
		}
	}
	if err := e.m.Revoke(ctx, "alice", target); err != nil {
		t.Fatal(err)
	}
	if rec := e.do(phone, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if s.User() != "" {
			t.Error("revoked session still logged in")
		}
	}); sessionCookie(rec) == nil {
		t.Error("revoked session's cookie not cleared")
	}
	e.do(laptop, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if s.User() != "alice" {
			t.Error("Revoke ended the wrong session")
		}
	})
	e.do(bobs, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if s.User() != "bob" {
			t.Error("Revoke ended another user's session")
		}
	})
}

func TestRevokeOthersAndRevokeAll(t *testing.T) {
	e := newEnv(t, sesame.Config{})
	a1 := e.login("alice", "A1", "192.0.2.1:1")
	a2 := e.login("alice", "A2", "192.0.2.2:1")
	a3 := e.login("alice", "A3", "192.0.2.3:1")
	b1 := e.login("bob", "B1", "192.0.2.4:1")
	alive := func(cookie string) bool {
		var u string
		e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { u = s.User() })
		return u != ""
	}
	e.do(a2, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := e.m.RevokeOthers(r.Context()); err != nil {
			t.Fatal(err)
		}
	})
	if alive(a1) || !alive(a2) || alive(a3) || !alive(b1) {
		t.Fatalf("after RevokeOthers from a2: a1=%v a2=%v a3=%v b1=%v", alive(a1), alive(a2), alive(a3), alive(b1))
	}
	e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := e.m.RevokeOthers(r.Context()); !errors.Is(err, sesame.ErrNotLoggedIn) {
			t.Errorf("RevokeOthers anonymous: %v", err)
		}
	})
	if err := e.m.RevokeOthers(context.Background()); !errors.Is(err, sesame.ErrNoSession) {
		t.Errorf("RevokeOthers without a request: %v", err)
	}
	if err := e.m.RevokeAll(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if alive(a2) || !alive(b1) {
		t.Fatal("RevokeAll ended the wrong sessions")
	}
}

func TestMaxSessionsPerUserEvictsOldest(t *testing.T) {
	e := newEnv(t, sesame.Config{MaxSessionsPerUser: 2})
	first := e.login("alice", "1", "192.0.2.1:1")
	e.clock.Advance(time.Second)
	second := e.login("alice", "2", "192.0.2.2:1")
	e.clock.Advance(time.Second)
	third := e.login("alice", "3", "192.0.2.3:1")
	infos, err := e.m.Sessions(context.Background(), "alice")
	if err != nil || len(infos) != 2 {
		t.Fatalf("Sessions = %d, %v; want 2", len(infos), err)
	}
	for cookie, want := range map[string]string{first: "", second: "alice", third: "alice"} {
		var got string
		e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { got = s.User() })
		if got != want {
			t.Errorf("session user = %q, want %q", got, want)
		}
	}
}

func TestInfoDescribesTheCurrentSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) sesame.Config
	}{
		{"server-side", func(t *testing.T) sesame.Config { return sesame.Config{} }},
		{"sealed", func(t *testing.T) sesame.Config { return sesame.Config{Seal: newRing(t, genKey(t))} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg(t))
			cookie := e.login("alice", "Firefox/140", "192.0.2.10:5555")
			e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				in := s.Info()
				if in.UserAgent != "Firefox/140" || in.IP != "192.0.2.10" || !in.Current || in.Handle == "" || in.Created.IsZero() {
					t.Errorf("Info = %+v", in)
				}
			})
			if got := e.m.CookieName(); got != sesame.DefaultCookieName {
				t.Errorf("CookieName = %q", got)
			}
		})
	}
}

// "Log out everywhere" from the user's own request ends that session too:
// the request sees it anonymous and its response clears the cookie, with
// no Destroy call. An administrator revoking someone else keeps their own.
func TestRevokeAllFromTheUsersOwnRequestEndsItsSession(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) sesame.Config
	}{
		{"server-side", func(t *testing.T) sesame.Config { return sesame.Config{} }},
		{"sealed", func(t *testing.T) sesame.Config {
			revocations := newMemStore(t, memstore.Config{})
			return sesame.Config{Seal: newRing(t, genKey(t)), Revocations: revocations}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg(t))
			laptop := e.login("alice", "Firefox", "192.0.2.1:1")
			phone := e.login("alice", "Safari", "192.0.2.2:1")
			admin := e.login("bob", "Chrome", "192.0.2.3:1")
			rec := e.do(laptop, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if u := s.User(); u != "alice" { // as a handler checks who is asking
					t.Fatalf("user %q", u)
				}
				if err := e.m.RevokeAll(r.Context(), "alice"); err != nil {
					t.Fatal(err)
				}
				if u := s.User(); u != "" {
					t.Errorf("after RevokeAll the request still sees user %q", u)
				}
			})
			if c := sessionCookie(rec); c == nil || c.MaxAge >= 0 {
				t.Fatalf("RevokeAll from alice's request left her cookie: %q", rec.Header().Values("Set-Cookie"))
			}
			if e.userOf(laptop) != "" || e.userOf(phone) != "" {
				t.Fatal("RevokeAll left one of alice's sessions alive")
			}

			phone = e.login("alice", "Safari", "192.0.2.2:1")
			rec = e.do(admin, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if u := s.User(); u != "bob" {
					t.Fatalf("user %q", u)
				}
				if err := e.m.RevokeAll(r.Context(), "alice"); err != nil {
					t.Fatal(err)
				}
				if u := s.User(); u != "bob" {
					t.Errorf("revoking alice ended the administrator's session: user %q", u)
				}
			})
			if c := sessionCookie(rec); c != nil && c.MaxAge < 0 {
				t.Fatal("revoking alice cleared the administrator's cookie")
			}
			if e.userOf(phone) != "" || e.userOf(admin) != "bob" {
				t.Fatalf("RevokeAll(alice) from bob's request: alice=%q bob=%q", e.userOf(phone), e.userOf(admin))
			}
		})
	}
}
