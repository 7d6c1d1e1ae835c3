package sesame_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/sesame-go/sesame"
)

// passBinder is the smallest real Binder: a session bound to "pass:X" is
// served only to requests whose X-Pass header is X. It records what the
// Manager told it.
type passBinder struct {
	mu     sync.Mutex
	allows int
	offers []string // "login alice" or "extended alice"
	ended  []string // the bindings of ended sessions
	infos  []sesame.SessionInfo
}

func (b *passBinder) Allow(r *http.Request, binding []byte) bool {
	b.mu.Lock()
	b.allows++
	b.mu.Unlock()
	pass, ok := bytes.CutPrefix(binding, []byte("pass:"))
	return ok && r.Header.Get("X-Pass") == string(pass)
}

func (b *passBinder) Offer(w http.ResponseWriter, r *http.Request, s sesame.SessionInfo, login bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	what := "extended "
	if login {
		what = "login "
	}
	b.offers = append(b.offers, what+s.User)
	b.infos = append(b.infos, s)
	w.Header().Set("X-Offer", "bind me")
}

func (b *passBinder) Ended(w http.ResponseWriter, r *http.Request, binding []byte) {
	b.mu.Lock()
	b.ended = append(b.ended, string(binding))
	b.mu.Unlock()
	w.Header().Set("X-Ended", string(binding))
}

func (b *passBinder) allowCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.allows
}

// doPass runs fn for a request carrying cookie and, if not "", X-Pass.
func (e *env) doPass(cookie, pass string, fn func(s *sesame.Session, w http.ResponseWriter, r *http.Request)) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest("GET", "https://example.test/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", sesame.DefaultCookieName+"="+cookie)
	}
	if pass != "" {
		req.Header.Set("X-Pass", pass)
	}
	rec := httptest.NewRecorder()
	e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sesame.FromContext(r.Context())
		if err != nil {
			e.t.Error(err)
			return
		}
		if fn != nil {
			fn(s, w, r)
		}
	})).ServeHTTP(rec, req)
	return rec
}

// bindTo binds the session named by cookie to "pass:"+pass.
func (e *env) bindTo(cookie, pass string) {
	e.t.Helper()
	e.doPass(cookie, "", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Bind(func(cur []byte) ([]byte, error) { return []byte("pass:" + pass), nil }); err != nil {
			e.t.Fatalf("Bind: %v", err)
		}
	})
}

// binderKinds runs a test on server-side and on sealed sessions.
var binderKinds = map[string]func(t *testing.T, b sesame.Binder) *env{
	"server-side": func(t *testing.T, b sesame.Binder) *env {
		return newEnv(t, sesame.Config{Binder: b})
	},
	"sealed": func(t *testing.T, b sesame.Binder) *env {
		return newEnv(t, sesame.Config{Seal: newRing(t, genKey(t)), Binder: b})
	},
}

// TestBoundSessionIsServedOnlyToRequestsTheBinderAllows: once bound, a
// session is served to the requests its Binder allows; the others see an
// anonymous session, and neither the session, nor its cookie, nor the
// store is touched by them, so the client it is bound to carries on.
func TestBoundSessionIsServedOnlyToRequestsTheBinderAllows(t *testing.T) {
	for name, newKind := range binderKinds {
		t.Run(name, func(t *testing.T) {
			b := &passBinder{}
			e := newKind(t, b)
			cookie := e.login("alice", "Firefox", "192.0.2.1:1")
			rec := e.doPass(cookie, "", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if err := s.Bind(func(cur []byte) ([]byte, error) {
					if cur != nil {
						t.Errorf("a new session's binding is %q", cur)
					}
					return []byte("pass:open sesame"), nil
				}); err != nil {
					t.Fatal(err)
				}
				if s.User() != "alice" || !s.Info().Bound {
					t.Errorf("after Bind: user %q, bound %v", s.User(), s.Info().Bound)
				}
			})
			if c := sessionCookie(rec); c != nil {
				cookie = c.Value // sealed: the binding travels in the cookie
			}
			calls := e.store.calls()
			for _, tc := range []struct {
				pass string
				want string
			}{
				{"open sesame", "alice"},
				{"", ""},
				{"open barley", ""},
				{"open sesame", "alice"},
			} {
				rec := e.doPass(cookie, tc.pass, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
					if got := s.User(); got != tc.want {
						t.Errorf("pass %q: user %q; want %q", tc.pass, got, tc.want)
					}
					if in := s.Info(); tc.want == "" && (in.Handle != "" || in.User != "" || in.Bound) {
						t.Errorf("pass %q: a withheld session shows %+v", tc.pass, in)
					}
				})
				if got := rec.Header().Values("Set-Cookie"); len(got) != 0 {
					t.Errorf("pass %q: Set-Cookie %q; the cookie of a bound session must be left alone", tc.pass, got)
				}
			}
			if name == "server-side" && e.store.calls()-calls != 4 {
				t.Errorf("four reads cost %d store calls; want four loads", e.store.calls()-calls)
			}
			if n := b.allowCalls(); n != 4 {
				t.Errorf("Allow called %d times for four requests", n)
			}
		})
	}
}

// TestUnboundSessionsNeverReachTheBinder: a Binder costs unbound sessions
// nothing: Allow is never called and the record is the one a Manager
// without a Binder writes.
func TestUnboundSessionsNeverReachTheBinder(t *testing.T) {
	b := &passBinder{}
	e := newEnv(t, sesame.Config{Binder: b})
	plain := newEnv(t, sesame.Config{})
	for _, env := range []*env{e, plain} {
		cookie := env.login("alice", "Firefox", "192.0.2.1:1")
		for range 3 {
			env.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if s.User() != "alice" {
					t.Error("unbound session not served")
				}
			})
		}
	}
	if n := b.allowCalls(); n != 0 {
		t.Errorf("Allow called %d times for unbound sessions", n)
	}
}

// TestBindOnAWithheldSessionServesIt: the request that renews a binding
// comes without what the binding requires (its short-lived cookie has
// expired): Binding still finds the binding, and a Bind makes the session
// served for the rest of that request, and by the new binding afterwards.
func TestBindOnAWithheldSessionServesIt(t *testing.T) {
	for name, newKind := range binderKinds {
		t.Run(name, func(t *testing.T) {
			e := newKind(t, &passBinder{})
			cookie := e.login("alice", "Firefox", "192.0.2.1:1")
			rec := e.doPass(cookie, "", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if err := s.Bind(func([]byte) ([]byte, error) { return []byte("pass:one"), nil }); err != nil {
					t.Fatal(err)
				}
			})
			if c := sessionCookie(rec); c != nil {
				cookie = c.Value
			}
			rec = e.doPass(cookie, "", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if s.User() != "" {
					t.Fatal("served without the pass")
				}
				got, err := s.Binding()
				if err != nil || string(got) != "pass:one" {
					t.Fatalf("Binding of the withheld session = %q, %v", got, err)
				}
				refuse := errors.New("wrong pass")
				if err := s.Bind(func([]byte) ([]byte, error) { return nil, refuse }); err != refuse {
					t.Fatalf("a refusing update: Bind = %v; want its error", err)
				}
				if s.User() != "" {
					t.Fatal("a refused Bind served the withheld session")
				}
				if err := s.Bind(func(cur []byte) ([]byte, error) {
					if string(cur) != "pass:one" {
						t.Errorf("update got %q", cur)
					}
					return []byte("pass:two"), nil
				}); err != nil {
					t.Fatal(err)
				}
				if s.User() != "alice" {
					t.Error("the session is not served after Bind")
				}
			})
			if c := sessionCookie(rec); c != nil {
				cookie = c.Value
			}
			for pass, want := range map[string]string{"one": "", "two": "alice"} {
				e.doPass(cookie, pass, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
					if s.User() != want {
						t.Errorf("pass %q: user %q; want %q", pass, s.User(), want)
					}
				})
			}
		})
	}
}

// TestBindRunsItsUpdateAgainOverAFresherRecord: two requests that read the
// same binding both try to spend it; the second's save conflicts, its
// update runs again over what the first saved and refuses, so a binding
// is spent once.
func TestBindRunsItsUpdateAgainOverAFresherRecord(t *testing.T) {
	e := newEnv(t, sesame.Config{Binder: &passBinder{}})
	cookie := e.login("alice", "Firefox", "192.0.2.1:1")
	e.bindTo(cookie, "1")
	spent := errors.New("already spent")
	spend := func(seen *[]string) func([]byte) ([]byte, error) {
		return func(cur []byte) ([]byte, error) {
			*seen = append(*seen, string(cur))
			if string(cur) != "pass:1" {
				return nil, spent
			}
			return []byte("pass:2"), nil
		}
	}
	loaded, resume, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var seenA, seenB []string
	var errA, errB error
	go func() {
		defer close(finished)
		e.doPass(cookie, "1", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
			s.User() // read binding 1 before the other request spends it
			close(loaded)
			<-resume
			errA = s.Bind(spend(&seenA))
		})
	}()
	<-loaded
	e.doPass(cookie, "1", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		errB = s.Bind(spend(&seenB))
	})
	close(resume)
	<-finished
	if errB != nil || !slices.Equal(seenB, []string{"pass:1"}) {
		t.Errorf("the first to save: Bind = %v, its update saw %q", errB, seenB)
	}
	if errA != spent || !slices.Equal(seenA, []string{"pass:1", "pass:2"}) {
		t.Errorf("the second: Bind = %v, its update saw %q; want it to refuse over the fresher record", errA, seenA)
	}
	if e.count(sesame.EventConflict) == 0 {
		t.Error("no conflict reported")
	}
	e.doPass(cookie, "2", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if s.User() != "alice" {
			t.Error("the binding saved is not the first request's")
		}
	})
}

// TestBinderIsOfferedUnboundLoginsAndExtensions: the Binder hears of every
// saved Login and idle-deadline extension of a logged-in session that has
// no binding, with the session's details, and of nothing else.
func TestBinderIsOfferedUnboundLoginsAndExtensions(t *testing.T) {
	for name, newKind := range binderKinds {
		t.Run(name, func(t *testing.T) {
			b := &passBinder{}
			e := newKind(t, b)
			anon := e.newSession("k", 1)
			rec := e.doPass(anon, "", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Login("alice") })
			cookie := sessionCookie(rec).Value
			if rec.Header().Get("X-Offer") == "" || !slices.Equal(b.offers, []string{"login alice"}) {
				t.Fatalf("after login: offers %q, header %q", b.offers, rec.Header().Get("X-Offer"))
			}
			if in := b.infos[0]; in.User != "alice" || in.Created.IsZero() || in.Handle == "" || in.Bound || !in.Current {
				t.Errorf("offered session info %+v", in)
			}
			e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.User() })
			e.clock.Advance(sesame.DefaultIdleTimeout / 20)
			if c := sessionCookie(e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.User() })); c != nil {
				cookie = c.Value
			}
			if !slices.Equal(b.offers, []string{"login alice", "extended alice"}) {
				t.Fatalf("after a read and an extension: offers %q", b.offers)
			}
			rec = e.doPass(cookie, "", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				s.Bind(func([]byte) ([]byte, error) { return []byte("pass:p"), nil })
			})
			if c := sessionCookie(rec); c != nil {
				cookie = c.Value
			}
			e.clock.Advance(sesame.DefaultIdleTimeout / 20)
			e.doPass(cookie, "p", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.User() })
			if len(b.offers) != 2 {
				t.Errorf("a bound session was offered: %q", b.offers)
			}
		})
	}
}

// TestBinderHearsABoundSessionEnd: Destroy of a bound session, and
// RevokeAll from its own request, tell the Binder its binding in the
// response; ending an unbound session tells it nothing.
func TestBinderHearsABoundSessionEnd(t *testing.T) {
	ends := map[string]func(e *env, s *sesame.Session, r *http.Request) error{
		"Destroy":   func(e *env, s *sesame.Session, r *http.Request) error { return s.Destroy() },
		"RevokeAll": func(e *env, s *sesame.Session, r *http.Request) error { return e.m.RevokeAll(r.Context(), "alice") },
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			b := &passBinder{}
			e := newEnv(t, sesame.Config{Binder: b})
			unbound := e.login("alice", "Firefox", "192.0.2.1:1")
			rec := e.do(unbound, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { end(e, s, r) })
			if len(b.ended) != 0 || rec.Header().Get("X-Ended") != "" {
				t.Fatalf("ending an unbound session told the Binder %q", b.ended)
			}
			bound := e.login("alice", "Firefox", "192.0.2.1:1")
			e.bindTo(bound, "p")
			rec = e.doPass(bound, "p", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if err := end(e, s, r); err != nil {
					t.Fatal(err)
				}
			})
			if !slices.Equal(b.ended, []string{"pass:p"}) || rec.Header().Get("X-Ended") != "pass:p" {
				t.Errorf("Binder heard %q, response header %q", b.ended, rec.Header().Get("X-Ended"))
			}
			e.doPass(bound, "p", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
				if s.User() != "" {
					t.Error("the session outlived its end")
				}
			})
		})
	}
}

// TestWithheldRequestCannotEndOrChangeTheSession: a request the Binder
// does not allow (a thief's, with the session cookie alone) sees an
// anonymous session: destroying it ends nothing, revoking all reaches no
// session of the user through it, and Bind's refusal leaves it withheld.
func TestWithheldRequestCannotEndOrChangeTheSession(t *testing.T) {
	b := &passBinder{}
	e := newEnv(t, sesame.Config{Binder: b})
	cookie := e.login("alice", "Firefox", "192.0.2.1:1")
	e.bindTo(cookie, "p")
	e.doPass(cookie, "", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Destroy(); err != nil {
			t.Fatal(err)
		}
		if err := e.m.RevokeOthers(r.Context()); !errors.Is(err, sesame.ErrNotLoggedIn) {
			t.Errorf("RevokeOthers from a withheld request = %v; want ErrNotLoggedIn", err)
		}
	})
	e.doPass(cookie, "p", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if s.User() != "alice" {
			t.Error("a withheld request ended the session")
		}
	})
	if len(b.ended) != 0 {
		t.Errorf("Binder told of an end: %q", b.ended)
	}
}

// TestBoundSessionWithoutABinderIsWithheld: a Manager without a Binder
// (the configuration lost it) serves no bound session: the binding
// fails closed.
func TestBoundSessionWithoutABinderIsWithheld(t *testing.T) {
	e := newEnv(t, sesame.Config{Binder: &passBinder{}})
	cookie := e.login("alice", "Firefox", "192.0.2.1:1")
	e.bindTo(cookie, "p")
	o := e.sibling() // a second Manager over the same store, with no Binder
	o.doPass(cookie, "p", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if s.User() != "" {
			t.Error("a bound session was served by a Manager without a Binder")
		}
	})
}

// TestBindRefusals: Bind needs a logged-in session, and a binding of at
// most MaxBindingLen bytes; a refused Bind changes nothing.
func TestBindRefusals(t *testing.T) {
	e := newEnv(t, sesame.Config{Binder: &passBinder{}})
	set := func(b []byte) func([]byte) ([]byte, error) {
		return func([]byte) ([]byte, error) { return b, nil }
	}
	anon := e.newSession("k", 1)
	e.do(anon, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Bind(set([]byte("pass:p"))); !errors.Is(err, sesame.ErrNotLoggedIn) {
			t.Errorf("Bind of an anonymous session = %v; want ErrNotLoggedIn", err)
		}
	})
	e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Bind(set([]byte("pass:p"))); !errors.Is(err, sesame.ErrNotLoggedIn) {
			t.Errorf("Bind without a session = %v; want ErrNotLoggedIn", err)
		}
	})
	cookie := e.login("alice", "Firefox", "192.0.2.1:1")
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Bind(set(bytes.Repeat([]byte("x"), sesame.MaxBindingLen+1))); !errors.Is(err, sesame.ErrBindingTooLarge) {
			t.Errorf("Bind of %d bytes = %v; want ErrBindingTooLarge", sesame.MaxBindingLen+1, err)
		}
		if err := s.Bind(set(bytes.Repeat([]byte("x"), sesame.MaxBindingLen))); err != nil {
			t.Errorf("Bind of MaxBindingLen bytes = %v", err)
		}
		if err := s.Bind(set(nil)); err != nil {
			t.Errorf("removing the binding: %v", err)
		}
	})
	e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if s.User() != "alice" || s.Info().Bound {
			t.Errorf("after removing the binding: user %q, bound %v", s.User(), s.Info().Bound)
		}
	})
}

// TestBindAfterLoginInOneRequest: a Bind in the request that logs in
// binds the new session, not the one the request came with.
func TestBindAfterLoginInOneRequest(t *testing.T) {
	e := newEnv(t, sesame.Config{Binder: &passBinder{}})
	anon := e.newSession("k", 1)
	rec := e.do(anon, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if err := s.Login("alice"); err != nil {
			t.Fatal(err)
		}
		if err := s.Bind(func([]byte) ([]byte, error) { return []byte("pass:p"), nil }); err != nil {
			t.Fatal(err)
		}
	})
	cookie := sessionCookie(rec).Value
	if cookie == anon {
		t.Fatal("login kept the anonymous id")
	}
	e.doPass(cookie, "p", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		if s.User() != "alice" || !s.Info().Bound {
			t.Errorf("user %q, bound %v", s.User(), s.Info().Bound)
		}
	})
}

// TestSessionsMarksBoundSessions: the session list says which sessions
// are bound, for a "your sessions" page.
func TestSessionsMarksBoundSessions(t *testing.T) {
	e := newEnv(t, sesame.Config{Binder: &passBinder{}})
	plain := e.login("alice", "Firefox", "192.0.2.1:1")
	bound := e.login("alice", "Chrome", "192.0.2.2:1")
	e.bindTo(bound, "p")
	var infos []sesame.SessionInfo
	e.do(plain, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) {
		infos, _ = e.m.Sessions(r.Context(), "alice")
	})
	got := map[string]bool{}
	for _, in := range infos {
		got[in.UserAgent] = in.Bound
		if in.User != "alice" {
			t.Errorf("info.User = %q", in.User)
		}
	}
	if len(got) != 2 || got["Firefox"] || !got["Chrome"] {
		t.Errorf("bound per session: %v", got)
	}
}
