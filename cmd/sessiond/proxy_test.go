package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestReverseProxy(t *testing.T) {
	type seen struct {
		user, cookie, path, host string
		forged                   bool
	}
	got := make(chan seen, 10)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{user: r.Header.Get("X-Auth-User"), cookie: r.Header.Get("Cookie"), path: r.URL.RequestURI(), host: r.Host}
		for k := range r.Header {
			if headerKey(k) == "x-auth-user" && len(r.Header[k]) != 1 || k != "X-Auth-User" && headerKey(k) == "x-auth-user" {
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
	if res.StatusCode != 303 || res.Header.Get("Location") != pathLogin+"?back="+url.QueryEscape("/app/page?x=1") {
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
	res = c.post(pathLogin, url.Values{"user": {"alice"}, "password": {"correct horse"}, "back": {"/app/page?x=1"}})
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
	if res := c.get(pathHome); res.StatusCode != 200 || !strings.Contains(body(t, res), "Go to the application") {
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
		{pathFrom + "app/x?a=1&b=2", pathLogin + "?back=" + url.QueryEscape("/app/x?a=1&b=2")},
		{pathFrom + "/evil.example/", pathFrom + "evil.example/"}, // ServeMux cleans the path: a local path
		{pathFrom + "evil.example/", pathLogin + "?back=%2Fevil.example%2F"},
		{pathFrom, pathLogin},
	}
	for _, tt := range tests {
		res := c.get(tt.path)
		if res.StatusCode/100 != 3 || res.Header.Get("Location") != tt.want {
			t.Errorf("%s: %d %q, want %q", tt.path, res.StatusCode, res.Header.Get("Location"), tt.want)
		}
	}
}
