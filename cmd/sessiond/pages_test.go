package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/ops"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
	"github.com/sesame-go/sesame/store/memstore"
)

func TestLoginPagesAndForwardAuth(t *testing.T) {
	_, h := newTestServer(t, nil)
	c := newClient(t, h)

	steps := []struct {
		name       string
		do         func() *http.Response
		status     int
		location   string // expected Location prefix
		bodyHas    string
		authHeader string // for forward auth: expected X-Auth-User
	}{
		{"anonymous home redirects to login", func() *http.Response { return c.get(pages.PathHome) }, 303, pages.PathLogin + "?back=", "", ""},
		{"anonymous forward auth is 401", func() *http.Response { return c.get(pages.PathAuth) }, 401, "", "", ""},
		{"login page renders", func() *http.Response { return c.get(pages.PathLogin) }, 200, "", `name="password"`, ""},
		{"wrong password", func() *http.Response { return c.login("alice", "wrong") }, 401, "", `<div class="notice error" role="alert">Wrong user name or password.`, ""},
		{"unknown user", func() *http.Response { return c.login("mallory", "correct horse") }, 401, "", "Wrong user name", ""},
		{"invalid user name", func() *http.Response { return c.login("a b:c", "x") }, 401, "", "Wrong user name", ""},
		{"right password", func() *http.Response { return c.login("alice", "correct horse") }, 303, pages.PathHome, "", ""},
		{"home shows the user", func() *http.Response { return c.get(pages.PathHome) }, 200, "", "Hello, alice", ""},
		{"sessions lists this one", func() *http.Response { return c.get(pages.PathSessions) }, 200, "", "This session", ""},
		{"device parsed", func() *http.Response { return c.get(pages.PathSessions) }, 200, "", "Firefox 128 on Linux", ""},
		{"forward auth is 200 with the user", func() *http.Response { return c.get(pages.PathAuth) }, 200, "", "", "alice"},
		{"login page when logged in goes back", func() *http.Response { return c.get(pages.PathLogin + "?back=/app") }, 303, "/app", "", ""},
		{"logout", func() *http.Response { return c.post(pages.PathLogout, nil) }, 303, pages.PathLogin + "?msg=loggedout", "", ""},
		{"forward auth after logout is 401", func() *http.Response { return c.get(pages.PathAuth) }, 401, "", "", ""},
		{"logged-out notice", func() *http.Response { return c.get(pages.PathLogin + "?msg=loggedout") }, 200, "", "You are logged out.", ""},
		{"unknown page is 404", func() *http.Response { return c.get(pages.Prefix + "nope") }, 404, "", "no such page", ""},
		{"root redirects home", func() *http.Response { return c.get("/") }, 302, pages.PathHome, "", ""},
		{"healthz", func() *http.Response { return c.get(pages.PathHealth) }, 200, "", "ok", ""},
		{"readyz checks the store", func() *http.Response { return c.get(pages.PathReady) }, 200, "", "ok", ""},
		{"no metrics on the main listener", func() *http.Response { return c.get("/metrics") }, 404, "", "", ""},
	}
	for _, st := range steps {
		res := st.do()
		b := body(t, res)
		if res.StatusCode != st.status {
			t.Fatalf("%s: status %d, want %d; body %q", st.name, res.StatusCode, st.status, b)
		}
		if st.location != "" && !strings.HasPrefix(res.Header.Get("Location"), st.location) {
			t.Errorf("%s: Location %q, want prefix %q", st.name, res.Header.Get("Location"), st.location)
		}
		if st.bodyHas != "" && !strings.Contains(b, st.bodyHas) {
			t.Errorf("%s: body lacks %q:\n%s", st.name, st.bodyHas, b)
		}
		if got := res.Header.Get("X-Auth-User"); got != st.authHeader {
			t.Errorf("%s: X-Auth-User %q, want %q", st.name, got, st.authHeader)
		}
	}
}

func TestLoginRedirectsToSafeBackOnly(t *testing.T) {
	_, h := newTestServer(t, nil)
	tests := []struct{ back, want string }{
		{"/app/page?x=1", "/app/page?x=1"},
		{"//evil.example/", pages.PathHome},
		{"https://evil.example/", pages.PathHome},
		{"/\\evil.example", pages.PathHome},
		{"", pages.PathHome},
	}
	for _, tt := range tests {
		c := newClient(t, h)
		res := c.post(pages.PathLogin, url.Values{"user": {"alice"}, "password": {"correct horse"}, "back": {tt.back}})
		if res.StatusCode != 303 || res.Header.Get("Location") != tt.want {
			t.Errorf("back %q: %d %q, want 303 %q", tt.back, res.StatusCode, res.Header.Get("Location"), tt.want)
		}
	}
}

func TestRevokeOneOthersAndEverywhere(t *testing.T) {
	s, h := newTestServer(t, nil)
	a, b, c := newClient(t, h), newClient(t, h), newClient(t, h)
	b.ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile/15E148 Safari/604.1"
	for _, cl := range []*client{a, b, c} {
		if res := cl.login("alice", "correct horse"); res.StatusCode != 303 {
			t.Fatalf("login: %d", res.StatusCode)
		}
	}
	infos, err := s.mgr.Sessions(t.Context(), "alice")
	if err != nil || len(infos) != 3 {
		t.Fatalf("Sessions: %d, %v", len(infos), err)
	}
	page := body(t, a.get(pages.PathSessions))
	if !strings.Contains(page, "Safari 17 on iPhone") {
		t.Errorf("sessions page lacks the iPhone session:\n%s", page)
	}
	// a revokes b by handle (the one whose UA is the iPhone's).
	var handleB string
	for _, in := range infos {
		if strings.Contains(in.UserAgent, "iPhone") {
			handleB = in.Handle
		}
	}
	if res := a.post(pages.PathRevoke, url.Values{"handle": {handleB}}); res.StatusCode != 303 || res.Header.Get("Location") != pages.PathSessions {
		t.Fatalf("revoke: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := b.get(pages.PathAuth); res.StatusCode != 401 {
		t.Errorf("revoked session still authenticates: %d", res.StatusCode)
	}
	if page := body(t, a.get(pages.PathSessions)); !strings.Contains(page, "Session ended.") {
		t.Errorf("no flash after revoke")
	}
	// Revoking again, or a handle of another user, reports "ended".
	if res := a.post(pages.PathRevoke, url.Values{"handle": {handleB}}); res.Header.Get("Location") != pages.PathSessions+"?msg=ended" {
		t.Errorf("second revoke: %q", res.Header.Get("Location"))
	}
	// Revoke others: c ends, a stays.
	if res := a.post(pages.PathRevokeOthers, nil); res.StatusCode != 303 {
		t.Fatalf("revoke others: %d", res.StatusCode)
	}
	if res := c.get(pages.PathAuth); res.StatusCode != 401 {
		t.Errorf("other session survived revoke-others: %d", res.StatusCode)
	}
	if res := a.get(pages.PathAuth); res.StatusCode != 200 {
		t.Errorf("current session ended by revoke-others: %d", res.StatusCode)
	}
	// Everywhere: log in d, then a logs out everywhere; both end.
	d := newClient(t, h)
	d.login("alice", "correct horse")
	if res := a.post(pages.PathLogoutAll, url.Values{"confirm": {"yes"}}); res.StatusCode != 303 || res.Header.Get("Location") != pages.PathLogin+"?msg=everywhere" {
		t.Fatalf("logout-all: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	for name, cl := range map[string]*client{"a": a, "d": d} {
		if res := cl.get(pages.PathAuth); res.StatusCode != 401 {
			t.Errorf("%s still logged in after logout-all", name)
		}
	}
	// Revoking your own session by handle is a logout.
	e := newClient(t, h)
	e.login("bob", "correct horse")
	infos, _ = s.mgr.Sessions(t.Context(), "bob")
	if res := e.post(pages.PathRevoke, url.Values{"handle": {infos[0].Handle}}); res.Header.Get("Location") != pages.PathLogin+"?msg=loggedout" {
		t.Errorf("revoking own session: %q", res.Header.Get("Location"))
	}
}

func TestCrossOriginPostsRefused(t *testing.T) {
	_, h := newTestServer(t, nil)
	c := newClient(t, h)
	c.login("alice", "correct horse")
	for _, path := range []string{pages.PathLogin, pages.PathLogout, pages.PathLogoutAll, pages.PathRevokeOthers, pages.PathRevoke} {
		r := httptest.NewRequest("POST", "http://127.0.0.1:8080"+path, strings.NewReader("user=alice&password=correct+horse"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		if res := c.do(r); res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", path, res.StatusCode)
		}
		r = httptest.NewRequest("POST", "http://127.0.0.1:8080"+path, nil)
		r.Header.Set("Origin", "https://evil.example")
		if res := c.do(r); res.StatusCode != http.StatusForbidden {
			t.Errorf("foreign-Origin POST %s: %d, want 403", path, res.StatusCode)
		}
	}
	if res := c.get(pages.PathAuth); res.StatusCode != 200 {
		t.Errorf("session ended by refused requests: %d", res.StatusCode)
	}
}

func TestFailedLoginsAreRateLimited(t *testing.T) {
	_, h := newTestServer(t, nil)
	c := newClient(t, h)
	for i := range 5 {
		if res := c.login("alice", "wrong"); res.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, res.StatusCode)
		}
	}
	res := c.login("alice", "correct horse")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d, Retry-After %q; want 429", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// Another user from another address is not affected.
	other := newClient(t, h)
	other.remote = "198.51.100.7:1"
	if res := other.login("bob", "correct horse"); res.StatusCode != 303 {
		t.Errorf("bob: %d", res.StatusCode)
	}
	// One address trying many users is stopped by the per-IP bucket.
	spray := newClient(t, h)
	spray.remote = "203.0.113.9:1"
	limited := false
	for i := range 25 {
		if res := spray.login("user"+string(rune('a'+i)), "x"); res.StatusCode == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("25 failures from one address were never limited")
	}
}

func TestRemovedUserLosesSession(t *testing.T) {
	s, h := newTestServer(t, nil)
	c := newClient(t, h)
	c.login("bob", "correct horse")
	if res := c.get(pages.PathAuth); res.StatusCode != 200 {
		t.Fatal("not logged in")
	}
	if err := users.Remove(s.opt.usersPath(), "bob"); err != nil {
		t.Fatal(err)
	}
	// No watcher runs here: requests reread the changed file themselves,
	// at most once a second.
	deadline := time.Now().Add(usersFileReread)
	for {
		res := c.get(pages.PathAuth)
		if res.StatusCode == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("removed user still authenticated after %v: %d", usersFileReread, res.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTicketIssuedAtLoginClearedAtLogout(t *testing.T) {
	_, h := newTestServer(t, func(o *options) { o.Ticket = true })
	c := newClient(t, h)
	c.login("alice", "correct horse")
	if c.cookies["auth_tkt"] == "" {
		t.Fatalf("no auth_tkt cookie after login: %v", c.cookies)
	}
	c.post(pages.PathLogout, nil)
	if _, ok := c.cookies["auth_tkt"]; ok {
		t.Error("auth_tkt not cleared at logout")
	}
}

func TestMetricsCountEventsAndLogins(t *testing.T) {
	s, h := newTestServer(t, nil)
	c := newClient(t, h)
	c.login("alice", "wrong")
	c.login("alice", "correct horse")
	c.post(pages.PathLogout, nil)
	m := body(t, newClient(t, s.opsHandler()).get("/metrics"))
	for _, want := range []string{
		`sessiond_logins_total{result="ok"} 1`,
		`sessiond_logins_total{result="failed"} 1`,
		"sessiond_password_hashes_total 2",
		`sessiond_session_events_total{kind="created"} 1`,
		`sessiond_session_events_total{kind="destroyed"} 1`,
		`sessiond_store_duration_seconds_count{op="save"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if testing.Verbose() {
		os.Stdout.WriteString(m[:min(len(m), 2000)])
	}
}

// storeOnly hides a store's user index, as memcached's store has none.
type storeOnly struct{ sesame.Store }

func TestSessionsPageWithoutUserIndex(t *testing.T) {
	o := testOptions(t)
	users.Add(o.usersPath(), "alice", "correct horse", cheapArgon)
	db, _ := users.Open(o.usersPath(), cheapArgon)
	st, err := memstore.New(memstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := newServer(o, parts{store: storeOnly{st}, users: db, log: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: ops.NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s.handler())
	c.login("alice", "correct horse")
	res := c.get(pages.PathSessions)
	page := body(t, res)
	if res.StatusCode != 200 || !strings.Contains(page, "cannot list sessions") || !strings.Contains(page, "This session") || strings.Contains(page, "revoke-others") {
		t.Errorf("%d\n%s", res.StatusCode, page)
	}
}

// TestEndedSessionSaysSoAndKeepsTheWayBack: a browser whose session was
// revoked elsewhere lands on the login page with a notice saying so, and
// the way back to where it was going; one that logged out or never logged
// in gets no such notice.
func TestEndedSessionSaysSoAndKeepsTheWayBack(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") }))
	defer up.Close()
	_, h := newTestServer(t, func(o *options) { o.Upstream = up.URL })
	a, b := newClient(t, h), newClient(t, h)
	a.login("alice", "correct horse")
	b.login("alice", "correct horse")
	b.post(pages.PathRevokeOthers, nil) // ends a's session
	ended := a.cookies["__Host-session"]

	tests := []struct {
		path, back string
	}{
		{pages.PathSessions, pages.PathSessions},
		{"/app/page?x=1", "/app/page?x=1"},                 // proxy mode
		{pages.PathFrom + "app/page?x=1", "/app/page?x=1"}, // what nginx sends to
	}
	for _, tt := range tests {
		a.cookies["__Host-session"] = ended // as a browser keeps it behind nginx
		res := a.get(tt.path)
		want := pages.PathLogin + "?back=" + url.QueryEscape(tt.back) + "&msg=session-ended"
		if res.StatusCode != 303 || res.Header.Get("Location") != want {
			t.Errorf("%s with an ended session: %d %q, want %q", tt.path, res.StatusCode, res.Header.Get("Location"), want)
			continue
		}
		page := body(t, a.get(res.Header.Get("Location")))
		if !strings.Contains(page, "Your session was ended") || !strings.Contains(page, `name="back" value="`+tt.back+`"`) {
			t.Errorf("login page after %s:\n%s", tt.path, page)
		}
	}
	// The way back works.
	res := a.post(pages.PathLogin, url.Values{"user": {"alice"}, "password": {"correct horse"}, "back": {pages.PathSessions}})
	if res.StatusCode != 303 || res.Header.Get("Location") != pages.PathSessions {
		t.Errorf("login with the way back: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	// Logged out, or never logged in: the plain login page.
	b.post(pages.PathLogout, nil)
	for name, c := range map[string]*client{"logged out": b, "new visitor": newClient(t, h)} {
		if loc := c.get(pages.PathSessions).Header.Get("Location"); strings.Contains(loc, "msg=") {
			t.Errorf("%s: %q", name, loc)
		}
	}
}

// TestLogoutEverywhereAsksFirst: the button leads to a question; only its
// confirming form ends the sessions.
func TestLogoutEverywhereAsksFirst(t *testing.T) {
	_, h := newTestServer(t, nil)
	a, b := newClient(t, h), newClient(t, h)
	a.login("alice", "correct horse")
	b.login("alice", "correct horse")

	home := body(t, a.get(pages.PathHome))
	if !strings.Contains(home, `<form method="get" action="/_sessiond/logout-all">`) {
		t.Errorf("home's button does not lead to the question:\n%s", home)
	}
	res := a.get(pages.PathLogoutAll)
	page := body(t, res)
	if res.StatusCode != 200 || !strings.Contains(page, "Log out everywhere?") || !strings.Contains(page, `name="confirm" value="yes"`) {
		t.Fatalf("question page: %d\n%s", res.StatusCode, page)
	}
	// A POST without the answer asks too, and ends nothing.
	if res := a.post(pages.PathLogoutAll, nil); res.StatusCode != 303 || res.Header.Get("Location") != pages.PathLogoutAll {
		t.Errorf("unconfirmed POST: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	for name, c := range map[string]*client{"a": a, "b": b} {
		if res := c.get(pages.PathAuth); res.StatusCode != 200 {
			t.Fatalf("%s logged out without confirmation", name)
		}
	}
	if res := a.post(pages.PathLogoutAll, url.Values{"confirm": {"yes"}}); res.Header.Get("Location") != pages.PathLogin+"?msg=everywhere" {
		t.Fatalf("confirmed: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	for name, c := range map[string]*client{"a": a, "b": b} {
		if res := c.get(pages.PathAuth); res.StatusCode != 401 {
			t.Errorf("%s still logged in after confirming", name)
		}
	}
	// Anonymous: the question is not asked, the visitor is sent to log in.
	if res := newClient(t, h).get(pages.PathLogoutAll); res.StatusCode != 303 {
		t.Errorf("anonymous question page: %d", res.StatusCode)
	}
}

// TestSessionsOfOneDeviceDiffer: two other sessions from the same browser
// and address, made in the same second, still read differently.
func TestSessionsOfOneDeviceDiffer(t *testing.T) {
	s, h := newTestServer(t, nil)
	for range 3 {
		newClient(t, h).login("alice", "correct horse")
	}
	c := newClient(t, h)
	c.login("alice", "correct horse")
	page := body(t, c.get(pages.PathSessions))
	rows := regexp.MustCompile(`(?s)<tr>(.*?)</tr>`).FindAllStringSubmatch(page, -1)
	if len(rows) != 4 { // the header and the three other sessions
		t.Fatalf("%d rows:\n%s", len(rows), page)
	}
	visible := func(row string) string { // the row as read, without the hidden form fields
		return regexp.MustCompile(`<input[^>]*>|<[^>]+>`).ReplaceAllString(row, "")
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		if v := visible(row[1]); seen[v] {
			t.Errorf("two sessions look the same:\n%s", v)
		} else {
			seen[v] = true
		}
	}
	infos, _ := s.mgr.Sessions(t.Context(), "alice")
	for _, in := range infos {
		short := in.Handle[:6] // the page names a session by the start of its handle
		if !strings.Contains(page, "#"+short) {
			t.Errorf("session %s is not named on the page", short)
		}
	}
}
