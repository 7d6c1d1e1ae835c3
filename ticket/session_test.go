package ticket_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/memstore"
	"github.com/sesame-go/sesame/ticket"
)

// hookEnv is a Manager over a memstore with a SessionHook. Its idle
// timeout is 2 s, so a session's idle deadline is extended by a read at
// least 100 ms (IdleTimeout/20) after the last extension.
type hookEnv struct {
	t *testing.T
	m *sesame.Manager
}

const hookIdleTimeout = 2 * time.Second

func newHookEnv(t *testing.T, hook ticket.SessionHook) *hookEnv {
	store, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := sesame.New(sesame.Config{Store: store, IdleTimeout: hookIdleTimeout, Hooks: []sesame.Hook{hook}})
	if err != nil {
		t.Fatal(err)
	}
	return &hookEnv{t: t, m: m}
}

// do runs fn under the Manager for a request carrying the session cookie
// (none if "") from remote.
func (e *hookEnv) do(cookie, remote string, fn func(s *sesame.Session)) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "https://example.test/", nil)
	req.RemoteAddr = remote
	if cookie != "" {
		req.Header.Set("Cookie", sesame.DefaultCookieName+"="+cookie)
	}
	rec := httptest.NewRecorder()
	e.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sesame.FromContext(r.Context())
		if err != nil {
			e.t.Fatal(err)
		}
		fn(s)
	})).ServeHTTP(rec, req)
	return rec
}

func cookieNamed(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSessionHookIssuesRefreshesAndClearsTheTicket(t *testing.T) {
	codec, err := ticket.New(ticket.Config{Secret: "a shared secret of some length", IgnoreIP: true})
	if err != nil {
		t.Fatal(err)
	}
	e := newHookEnv(t, ticket.SessionHook{
		Issuer: &ticket.Issuer{Codec: codec},
		For: func(r *http.Request, user string) ticket.Ticket {
			return ticket.Ticket{UID: user, Tokens: []string{"editor"}, UserData: "from sesame"}
		},
	})
	find := func(rec *httptest.ResponseRecorder) *http.Cookie { return cookieNamed(rec, ticket.DefaultCookieName) }
	const client = "192.0.2.1:1234"

	rec := e.do("", client, func(s *sesame.Session) { s.Login("alice") })
	tc, sc := find(rec), cookieNamed(rec, sesame.DefaultCookieName)
	if tc == nil || sc == nil {
		t.Fatalf("login response cookies: %q", rec.Header().Values("Set-Cookie"))
	}
	got, _, err := codec.Parse(tc.Value, netip.MustParseAddr("192.0.2.1"))
	if err != nil || got.UID != "alice" || !got.HasAnyToken("editor") || got.UserData != "from sesame" {
		t.Fatalf("ticket = %+v, %v", got, err)
	}
	if !tc.HttpOnly || !tc.Secure {
		t.Errorf("ticket cookie lacks HttpOnly/Secure: %+v", tc)
	}

	cookie := sc.Value
	if rec := e.do(cookie, client, func(s *sesame.Session) { s.Put("k", 1) }); find(rec) != nil {
		t.Error("an ordinary write touched the ticket")
	}
	time.Sleep(hookIdleTimeout/20 + 50*time.Millisecond) // this read extends the session
	rec = e.do(cookie, client, func(s *sesame.Session) { s.User() })
	if tc := find(rec); tc == nil || tc.MaxAge < 0 {
		t.Errorf("extending the session did not refresh the ticket: %q", rec.Header().Values("Set-Cookie"))
	}
	rec = e.do(cookie, client, func(s *sesame.Session) { s.Destroy() })
	if tc := find(rec); tc == nil || tc.MaxAge >= 0 {
		t.Fatalf("logout did not clear the ticket: %q", rec.Header().Values("Set-Cookie"))
	}
	if rec := e.do("", client, func(s *sesame.Session) { s.Destroy() }); find(rec) != nil {
		t.Error("destroying an anonymous session touched the ticket")
	}
}

// TestSessionHookFailureKeepsTheLogin: a ticket that cannot be issued (an
// IPv6 client with IP binding on) is logged, and the login stands.
func TestSessionHookFailureKeepsTheLogin(t *testing.T) {
	codec, err := ticket.New(ticket.Config{Secret: "a shared secret of some length"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	e := newHookEnv(t, ticket.SessionHook{
		Issuer: &ticket.Issuer{Codec: codec},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	rec := e.do("", "[2001:db8::1]:1234", func(s *sesame.Session) { s.Login("alice") })
	if cookieNamed(rec, ticket.DefaultCookieName) != nil {
		t.Errorf("a ticket for an IPv6 client with IP binding on: %q", rec.Header().Values("Set-Cookie"))
	}
	sc := cookieNamed(rec, sesame.DefaultCookieName)
	if sc == nil || rec.Code != http.StatusOK {
		t.Fatalf("the login did not stand: %d %q", rec.Code, rec.Header().Values("Set-Cookie"))
	}
	e.do(sc.Value, "[2001:db8::1]:1234", func(s *sesame.Session) {
		if s.User() != "alice" {
			t.Errorf("User() = %q after the login", s.User())
		}
	})
	if !strings.Contains(logs.String(), "issuing the login ticket") {
		t.Errorf("the failure was not logged: %q", logs.String())
	}
}
