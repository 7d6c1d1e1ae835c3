package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/dbsc"
	"github.com/sesame-go/sesame/dbsc/dbsctest"
)

// TestDBSCOptions: DBSC is on when sessiond serves HTTPS itself, or when
// told so (behind a proxy that terminates HTTPS), and never over plain
// HTTP.
func TestDBSCOptions(t *testing.T) {
	tests := []struct {
		args    []string
		on      bool
		wantErr string
	}{
		{nil, false, ""},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, true, ""},
		{[]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--dbsc", "off"}, false, ""},
		{[]string{"--dbsc", "on"}, true, ""},
		{[]string{"--dbsc", "on", "--insecure-plain-http"}, false, "--insecure-plain-http"},
		{[]string{"--dbsc", "yes"}, false, "want auto, on or off"},
		{[]string{"--dbsc", "on", "--dbsc-cookie-lifetime", "500ms"}, false, "under a second"},
	}
	for _, tc := range tests {
		o, err := parseOptions(append([]string{"--data-dir", t.TempDir()}, tc.args...), func(string) string { return "" }, io.Discard)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: %v; want an error about %s", tc.args, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case o.dbscEnabled() != tc.on:
			t.Errorf("%q: DBSC on = %v; want %v", tc.args, o.dbscEnabled(), tc.on)
		}
	}
}

// TestDBSCThroughSessiond: a browser speaking DBSC (the Go client) logs
// in through the login form and binds its session; the sessions page
// marks it device-bound, a copy of its session cookie alone is logged out,
// and the upstream application gets neither the session cookie nor the
// bound one.
func TestDBSCThroughSessiond(t *testing.T) {
	got := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Cookie")
		io.WriteString(w, "upstream")
	}))
	defer up.Close()
	s, h := newTestServer(t, func(o *options) { o.DBSC, o.Upstream = dbscOn, up.URL })
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	key, err := dbsctest.NewKey(dbsc.ES256)
	if err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	br := &dbsctest.Browser{Base: srv.URL, Client: client, Key: key}
	res, err := br.PostForm(pages.PathLogin, url.Values{"user": {"alice"}, "password": {"correct horse"}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %s, %v", dbsctest.Status(res), err)
	}
	if n := len(br.Sessions()); n != 1 || !strings.HasSuffix(br.Sessions()[0].RefreshURL, pathDBSC+"refresh") {
		t.Fatalf("bound sessions after login: %+v", br.Sessions())
	}
	res, err = br.Get(pages.PathSessions)
	if err != nil || !strings.Contains(dbsctest.Status(res), "Device-bound") {
		t.Errorf("sessions page: %s, %v", dbsctest.Status(res), err)
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/app", nil)
	req.Header.Set("Cookie", "theme=dark")
	if res, err := br.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("proxied: %s, %v", dbsctest.Status(res), err)
	}
	if c := <-got; c != "theme=dark" {
		t.Errorf("upstream saw cookies %q", c)
	}

	thief := &dbsctest.Browser{Base: srv.URL, Client: client}
	thief.SetCookie(s.mgr.CookieName(), br.Cookies()[s.mgr.CookieName()], time.Time{})
	if res, err := thief.Get(pages.PathHome); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Errorf("the session cookie alone: %s, %v", dbsctest.Status(res), err)
	}
}
