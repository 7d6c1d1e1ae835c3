package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
)

// nginxHead starts every nginx configuration of the tests: %[1]s is the
// temp dir. A configuration adds its server block and closes the http
// block.
const nginxHead = `daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
`

// nginxConf is the forward-auth set-up the README documents, with test
// paths and ports filled in: %[1]s the temp dir, %[2]s nginx's address,
// %[3]s sessiond's, %[4]s the upstream's.
const nginxConf = nginxHead + `

    server {
        listen %[2]s;

        # sessiond's pages: login, your sessions, logout.
        location /_sessiond/ {
            proxy_pass http://%[3]s;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }

        # The forward-auth check, for auth_request only.
        location = /_sessiond/auth {
            internal;
            proxy_pass http://%[3]s;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }

        # The protected application.
        location / {
            auth_request /_sessiond/auth;
            auth_request_set $auth_user $upstream_http_x_auth_user;
            auth_request_set $auth_cookie $upstream_http_set_cookie;
            add_header Set-Cookie $auth_cookie always;
            proxy_set_header X-Auth-User $auth_user;
            proxy_set_header Host $http_host;
            error_page 401 = @login;
            proxy_pass http://%[4]s;
        }

        location @login {
            return 302 /_sessiond/from$request_uri;
        }
    }
}
`

// freePort returns a loopback address with a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln := listenLoopback(t)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startNginx runs real nginx with nginxConf in front of sessiond (its base
// URL) and an upstream address, until the test ends, and returns nginx's
// base URL.
func startNginx(t *testing.T, sessiondBase, upstream string) string {
	t.Helper()
	return startNginxConf(t, nginxConf, sessiondBase, upstream)
}

// startNginxConf is startNginx with another configuration, which takes the
// same arguments as nginxConf.
func startNginxConf(t *testing.T, nginxConf, sessiondBase, upstream string) string {
	t.Helper()
	exe := needBinary(t, "/usr/sbin/nginx", "/usr/bin/nginx")
	dir := t.TempDir()
	addr := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, addr, strings.TrimPrefix(sessiondBase, "http://"), upstream), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-p", dir, "-c", conf)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "error.log")); err == nil {
				t.Logf("nginx error.log:\n%s", b)
			}
		}
	})
	waitListening(t, addr)
	return "http://" + addr
}

// TestNginxForwardAuth puts real nginx with auth_request in front of a tiny
// upstream, with sessiond answering the auth subrequests.
func TestNginxForwardAuth(t *testing.T) {
	needBinary(t, "/usr/sbin/nginx", "/usr/bin/nginx")

	// The upstream echoes the user header it got.
	seen := make(chan http.Header, 10)
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		fmt.Fprintf(w, "upstream: user=%q path=%s", r.Header.Get("X-Auth-User"), r.URL.RequestURI())
	})}
	upLn := listenLoopback(t)
	go up.Serve(upLn)
	defer up.Close()

	base, out, _ := startServe(t, "--data-dir", t.TempDir(), "--store", "memory://", "--trusted-proxies", "127.0.0.1")
	pw := firstPasswordRE.FindStringSubmatch(out.String())[1]
	front := startNginx(t, base, upLn.Addr().String())

	get := func(path string, cookie *http.Cookie, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", front+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// Unauthenticated, even with a forged header: sent to log in, by way
	// of /_sessiond/from, which keeps the original URI.
	res := get("/app/page?x=1", nil, map[string]string{"X-Auth-User": "admin"})
	res.Body.Close()
	loc := strings.TrimPrefix(res.Header.Get("Location"), front) // nginx makes redirects absolute
	if res.StatusCode != 302 || loc != "/_sessiond/from/app/page?x=1" {
		t.Fatalf("unauthenticated: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res = get(loc, nil, nil)
	res.Body.Close()
	wantLogin := pages.PathLogin + "?back=" + url.QueryEscape("/app/page?x=1")
	if res.StatusCode != 303 || res.Header.Get("Location") != wantLogin {
		t.Fatalf("from: %d %q, want %q", res.StatusCode, res.Header.Get("Location"), wantLogin)
	}
	if len(seen) != 0 {
		t.Fatal("the upstream was reached without a session")
	}
	// The auth endpoint itself is internal to nginx.
	res = get(pages.PathAuth, nil, nil)
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("external %s: %d, want 404", pages.PathAuth, res.StatusCode)
	}

	// Log in through nginx and come back.
	res, err := noRedirect.PostForm(front+pages.PathLogin, url.Values{"user": {"admin"}, "password": {pw}, "back": {"/app/page?x=1"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cookie := sessionCookie(res)
	if res.StatusCode != 303 || res.Header.Get("Location") != "/app/page?x=1" || cookie == nil {
		t.Fatalf("login via nginx: %d %q cookie=%v", res.StatusCode, res.Header.Get("Location"), cookie)
	}

	// Authenticated: the upstream sees the user, never the forged value.
	res = get("/app/page?x=1", cookie, map[string]string{"X-Auth-User": "root"})
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != `upstream: user="admin" path=/app/page?x=1` {
		t.Fatalf("authenticated: %d %q", res.StatusCode, b)
	}
	if h := <-seen; len(h.Values("X-Auth-User")) != 1 {
		t.Errorf("upstream got X-Auth-User %q", h.Values("X-Auth-User"))
	}

	// Logging out through nginx ends access.
	req, _ := http.NewRequest("POST", front+pages.PathLogout, nil)
	req.AddCookie(cookie)
	if res, err = noRedirect.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res = get("/app/page", cookie, nil)
	res.Body.Close()
	if res.StatusCode != 302 {
		t.Errorf("after logout: %d, want 302 to login", res.StatusCode)
	}
}

// waitListening waits until something accepts connections at addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens at %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNginxKeepsActiveSealedSessionAlive: with sealed sessions the idle
// deadline lives in the cookie, so an auth check that extends it answers
// with a new cookie, which nginx must pass on (the README's
// auth_request_set / add_header lines). Through real nginx, with a short
// idle timeout: a user active more often than the idle timeout keeps
// access well beyond it; once idle for longer, the user is sent to log in.
func TestNginxKeepsActiveSealedSessionAlive(t *testing.T) {
	needBinary(t, "/usr/sbin/nginx", "/usr/bin/nginx")
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user=%s", r.Header.Get("X-Auth-User"))
	})}
	upLn := listenLoopback(t)
	go up.Serve(upLn)
	defer up.Close()

	const idle = 2 * time.Second
	base, out, _ := startServe(t, "--data-dir", t.TempDir(), "--sealed", "--idle-timeout", idle.String(), "--lifetime", "1m", "--trusted-proxies", "127.0.0.1")
	pw := firstPasswordRE.FindStringSubmatch(out.String())[1]
	front := startNginx(t, base, upLn.Addr().String())

	res, err := noRedirect.PostForm(front+pages.PathLogin, url.Values{"user": {"admin"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cookie := sessionCookie(res)
	if cookie == nil {
		t.Fatalf("login via nginx: %d, no cookie", res.StatusCode)
	}
	// get requests the application as a browser would: with the cookie
	// it holds, keeping any new one it is given.
	get := func() *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", front+"/app", nil)
		req.AddCookie(cookie)
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if c := sessionCookie(res); c != nil {
			cookie = c
		}
		return res
	}

	// Active: a request every idle/8, for three idle timeouts.
	renewed := 0
	for start := time.Now(); time.Since(start) < 3*idle; time.Sleep(idle / 8) {
		res := get()
		if res.StatusCode != 200 {
			t.Fatalf("active user lost access after %v: %d %s", time.Since(start).Round(time.Millisecond), res.StatusCode, res.Header.Get("Location"))
		}
		if sessionCookie(res) != nil {
			renewed++
		}
	}
	if renewed == 0 {
		t.Error("nginx never passed on a renewed cookie")
	}
	// Idle for longer than the idle timeout: sent to log in.
	time.Sleep(idle + idle/2)
	if res := get(); res.StatusCode != 302 || !strings.Contains(res.Header.Get("Location"), pages.PathFrom) {
		t.Errorf("after %v idle: %d %q, want 302 to log in", idle+idle/2, res.StatusCode, res.Header.Get("Location"))
	}
}

// sessionCookie returns the session cookie a response sets, if any.
func sessionCookie(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "__Host-session" && c.Value != "" {
			return c
		}
	}
	return nil
}

// nginxCacheConf puts a shared cache in front of an application's public
// pages, as the README's cache-flag section documents: one cached copy of
// each page for every anonymous visitor, and every request that carries
// sessiond's flag cookie passed to the application. Same arguments as
// nginxConf.
const nginxCacheConf = nginxHead + `
    proxy_cache_path %[1]s/cache keys_zone=pages:1m;
    server {
        listen %[2]s;
        location /_sessiond/ {
            proxy_pass http://%[3]s;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }
        location / {
            proxy_pass http://%[4]s;
            proxy_cache pages;
            proxy_ignore_headers Vary;
            proxy_cache_bypass $cookie_sesame_auth;
            proxy_no_cache $cookie_sesame_auth;
            add_header X-Cache-Status $upstream_cache_status always;
        }
    }
}
`

// TestNginxCacheFlag runs sessiond with --cache-flag beside an application
// whose public pages real nginx caches: anonymous visitors get the cached
// page, a browser logged in through sessiond always reaches the
// application, and after logout it gets the cached page again.
func TestNginxCacheFlag(t *testing.T) {
	needBinary(t, "/usr/sbin/nginx", "/usr/bin/nginx")
	var hits atomic.Int64
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		fmt.Fprintf(w, "page %d", hits.Add(1))
	})}
	upLn := listenLoopback(t)
	go up.Serve(upLn)
	defer up.Close()
	base, out, _ := startServe(t, "--data-dir", t.TempDir(), "--cache-flag", "--trusted-proxies", "127.0.0.1")
	pw := firstPasswordRE.FindStringSubmatch(out.String())[1]
	front := startNginxConf(t, nginxCacheConf, base, upLn.Addr().String())

	cookies := map[string]*http.Cookie{"analytics": {Name: "analytics", Value: "x"}}
	do := func(method, path string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, front+path, strings.NewReader(form.Encode()))
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		for _, c := range res.Cookies() {
			if c.MaxAge < 0 {
				delete(cookies, c.Name)
			} else {
				cookies[c.Name] = c
			}
		}
		return res
	}
	page := func(want string) {
		t.Helper()
		before := hits.Load()
		res := do("GET", "/page", nil)
		cached := hits.Load() == before
		if status := res.Header.Get("X-Cache-Status"); (want == "cached") != cached {
			t.Fatalf("GET /page: X-Cache-Status %q, application reached: %v; want %s", status, !cached, want)
		}
	}
	page("fresh") // the first anonymous visit fills the cache
	page("cached")
	do("POST", pages.PathLogin, url.Values{"user": {"admin"}, "password": {pw}})
	if cookies["sesame_auth"] == nil {
		t.Fatalf("no flag cookie after logging in through sessiond: %v", cookies)
	}
	page("fresh")
	page("fresh")
	do("POST", pages.PathLogout, nil)
	if cookies["sesame_auth"] != nil {
		t.Fatal("the flag cookie survived logout")
	}
	page("cached")
}
