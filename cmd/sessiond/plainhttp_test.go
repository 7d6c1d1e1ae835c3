package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
)

// TestPlainHTTPLoginSaysWhy: a browser on http://vm.example:8080 would drop
// the cookie, so the login page says so and what to do, and a login from
// there comes back with that explanation instead of a silent loop.
func TestPlainHTTPLoginSaysWhy(t *testing.T) {
	_, h := newTestServer(t, nil)
	c := newClient(t, h)
	c.remote = "192.0.2.1:4000" // the browser itself, not a proxy

	page := body(t, c.do(httptest.NewRequest("GET", "http://vm.example:8080"+pages.PathLogin, nil)))
	if !strings.Contains(page, `id="plain-http"`) || !strings.Contains(page, "--insecure-plain-http") || !strings.Contains(page, "vm.example:8080") {
		t.Errorf("login page on plain HTTP says nothing:\n%s", page)
	}
	if page := body(t, c.get(pages.PathLogin)); strings.Contains(page, `id="plain-http"`) {
		t.Error("the warning shows on http://127.0.0.1")
	}

	form := url.Values{"user": {"alice"}, "password": {"correct horse"}, "back": {"/app"}}
	post := func(origin string) *http.Response {
		r := httptest.NewRequest("POST", "http://vm.example:8080"+pages.PathLogin, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", origin)
		return c.do(r)
	}
	res := post("http://vm.example:8080")
	page = body(t, res)
	if res.StatusCode != 400 || len(res.Cookies()) != 0 || !strings.Contains(page, "--insecure-plain-http") || !strings.Contains(page, `name="back" value="/app"`) {
		t.Errorf("login from plain HTTP: %d, cookies %v:\n%s", res.StatusCode, res.Cookies(), page)
	}
	// The same host over HTTPS (a TLS proxy's Origin) logs in.
	if res := post("https://vm.example:8080"); res.StatusCode != 303 {
		t.Errorf("login from https: %d", res.StatusCode)
	}
}

func TestPlainHTTPStartUpNote(t *testing.T) {
	tests := []struct {
		addr string
		opt  options
		note bool
	}{
		{"127.0.0.1:8080", options{}, false},
		{"[::1]:8080", options{}, false},
		{"0.0.0.0:8080", options{}, true},
		{"[::]:8080", options{}, true},
		{"192.168.1.20:8080", options{}, true},
		{"0.0.0.0:8443", options{TLSCert: "c.pem"}, false},
		{"0.0.0.0:8080", options{InsecurePlainHTTP: true}, false},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := plainHTTPListenNote(&tt.opt, addr); (got != "") != tt.note || (got != "" && !strings.Contains(got, "--insecure-plain-http")) {
			t.Errorf("%s %+v: note %q", tt.addr, tt.opt, got)
		}
	}
	_, out, _ := startServe(t, "--data-dir", t.TempDir(), "--store", "memory://", "--listen", "0.0.0.0:0")
	if !strings.Contains(out.String(), "--insecure-plain-http") {
		t.Errorf("listening on 0.0.0.0 over plain HTTP printed no note:\n%s", out.String())
	}
}

// TestBrowserOnPlainHTTPHost opens sessiond in headless Chromium as
// http://sessiond.test:PORT (a name that resolves to 127.0.0.1 but is not
// localhost): the login page warns, and logging in shows the warning
// again rather than the bare form.
func TestBrowserOnPlainHTTPHost(t *testing.T) {
	ctx, cancel := newBrowser(t, chromedp.Flag("host-resolver-rules", "MAP sessiond.test 127.0.0.1"))
	defer cancel()
	base, out, _ := startServe(t, "--data-dir", t.TempDir(), "--store", "memory://")
	pw := firstPasswordRE.FindStringSubmatch(out.String())[1]
	base = strings.Replace(base, "127.0.0.1", "sessiond.test", 1)

	if err := chromedp.Do(ctx, chromedp.Navigate(base+pages.PathLogin), chromedp.WaitVisible("#user")); err != nil {
		t.Fatal(err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('#plain-http').length")); err != nil || n != 1 {
		t.Errorf("no warning on the login page (%v)", err)
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys("#user", "admin"), chromedp.SendKeys("#password", pw)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Submit("#password"))); err != nil {
		t.Fatal(err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('#plain-http').length"))
	if err != nil || n != 1 {
		t.Fatalf("after logging in, at %s: no warning (%v)", loc, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text("#plain-http"))
	if err != nil || !strings.Contains(text, "--insecure-plain-http") {
		t.Errorf("after logging in: %q, %v", text, err)
	}
}
