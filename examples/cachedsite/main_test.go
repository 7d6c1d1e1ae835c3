package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sesame-go/sesame/cacheflag"
	"github.com/sesame-go/sesame/internal/nginxtest"
	"github.com/sesame-go/sesame/store/memstore"
)

// cacheConf is the README's nginx configuration: a shared cache that
// keeps one copy of each anonymous page for every visitor, whatever other
// cookies they carry (it ignores Vary: Cookie), and passes every request
// carrying the flag cookie to the application.
const cacheConf = `
    proxy_cache_path %[1]s/cache keys_zone=pages:1m;
    server {
        listen %[2]s;
        location / {
            proxy_pass http://%[3]s;
            proxy_cache pages;
            proxy_ignore_headers Vary;
            proxy_cache_bypass $cookie_sesame_auth;
            proxy_no_cache $cookie_sesame_auth;
            add_header X-Cache-Status $upstream_cache_status always;
        }
    }
`

// browser keeps cookies by hand (the flag and the session cookie are
// Secure, and nginx is on plain loopback HTTP).
type browser struct {
	t       *testing.T
	base    string
	cookies map[string]string
}

func (b *browser) do(method, path string, form url.Values) (status int, cache, body string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for n, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: n, Value: v})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return resp.StatusCode, resp.Header.Get("X-Cache-Status"), string(raw)
}

var rendersRE = regexp.MustCompile(`rendered by the application (\d+) time`)

func renders(t *testing.T, body string) string {
	t.Helper()
	m := rendersRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no render count in %q", body)
	}
	return m[1]
}

// TestNginxCachesAnonymousPagesOnly runs the site behind real nginx with
// proxy_cache: anonymous pages come from the cache, a logged-in browser's
// requests always reach the application, and after logout the browser is
// anonymous to the cache again.
func TestNginxCachesAnonymousPagesOnly(t *testing.T) {
	nginxtest.Need(t)
	store, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s, err := newSite(store, false)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{Handler: s.handler()}
	go app.Serve(ln)
	defer app.Close()
	front := nginxtest.Start(t, func(dir, listen string) string {
		return fmt.Sprintf(cacheConf, dir, listen, ln.Addr())
	})

	anon := &browser{t: t, base: front, cookies: map[string]string{"analytics": "xyz"}}
	_, first, body := anon.do("GET", "/", nil)
	n := renders(t, body)
	for i := range 3 {
		_, cache, body := anon.do("GET", "/", nil)
		if cache != "HIT" || renders(t, body) != n {
			t.Fatalf("anonymous request %d: X-Cache-Status %q, rendered %s times (first: %q, %s); want a cache hit", i+2, cache, renders(t, body), first, n)
		}
	}
	if s.renders.Load() != 1 {
		t.Fatalf("the application rendered %d pages for 4 anonymous requests; want 1", s.renders.Load())
	}

	alice := &browser{t: t, base: front, cookies: map[string]string{"analytics": "abc"}}
	if status, _, _ := alice.do("POST", "/login", url.Values{"user": {"alice"}}); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	if alice.cookies[cacheflag.DefaultName] == "" {
		t.Fatalf("no flag cookie after login: %v", alice.cookies)
	}
	before := s.renders.Load()
	for i := range 3 {
		_, cache, body := alice.do("GET", "/", nil)
		if !strings.Contains(body, `<b id="user">alice</b>`) || cache == "HIT" {
			t.Fatalf("logged-in request %d: X-Cache-Status %q, body %q; want the application's own page for alice", i+1, cache, body)
		}
	}
	if got := s.renders.Load() - before; got != 3 {
		t.Errorf("3 logged-in requests reached the application %d times", got)
	}
	// Still cached for anonymous visitors meanwhile.
	if _, cache, _ := anon.do("GET", "/", nil); cache != "HIT" {
		t.Errorf("anonymous request after alice's: X-Cache-Status %q", cache)
	}

	alice.do("POST", "/logout", nil)
	if _, ok := alice.cookies[cacheflag.DefaultName]; ok {
		t.Fatalf("the flag cookie survived logout: %v", alice.cookies)
	}
	if _, cache, body := alice.do("GET", "/", nil); strings.Contains(body, "alice") || cache != "HIT" {
		t.Errorf("after logout: X-Cache-Status %q, body %q; want the cached anonymous page", cache, body)
	}
}
