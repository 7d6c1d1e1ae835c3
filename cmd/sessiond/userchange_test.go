package main

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/pages"
	"github.com/sesame-go/sesame/cmd/sessiond/internal/users"
)

// userCmd runs `sessiond user ARGS --data-dir dir` with stdin, as a person
// would in another terminal, and fails the test if it fails.
func userCmd(t *testing.T, dir, stdin string, args ...string) {
	t.Helper()
	var errOut strings.Builder
	args = append(append([]string{"user"}, args...), "--data-dir", dir)
	if code := run(t.Context(), args, strings.NewReader(stdin), new(strings.Builder), &errOut, func(string) string { return "" }); code != 0 {
		t.Fatalf("sessiond %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
}

// loginCode posts the login form and returns the status (303 when the
// password was right) and the session cookie, if any.
func loginCode(t *testing.T, base, user, password string) (int, *http.Cookie) {
	t.Helper()
	res, err := noRedirect.PostForm(base+pages.PathLogin, url.Values{"user": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, sessionCookie(res)
}

// usersFileReread bounds how long a running server takes to notice a
// change to the users file: it checks once a second.
const usersFileReread = 10 * time.Second

// waitDenied polls forward auth with cookie until it answers 401, and fails
// the test if that takes longer than usersFileReread.
func waitDenied(t *testing.T, base string, cookie *http.Cookie, what string) {
	t.Helper()
	deadline := time.Now().Add(usersFileReread)
	for {
		code, _ := authAs(t, base, cookie)
		if code == 401 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the old cookie still gets %d after %v", what, code, usersFileReread)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNewPasswordOrRemovalEndsSessions changes users the README's way,
// with `sessiond user add` and `user remove` beside a running server, over
// real HTTP, with server-side and with sealed sessions: the old cookie
// stops working after a new password, and after a removal followed by an
// add of the same name; another user's session is untouched.
func TestNewPasswordOrRemovalEndsSessions(t *testing.T) {
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"store", []string{"--store", "memory://"}},
		{"sealed", []string{"--sealed"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			userCmd(t, dir, "first-password\n", "add", "eve")
			userCmd(t, dir, "frank-password\n", "add", "frank")
			base, _, _ := startServe(t, append([]string{"--data-dir", dir}, mode.args...)...)
			_, eve := loginCode(t, base, "eve", "first-password")
			_, frank := loginCode(t, base, "frank", "frank-password")
			if eve == nil || frank == nil {
				t.Fatal("login failed")
			}

			// A new password: the session logged in with the old one ends.
			userCmd(t, dir, "second-password\n", "add", "eve")
			waitDenied(t, base, eve, "new password")
			if code, _ := loginCode(t, base, "eve", "first-password"); code != 401 {
				t.Errorf("the old password still logs in: %d", code)
			}
			code, eve2 := loginCode(t, base, "eve", "second-password")
			if code != 303 || eve2 == nil {
				t.Fatalf("the new password: %d", code)
			}
			if code, user := authAs(t, base, eve2); code != 200 || user != "eve" {
				t.Fatalf("the new session: %d %q", code, user)
			}

			// Removed, then added again at once: the session does not
			// come back with the name.
			userCmd(t, dir, "", "remove", "eve")
			userCmd(t, dir, "second-password\n", "add", "eve")
			waitDenied(t, base, eve2, "remove and add")
			for range 3 {
				if code, _ := authAs(t, base, eve2); code != 401 {
					t.Fatalf("the old cookie came back: %d", code)
				}
			}
			if code, _ := authAs(t, base, eve); code != 401 {
				t.Errorf("the first cookie came back: %d", code)
			}

			if code, user := authAs(t, base, frank); code != 200 || user != "frank" {
				t.Errorf("another user's session: %d %q", code, user)
			}
		})
	}
}

// TestUserChangedWhileServerStopped: a password changed, or a user removed
// and added again, while the server was not running still ends the
// sessions logged in before, on the first request after the restart.
func TestUserChangedWhileServerStopped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	userCmd(t, dir, "first-password\n", "add", "eve")
	userCmd(t, dir, "first-password\n", "add", "gina")
	userCmd(t, dir, "frank-password\n", "add", "frank")
	base, _, stop := startServe(t, "--data-dir", dir)
	_, eve := loginCode(t, base, "eve", "first-password")
	_, gina := loginCode(t, base, "gina", "first-password")
	_, frank := loginCode(t, base, "frank", "frank-password")
	stop()

	userCmd(t, dir, "second-password\n", "add", "eve")
	userCmd(t, dir, "", "remove", "gina")
	userCmd(t, dir, "first-password\n", "add", "gina") // the same password, a new entry
	base, _, _ = startServe(t, "--data-dir", dir)
	for name, c := range map[string]*http.Cookie{"eve (new password)": eve, "gina (removed and added)": gina} {
		if code, _ := authAs(t, base, c); code != 401 {
			t.Errorf("%s: the old session got %d after the restart", name, code)
		}
	}
	if code, user := authAs(t, base, frank); code != 200 || user != "frank" {
		t.Errorf("frank's session after the restart: %d %q", code, user)
	}
}

// TestUserChangeEndsSessionsInTheStore: the running server that notices a
// new password ends the user's sessions in the store (or, sealed, records
// a revocation) at once, without waiting for those sessions' next
// requests, and leaves other users' sessions alone.
func TestUserChangeEndsSessionsInTheStore(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		name := map[bool]string{false: "store", true: "sealed"}[sealed]
		t.Run(name, func(t *testing.T) {
			s, h := newTestServer(t, func(o *options) { o.Sealed = sealed })
			for _, user := range []string{"alice", "alice", "bob"} {
				if res := newClient(t, h).login(user, "correct horse"); res.StatusCode != 303 {
					t.Fatalf("login %s: %d", user, res.StatusCode)
				}
			}
			destroyed := s.metrics.Events.WithLabelValues("destroyed")
			before := counterValue(t, destroyed)
			if err := users.Add(s.opt.usersPath(), "alice", "a new password", cheapArgon); err != nil {
				t.Fatal(err)
			}
			// The watcher, as serve runs it, notices; no request is made.
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { s.users.Watch(ctx, 20*time.Millisecond, s.log); close(done) }()
			defer func() { cancel(); <-done }()
			deadline := time.Now().Add(usersFileReread)
			for counterValue(t, destroyed) == before {
				if time.Now().After(deadline) {
					t.Fatalf("alice's sessions were not ended within %v", usersFileReread)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got := counterValue(t, destroyed) - before; got != 1 {
				t.Errorf("%v destroy events, want 1 (alice's RevokeAll)", got)
			}
			if !sealed {
				if infos, err := s.mgr.Sessions(t.Context(), "alice"); err != nil || len(infos) != 0 {
					t.Errorf("alice has %d sessions in the store (%v), want 0", len(infos), err)
				}
				if infos, err := s.mgr.Sessions(t.Context(), "bob"); err != nil || len(infos) != 1 {
					t.Errorf("bob has %d sessions in the store (%v), want 1", len(infos), err)
				}
			}
		})
	}
}

// counterValue reads a Prometheus counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
