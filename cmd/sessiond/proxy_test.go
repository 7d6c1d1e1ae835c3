package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
)

// sameHeader reports whether an application that reads headers the way
// CGI-style servers do (case and '_' versus '-' folded) takes a and b for
// the same header.
func sameHeader(a, b string) bool {
	return strings.EqualFold(strings.ReplaceAll(a, "_", "-"), strings.ReplaceAll(b, "_", "-"))
}

func TestReverseProxy(t *testing.T) {
	type seen struct {
		user, cookie, path, host string
		forged                   bool
	}
	got := make(chan seen, 10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{user: r.Header.Get("X-Auth-User"), cookie: r.Header.Get("Cookie"), path: r.URL.RequestURI(), host: r.Host}
		for k := range r.Header {
			if sameHeader(k, "X-Auth-User") && len(r.Header[k]) != 1 || k != "X-Auth-User" && sameHeader(k, "X-Auth-User") {
				s.forged = true
			}
		}
		got <- s
		io.WriteString(w, "upstream says hi")
	}))
	defer up.Close()
	_, h := newTestServer(t, func(o *options) { o.Upstream = up.URL })
	c := newClient(t, h)

	// Anonymous GET: to the login page, with the way back.
	res := c.get("/app/page?x=1")
	if res.StatusCode != 303 || res.Header.Get("Location") != pages.PathLogin+"?back="+url.QueryEscape("/app/page?x=1") {
		t.Fatalf("anonymous GET: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// Anonymous POST: 401, nothing reaches the upstream.
	if res := c.post("/app/api", nil); res.StatusCode != 401 {
		t.Fatalf("anonymous POST: %d", res.StatusCode)
	}
	// A forged header alone does not get in.
	r := httptest.NewRequest("GET", "http://127.0.0.1:8080/app", nil)
	r.Header.Set("X-Auth-User", "admin")
	if res := c.do(r); res.StatusCode != 303 {
		t.Fatalf("forged header without session: %d", res.StatusCode)
	}
	if len(got) != 0 {
		t.Fatal("upstream reached without a session")
	}

	// Log in and come back.
	res = c.post(pages.PathLogin, url.Values{"user": {"alice"}, "password": {"correct horse"}, "back": {"/app/page?x=1"}})
	if res.StatusCode != 303 || res.Header.Get("Location") != "/app/page?x=1" {
		t.Fatalf("login: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	r = httptest.NewRequest("GET", "http://127.0.0.1:8080/app/page?x=1", nil)
	r.Header["X-Auth-User"] = []string{"admin"}
	r.Header["X_Auth_User"] = []string{"admin"}
	r.Header.Set("Cookie", "theme=dark")
	res = c.do(r)
	if b := body(t, res); res.StatusCode != 200 || b != "upstream says hi" {
		t.Fatalf("proxied: %d %q", res.StatusCode, b)
	}
	s := <-got
	if s.user != "alice" || s.forged {
		t.Errorf("upstream saw user %q (forged copies: %v)", s.user, s.forged)
	}
	if strings.Contains(s.cookie, "__Host-session") || !strings.Contains(s.cookie, "theme=dark") {
		t.Errorf("upstream saw cookies %q", s.cookie)
	}
	if s.path != "/app/page?x=1" || s.host != "127.0.0.1:8080" {
		t.Errorf("upstream saw %q on host %q", s.path, s.host)
	}
	// sessiond's own paths are not proxied.
	if res := c.get(pages.PathHome); res.StatusCode != 200 || !strings.Contains(body(t, res), "Go to the application") {
		t.Errorf("home in proxy mode: %d", res.StatusCode)
	}
	// Default back in proxy mode is the application.
	c2 := newClient(t, h)
	if res := c2.login("bob", "correct horse"); res.Header.Get("Location") != "/" {
		t.Errorf("proxy-mode login goes to %q", res.Header.Get("Location"))
	}
}

func TestFromRedirectsToLoginWithBack(t *testing.T) {
	_, h := newTestServer(t, nil)
	c := newClient(t, h)
	tests := []struct{ path, want string }{
		{pages.PathFrom + "app/x?a=1&b=2", pages.PathLogin + "?back=" + url.QueryEscape("/app/x?a=1&b=2")},
		{pages.PathFrom + "/evil.example/", pages.PathFrom + "evil.example/"}, // ServeMux cleans the path: a local path
		{pages.PathFrom + "evil.example/", pages.PathLogin + "?back=%2Fevil.example%2F"},
		{pages.PathFrom, pages.PathLogin},
	}
	for _, tt := range tests {
		res := c.get(tt.path)
		if res.StatusCode/100 != 3 || res.Header.Get("Location") != tt.want {
			t.Errorf("%s: %d %q, want %q", tt.path, res.StatusCode, res.Header.Get("Location"), tt.want)
		}
	}
}

// TestProxyStripsIdentityHeaders sends a logged-in request through the
// real proxy with every kind of identity header a client could forge:
// none reaches the upstream, X-Real-IP is the client's address as
// sessiond knows it, and a response without Cache-Control comes back
// private.
func TestProxyStripsIdentityHeaders(t *testing.T) {
	seen := make(chan http.Header, 10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		if r.URL.Path == "/public" {
			w.Header().Set("Cache-Control", "public, max-age=60")
		}
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	_, h := newTestServer(t, func(o *options) {
		o.Upstream = up.URL
		o.StripHeaders = []string{"X-Tenant-Admin"}
		behindProxy(o)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	cookie := loginHTTP(t, srv.URL, "alice", "correct horse")

	forged := map[string]string{
		"Remote-User":         "admin",
		"X-Remote-User":       "admin",
		"X_Remote_User":       "admin",
		"X-Forwarded-User":    "admin",
		"X-Forwarded-Email":   "admin@example.com",
		"X-Auth-Request-User": "admin",
		"X-Webauth-User":      "admin",
		"X-Real-IP":           "10.9.9.9",
		"X_Real_IP":           "10.9.9.9",
		"True-Client-IP":      "10.9.9.9",
		"Forwarded":           "for=10.9.9.9",
		"X_Forwarded_For":     "10.9.9.9",
		"X-Tenant-Admin":      "yes", // --strip-headers
	}
	tests := []struct {
		name, path, xff   string
		wantIP, wantCache string
	}{
		{"direct client", "/app", "", "127.0.0.1", "private"},
		{"behind a trusted proxy", "/app", "203.0.113.5", "203.0.113.5", "private"},
		{"IPv6 client behind a trusted proxy", "/app", "2001:db8::7", "2001:db8::7", "private"},
		{"upstream chose caching", "/public", "", "127.0.0.1", "public, max-age=60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
			req.AddCookie(cookie)
			for k, v := range forged {
				req.Header[k] = []string{v} // as sent, underscores and all
			}
			req.Header.Set("X-Request-Id", "kept")
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			res, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("%d", res.StatusCode)
			}
			if got := res.Header.Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("Cache-Control %q, want %q", got, tt.wantCache)
			}
			got := <-seen
			// What sessiond sets itself; anything else named like a
			// forged header is the client's.
			set := map[string]string{"X-Real-Ip": tt.wantIP, "X-Forwarded-For": "127.0.0.1"}
			for k, v := range got {
				for f := range forged {
					if sameHeader(k, f) && (len(v) != 1 || v[0] != set[k]) {
						t.Errorf("upstream got %s: %q", k, v)
					}
				}
			}
			if ip := got.Values("X-Real-Ip"); len(ip) != 1 || ip[0] != tt.wantIP {
				t.Errorf("X-Real-IP %q, want %q", ip, tt.wantIP)
			}
			if got.Get("X-Auth-User") != "alice" || got.Get("X-Request-Id") != "kept" {
				t.Errorf("upstream got user %q, X-Request-Id %q", got.Get("X-Auth-User"), got.Get("X-Request-Id"))
			}
		})
	}
}
