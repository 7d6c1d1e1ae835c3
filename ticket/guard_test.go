package ticket

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// clock is a settable time source for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newIssuer(t *testing.T, clk *clock) *Issuer {
	t.Helper()
	return &Issuer{Codec: mustNew(t, Config{Timeout: time.Minute, Now: clk.now})}
}

// request builds a request from 127.0.0.1 carrying the given cookie values
// under the ticket name.
func request(target string, values ...string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	for _, v := range values {
		r.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: v})
	}
	return r
}

func issue(t *testing.T, iss *Issuer, tk Ticket) string {
	t.Helper()
	v, err := iss.Codec.Issue(tk, loopback)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s|%s|%s", User(r.Context()), strings.Join(Tokens(r.Context()), ","), UserData(r.Context()))
})

func TestGuard(t *testing.T) {
	clk := &clock{t0}
	iss := newIssuer(t, clk)
	valid := issue(t, iss, Ticket{UID: "alice", Tokens: []string{"editor", "reader"}, UserData: "Alice"})
	expired := issue(t, iss, Ticket{UID: "alice", Issued: t0.Add(-2 * time.Minute)})
	aging := issue(t, iss, Ticket{UID: "alice", Tokens: []string{"reader"}, Issued: t0.Add(-40 * time.Second)})

	tests := []struct {
		name       string
		guard      Guard
		anyOf      []string
		req        *http.Request
		wantStatus int
		wantBody   string
		wantLoc    string
		wantCookie string // prefix of the Set-Cookie header, "" for none
	}{
		{name: "valid", req: request("/p", valid), wantStatus: 200, wantBody: "alice|editor,reader|Alice"},
		{name: "token present", anyOf: []string{"admin", "editor"}, req: request("/p", valid), wantStatus: 200},
		{name: "no cookie, no login URL", req: request("/p"), wantStatus: 401},
		{name: "no cookie, login URL", guard: Guard{LoginURL: "https://login.example/in"},
			req: request("http://app.example/p?x=1"), wantStatus: 307,
			wantLoc: "https://login.example/in?back=" + url.QueryEscape("http://app.example/p?x=1")},
		{name: "login URL with query and back arg name", guard: Guard{LoginURL: "/in?lang=en", BackArgName: "came_from"},
			req: request("http://app.example/p"), wantStatus: 307,
			wantLoc: "/in?lang=en&came_from=" + url.QueryEscape("http://app.example/p")},
		{name: "garbage cookie", req: request("/p", "garbage"), wantStatus: 401},
		{name: "expired clears cookie", req: request("/p", expired), wantStatus: 401, wantCookie: "auth_tkt=; Path=/; Max-Age=0"},
		{name: "wrong IP", req: func() *http.Request { r := request("/p", valid); r.RemoteAddr = "127.0.0.2:1"; return r }(), wantStatus: 401},
		{name: "IPv6 client", req: func() *http.Request { r := request("/p", valid); r.RemoteAddr = "[::1]:1"; return r }(), wantStatus: 401},
		{name: "token missing", anyOf: []string{"admin"}, req: request("/p", valid), wantStatus: 403},
		{name: "token missing, unauth URL", guard: Guard{UnauthURL: "/denied"}, anyOf: []string{"admin"},
			req: request("http://app.example/p", valid), wantStatus: 307,
			wantLoc: "/denied?back=" + url.QueryEscape("http://app.example/p")},
		{name: "refresh", req: request("/p", aging), wantStatus: 200, wantBody: "alice|reader|", wantCookie: "auth_tkt="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.guard
			g.Issuer = iss
			w := httptest.NewRecorder()
			g.Handler(echo, tt.anyOf...).ServeHTTP(w, tt.req)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantBody != "" && w.Body.String() != tt.wantBody {
				t.Errorf("body %q, want %q", w.Body, tt.wantBody)
			}
			if got := w.Header().Get("Location"); got != tt.wantLoc {
				t.Errorf("Location %q, want %q", got, tt.wantLoc)
			}
			sc := w.Header().Get("Set-Cookie")
			if tt.wantCookie == "" && sc != "" || !strings.HasPrefix(sc, tt.wantCookie) {
				t.Errorf("Set-Cookie %q, want prefix %q", sc, tt.wantCookie)
			}
		})
	}
}

func TestGuardRefreshIssuesValidNewerTicket(t *testing.T) {
	clk := &clock{t0}
	iss := newIssuer(t, clk)
	aging := issue(t, iss, Ticket{UID: "alice", Tokens: []string{"reader"}, UserData: "x!y", Issued: t0.Add(-40 * time.Second)})
	w := httptest.NewRecorder()
	(&Guard{Issuer: iss}).Handler(echo).ServeHTTP(w, request("/p", aging))
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	clk.t = t0.Add(50 * time.Second) // the old ticket would be 90 s old: expired
	tk, _, err := iss.Authenticate(request("/p", cookies[0].Value))
	if err != nil {
		t.Fatalf("refreshed ticket: %v", err)
	}
	if tk.UID != "alice" || tk.UserData != "x!y" || len(tk.Tokens) != 1 || !tk.Issued.Equal(t0) {
		t.Fatalf("refreshed ticket = %+v", tk)
	}
}

func TestCookieAttributes(t *testing.T) {
	clk := &clock{t0}
	tests := []struct {
		name   string
		cfg    CookieConfig
		want   []string
		absent []string
	}{
		{"secure default", CookieConfig{}, []string{"auth_tkt=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"}, []string{"Domain", "Max-Age"}},
		{"plain HTTP development", CookieConfig{InsecureDevelopmentHTTP: true}, []string{"HttpOnly", "SameSite=Lax"}, []string{"Secure"}},
		{"shared with Apache", CookieConfig{Name: "tkt", Domain: "example.org", MaxAge: 90 * time.Minute, SameSite: http.SameSiteStrictMode},
			[]string{"tkt=", "Domain=example.org", "Max-Age=5400", "SameSite=Strict"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newIssuer(t, clk)
			iss.Cookie = tt.cfg
			w := httptest.NewRecorder()
			if err := iss.SetCookie(w, request("/"), Ticket{UID: "alice"}); err != nil {
				t.Fatal(err)
			}
			sc := w.Header().Get("Set-Cookie")
			for _, s := range tt.want {
				if !strings.Contains(sc, s) {
					t.Errorf("%q lacks %q", sc, s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(sc, s) {
					t.Errorf("%q has %q", sc, s)
				}
			}
			w = httptest.NewRecorder()
			iss.ClearCookie(w)
			if sc := w.Header().Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") || !strings.Contains(sc, "HttpOnly") {
				t.Errorf("clear: %q", sc)
			}
		})
	}
}

func TestSetCookieErrors(t *testing.T) {
	iss := newIssuer(t, &clock{t0})
	r := request("/")
	r.RemoteAddr = "[2001:db8::1]:443"
	if err := iss.SetCookie(httptest.NewRecorder(), r, Ticket{UID: "alice"}); !errors.Is(err, ErrNotIPv4) {
		t.Fatalf("IPv6 client: %v", err)
	}
	iss.ClientIP = func(*http.Request) netip.Addr { return loopback }
	w := httptest.NewRecorder()
	if err := iss.SetCookie(w, r, Ticket{UID: "alice"}); err != nil {
		t.Fatalf("ClientIP hook: %v", err)
	}
	iss.Cookie.Name = "bad name"
	w = httptest.NewRecorder()
	if err := iss.SetCookie(w, request("/"), Ticket{UID: "alice"}); err == nil || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("bad cookie name: err %v, header %q", err, w.Header().Get("Set-Cookie"))
	}
}

func TestAuthenticateSeveralCookies(t *testing.T) {
	clk := &clock{t0}
	iss := newIssuer(t, clk)
	older := issue(t, iss, Ticket{UID: "alice", UserData: "old", Issued: t0.Add(-10 * time.Second)})
	newer := issue(t, iss, Ticket{UID: "alice", UserData: "new"})
	mallory := issue(t, iss, Ticket{UID: "mallory"})
	tests := []struct {
		name     string
		values   []string
		wantData string
		wantErr  error
	}{
		{"none", nil, "", ErrNoTicket},
		{"newest wins", []string{older, newer}, "new", nil},
		{"newest wins, either order", []string{newer, older}, "new", nil},
		{"invalid ones ignored", []string{"junk", older}, "old", nil},
		{"different users", []string{older, mallory}, "", ErrAmbiguous},
		{"only invalid", []string{"junk"}, "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk, _, err := iss.Authenticate(request("/", tt.values...))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tk.UserData != tt.wantData {
				t.Fatalf("data %q, want %q", tk.UserData, tt.wantData)
			}
		})
	}
}

func TestContextAccessorsOutsideGuard(t *testing.T) {
	r := request("/")
	if _, ok := FromContext(r.Context()); ok || User(r.Context()) != "" || Tokens(r.Context()) != nil || UserData(r.Context()) != "" {
		t.Fatal("empty context yields a ticket")
	}
}
