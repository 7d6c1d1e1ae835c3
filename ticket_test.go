package sesame_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/ticket"
)

func TestLoginSharesATicketAndLogoutClearsIt(t *testing.T) {
	codec, err := ticket.New(ticket.Config{Secret: "a shared secret of some length", IgnoreIP: true})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, sesame.Config{
		Ticket: &ticket.Issuer{Codec: codec},
		TicketFor: func(r *http.Request, user string) ticket.Ticket {
			return ticket.Ticket{UID: user, Tokens: []string{"editor"}, UserData: "from sesame"}
		},
	})
	find := func(rec *httptest.ResponseRecorder) *http.Cookie {
		for _, c := range rec.Result().Cookies() {
			if c.Name == ticket.DefaultCookieName {
				return c
			}
		}
		return nil
	}
	rec := e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Login("alice") })
	tc := find(rec)
	if tc == nil || sessionCookie(rec) == nil {
		t.Fatalf("login response cookies: %q", rec.Header().Values("Set-Cookie"))
	}
	got, _, err := codec.Parse(tc.Value, netip.MustParseAddr("192.0.2.1"))
	if err != nil || got.UID != "alice" || !got.HasAnyToken("editor") || got.UserData != "from sesame" {
		t.Fatalf("ticket = %+v, %v", got, err)
	}
	if !tc.HttpOnly || !tc.Secure {
		t.Errorf("ticket cookie lacks HttpOnly/Secure: %+v", tc)
	}

	cookie := sessionCookie(rec).Value
	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Put("k", 1) })
	if find(rec) != nil {
		t.Error("an ordinary write touched the ticket")
	}
	e.clock.Advance(2 * time.Minute) // past IdleTimeout/20: this read extends the session
	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.User() })
	if tc := find(rec); tc == nil || tc.MaxAge < 0 {
		t.Errorf("extending the session did not refresh the ticket: %q", rec.Header().Values("Set-Cookie"))
	}
	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.User() })
	if find(rec) != nil {
		t.Error("a read between extensions re-issued the ticket")
	}
	rec = e.do(cookie, func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Logout() })
	if tc := find(rec); tc == nil || tc.MaxAge >= 0 {
		t.Fatalf("logout did not clear the ticket: %q", rec.Header().Values("Set-Cookie"))
	}
	rec = e.do("", func(s *sesame.Session, w http.ResponseWriter, r *http.Request) { s.Destroy() })
	if find(rec) != nil {
		t.Error("destroying an anonymous session touched the ticket")
	}
}
