package cacheflag_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/cacheflag"
	"github.com/sesame-go/sesame/store/memstore"
)

// run sends one request with the given cookies through m, running fn as
// the handler, and returns the cookies the response set.
func run(t *testing.T, m *sesame.Manager, cookies map[string]string, fn func(*sesame.Session)) map[string]*http.Cookie {
	t.Helper()
	req := httptest.NewRequest("GET", "https://example.test/", nil)
	for n, v := range cookies {
		req.AddCookie(&http.Cookie{Name: n, Value: v})
	}
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sesame.FromContext(r.Context())
		if err != nil {
			t.Fatal(err)
		}
		fn(s)
	})).ServeHTTP(rec, req)
	set := map[string]*http.Cookie{}
	for _, c := range rec.Result().Cookies() {
		set[c.Name] = c
	}
	return set
}

func TestFlagFollowsTheLoggedInSession(t *testing.T) {
	const idle = time.Second
	store, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m, err := sesame.New(sesame.Config{Store: store, IdleTimeout: idle, Hooks: []sesame.Hook{cacheflag.Hook{}}})
	if err != nil {
		t.Fatal(err)
	}
	var info sesame.SessionInfo
	set := run(t, m, nil, func(s *sesame.Session) { s.Put("cart", 1) })
	if _, ok := set[cacheflag.DefaultName]; ok {
		t.Fatal("an anonymous session got the flag")
	}
	anon := set[sesame.DefaultCookieName].Value

	set = run(t, m, map[string]string{sesame.DefaultCookieName: anon}, func(s *sesame.Session) { s.Login("alice") })
	session := set[sesame.DefaultCookieName].Value
	run(t, m, map[string]string{sesame.DefaultCookieName: session}, func(s *sesame.Session) { info = s.Info() })
	flag := set[cacheflag.DefaultName]
	switch {
	case flag == nil:
		t.Fatal("no flag after login")
	case flag.Value != "1" || !flag.HttpOnly || !flag.Secure || flag.Path != "/" || flag.Domain != "":
		t.Errorf("flag cookie = %+v", flag)
	case !flag.Expires.Equal(info.IdleDeadline.Truncate(time.Second)):
		t.Errorf("flag expires %v; want the session's idle deadline %v", flag.Expires, info.IdleDeadline)
	}
	both := map[string]string{sesame.DefaultCookieName: session, cacheflag.DefaultName: "1"}

	// An idle-deadline extension renews the flag.
	time.Sleep(idle/20 + 20*time.Millisecond)
	set = run(t, m, both, func(s *sesame.Session) { s.User() })
	if f := set[cacheflag.DefaultName]; f == nil || !f.Expires.After(flag.Expires.Add(-time.Second)) {
		t.Errorf("the extension did not renew the flag: %+v", f)
	}

	// Expired: the next request clears the flag a browser still sends.
	time.Sleep(idle + 100*time.Millisecond)
	set = run(t, m, both, func(s *sesame.Session) { s.User() })
	if f := set[cacheflag.DefaultName]; f == nil || f.MaxAge >= 0 {
		t.Errorf("the flag of an expired session was not cleared: %+v", f)
	}

	// Logout clears it; without the flag in the request there is nothing
	// to clear.
	set = run(t, m, nil, func(s *sesame.Session) { s.Login("bob") })
	bob := map[string]string{sesame.DefaultCookieName: set[sesame.DefaultCookieName].Value, cacheflag.DefaultName: "1"}
	if f := run(t, m, bob, func(s *sesame.Session) { s.Destroy() })[cacheflag.DefaultName]; f == nil || f.MaxAge >= 0 {
		t.Errorf("logout did not clear the flag: %+v", f)
	}
	set = run(t, m, nil, func(s *sesame.Session) { s.Login("carol") })
	carol := map[string]string{sesame.DefaultCookieName: set[sesame.DefaultCookieName].Value}
	if f, ok := run(t, m, carol, func(s *sesame.Session) { s.Destroy() })[cacheflag.DefaultName]; ok {
		t.Errorf("logout without a flag in the request set one: %+v", f)
	}
}
