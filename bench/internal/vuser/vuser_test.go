package vuser

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-go/sesame/bench/internal/sessiondproc"
)

// The tests run the real sessiond, built once from the workspace.
func TestMain(m *testing.M) {
	code := m.Run()
	sessiondproc.RemoveShared()
	os.Exit(code)
}

// sessiondBinary builds sessiond on first use.
func sessiondBinary(t *testing.T) string {
	t.Helper()
	bin, err := sessiondproc.Shared(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// harness is a sessiond on the memory store with one user, and that
// user's checker.
type harness struct {
	t     *Target
	tally *Tally
	u     *User
}

// loggedInUser starts sessiond with one user whose devices are all logged
// in, as a run's setup leaves them.
func loggedInUser(t *testing.T, devices int) *harness {
	t.Helper()
	return loggedInUserVia(t, devices, nil)
}

// loggedInUserVia is loggedInUser with the user's requests sent through
// the handler front makes of sessiond's address (nil: straight to it).
func loggedInUserVia(t *testing.T, devices int, front func(base string) http.Handler) *harness {
	t.Helper()
	bin := sessiondBinary(t)
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	password := sessiondproc.RandomHex(12)
	if err := sessiondproc.CreateUsers(t.Context(), bin, users, []string{"lt00000"}, []string{password}); err != nil {
		t.Fatal(err)
	}
	sd, err := sessiondproc.Start(t.Context(), bin, []string{"--data-dir", dir, "--users-file", users, "--store", "memory://", "--idle-timeout", "20s"}, filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sd.Kill)
	base := sd.Base()
	if front != nil {
		srv := httptest.NewServer(front(base))
		t.Cleanup(srv.Close)
		base = srv.URL
	}
	h := &harness{t: NewTarget(base, 8, 30*time.Second, 10_000)}
	t.Cleanup(h.t.Close)
	if err := sd.WaitReady(t.Context(), h.t.Client); err != nil {
		t.Fatal(err)
	}
	h.tally = NewTally(io.Discard)
	if testing.Verbose() {
		h.tally = NewTally(os.Stderr)
	}
	cfg := &Config{Seed: 7, Devices: devices, Mix: DefaultMix(), Idle: 20 * time.Second}
	h.u = New(0, "lt00000", password, cfg, h.t, h.tally)
	if err := h.u.LoginAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, d := range h.u.devs {
		if !d.live || d.handle == "" {
			t.Fatalf("device %d: live %v, handle %q after the logins", d.n, d.live, d.handle)
		}
	}
	if errs, _, lost := h.tally.Snapshot(); errs != 0 || lost != 0 {
		t.Fatalf("logging in: %d errors, %d lost writes", errs, lost)
	}
	return h
}

// behindItsBack sends a request that the virtual user does not know of.
func (h *harness) behindItsBack(t *testing.T, path, cookie string, form url.Values) *response {
	t.Helper()
	res, err := h.t.do(t.Context(), NewRecorder(), request{kind: "behind its back", method: http.MethodPost, path: path, cookie: cookie, ua: "test", form: form})
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusSeeOther {
		t.Fatalf("POST %s behind the checker's back: %s", path, summary(res))
	}
	return res
}

// sweep runs a sweep and returns what the tally counted.
func (h *harness) sweep(t *testing.T) Counts {
	t.Helper()
	if err := h.u.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	return h.tally.Take()
}

// TestSweepFindsSessionEndedBehindItsBack proves the checker can fail: a
// session logged out by another client, which the virtual user believes
// live, is reported as a lost session.
func TestSweepFindsSessionEndedBehindItsBack(t *testing.T) {
	h := loggedInUser(t, 2)
	h.behindItsBack(t, pathLogout, h.u.devs[0].cookie, url.Values{})
	c := h.sweep(t)
	if c.Lost[LostSession] != 1 || c.LostTotal() != 1 || c.Errors != 0 {
		t.Fatalf("sweep: lost writes %v and %d errors, want 1 lost session and no error: %q", c.Lost, c.Errors, append(c.ErrorSamples, c.LostSamples...))
	}
	if s := c.LostSamples[0]; !strings.Contains(s, "device 0") || !strings.Contains(s, "401") {
		t.Errorf("the lost write does not name device 0 and the 401: %q", s)
	}
}

// TestWriteWithSessionGone sends writes with a session that was logged
// out behind the user's back: sessiond answers them with the redirect to
// log in, which is a lost session (counted once), not an error, and the
// user goes on.
func TestWriteWithSessionGone(t *testing.T) {
	h := loggedInUser(t, 3)
	d := h.u.devs[0]
	h.behindItsBack(t, pathLogout, d.cookie, url.Values{})
	if err := h.u.revokeOthers(t.Context(), d); err != nil {
		t.Fatalf("revoke-others with a session gone: %v", err)
	}
	c := h.tally.Take()
	if c.Lost[LostSession] != 1 || c.Errors != 0 || h.u.Broken || d.live {
		t.Fatalf("revoke-others with a session gone: %v lost, %d errors %q, broken %v, device live %v; want 1 lost session and nothing else",
			c.Lost, c.Errors, c.ErrorSamples, h.u.Broken, d.live)
	}
	// The write did nothing: the other devices are still live.
	if c := h.sweep(t); c.LostTotal() != 0 || c.Errors != 0 {
		t.Fatalf("sweep: %v lost, %d errors: %q", c.Lost, c.Errors, append(c.ErrorSamples, c.LostSamples...))
	}
}

// TestSweepFindsRevocationThatDidNotHappen proves the other direction: a
// session the virtual user believes ended (as if sessiond had acknowledged
// a revocation and not done it) is reported as undone when it still works
// and is still listed: once, although both other devices list it and it
// authenticates.
func TestSweepFindsRevocationThatDidNotHappen(t *testing.T) {
	h := loggedInUser(t, 3)
	h.u.end(h.u.devs[2], "revoke (pretended)")
	c := h.sweep(t)
	if c.Lost[Undone] != 1 || c.LostTotal() != 1 || c.Errors != 0 {
		t.Fatalf("sweep: lost writes %v and %d errors, want 1 undone revocation and no error: %q", c.Lost, c.Errors, append(c.ErrorSamples, c.LostSamples...))
	}
	if !strings.Contains(c.LostSamples[0], "lists a session") {
		t.Errorf("the lost write does not say the page lists the session: %q", c.LostSamples[0])
	}
}

// TestLoginPageFindsRevocationUndone has a device whose session the user
// believes ended (as if a revocation acknowledged had been undone) log in
// again: the login page sends the still-live session home, which counts
// as a revocation undone, once, however many checks see it, and the
// device drops the cookie and logs in anew.
func TestLoginPageFindsRevocationUndone(t *testing.T) {
	h := loggedInUser(t, 2)
	d := h.u.devs[1]
	h.u.end(d, "revoke (pretended)")
	if err := h.u.login(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if err := h.u.login(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	c := h.tally.Take()
	if c.Lost[Undone] != 1 || c.LostTotal() != 1 || c.Errors != 0 || !d.live {
		t.Fatalf("lost %v, %d errors %q, device live %v; want 1 revocation undone, no error, and the device logged in again",
			c.Lost, c.Errors, c.ErrorSamples, d.live)
	}
}

// TestSweepFindsSessionItDidNotMake proves that a session the virtual user
// never made, listed on its sessions page, is an error.
func TestSweepFindsSessionItDidNotMake(t *testing.T) {
	h := loggedInUser(t, 2)
	res := h.behindItsBack(t, pathLogin, "", url.Values{"user": {h.u.name}, "password": {h.u.password}})
	if c, ok := res.setCookie(); !ok || c == "" {
		t.Fatalf("the login behind the checker's back set no cookie: %s", summary(res))
	}
	c := h.sweep(t)
	if c.Errors != 2 || c.LostTotal() != 0 {
		t.Fatalf("sweep: %d errors and %d lost writes, want 2 (one per sessions page) and 0: %q", c.Errors, c.LostTotal(), append(c.ErrorSamples, c.LostSamples...))
	}
	if !strings.Contains(c.ErrorSamples[0], "does not have") {
		t.Errorf("the error does not say the session is unknown: %q", c.ErrorSamples[0])
	}
}

// TestSessionBackAfterLogoutEverywhere: once a log out everywhere is
// acknowledged, every session of the user is one it made since, so a
// session it does not know, listed on its pages, is one that the log out
// ended and that came back (as a failover to a stale replica brings
// them back): a revocation undone, counted once, not an error.
func TestSessionBackAfterLogoutEverywhere(t *testing.T) {
	h := loggedInUser(t, 2)
	if err := h.u.logoutAll(t.Context(), h.u.devs[0]); err != nil {
		t.Fatal(err)
	}
	// Stands for the ended session that came back.
	h.behindItsBack(t, pathLogin, "", url.Values{"user": {h.u.name}, "password": {h.u.password}})
	if err := h.u.LoginAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := h.sweep(t)
	if c.Lost[Undone] != 1 || c.LostTotal() != 1 || c.Errors != 0 {
		t.Fatalf("lost %v and %d errors %q; want 1 revocation undone and no error", c.Lost, c.Errors, c.ErrorSamples)
	}
}

// TestResyncEndsEverySession leaves a session the user does not know of,
// as a login whose answer was lost does, and resynchronises: every
// session ends, the unknown one included, and the sweep after it finds
// nothing wrong.
func TestResyncEndsEverySession(t *testing.T) {
	h := loggedInUser(t, 3)
	h.u.cfg.Tolerant = true
	res := h.behindItsBack(t, pathLogin, "", url.Values{"user": {h.u.name}, "password": {h.u.password}})
	orphan, _ := res.setCookie()
	var before []string
	for _, d := range h.u.devs {
		before = append(before, d.cookie)
	}
	if err := h.u.Resync(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := h.tally.Take()
	if c.Ops[OpResync] != 1 || c.Errors != 0 || c.LostTotal() != 0 || c.Failed != 0 {
		t.Fatalf("resync: %v operations, %d errors, %v lost, %d failed: %q", c.Ops, c.Errors, c.Lost, c.Failed, append(c.ErrorSamples, c.LostSamples...))
	}
	for _, d := range h.u.devs {
		if d.live || d.cookie != "" || d.handle != "" {
			t.Errorf("device %d after the resync: live %v, cookie %q, handle %q", d.n, d.live, d.cookie, d.handle)
		}
	}
	for i, cookie := range append(before, orphan) {
		if _, r, err := h.u.checkAuth(t.Context(), nil, cookie); err != nil || r != authEnded {
			t.Errorf("session %d after the resync: %v, %v; want it ended", i, r, err)
		}
	}
	if err := h.u.LoginAll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c := h.sweep(t); c.Errors != 0 || c.LostTotal() != 0 || c.Failed != 0 {
		t.Fatalf("sweep after the resync: %d errors, %v lost, %d failed: %q", c.Errors, c.Lost, c.Failed, append(c.ErrorSamples, c.LostSamples...))
	}
}

// TestTolerantUserCountsFailures stops sessiond under a tolerant user: its
// reads and writes fail, which it counts as failed requests, not errors,
// and a write whose outcome is unknown leaves it unsure, to resynchronise
// next.
func TestTolerantUserCountsFailures(t *testing.T) {
	h := loggedInUser(t, 2)
	h.u.cfg.Tolerant = true
	h.t.base = "http://127.0.0.1:1" // nothing listens there
	d := h.u.devs[0]
	if err := h.u.auth(t.Context(), d); err != nil {
		t.Errorf("a failed read returned %v; want nil, to go on", err)
	}
	if h.u.unsure || !d.live {
		t.Errorf("after a failed read: unsure %v, device live %v; want false, true", h.u.unsure, d.live)
	}
	if err := h.u.logout(t.Context(), d); err != errFailed {
		t.Errorf("a failed write returned %v; want errFailed", err)
	}
	if !h.u.unsure || h.u.Broken {
		t.Errorf("after a failed write: unsure %v, broken %v; want true, false", h.u.unsure, h.u.Broken)
	}
	c := h.tally.Take()
	if c.Failed != 2 || c.Errors != 0 || c.LostTotal() != 0 || c.FirstFail.IsZero() || c.LastFail.Before(c.FirstFail) {
		t.Errorf("%d failed, %d errors, %v lost, failures from %v to %v; want 2 failed and nothing else", c.Failed, c.Errors, c.Lost, c.FirstFail, c.LastFail)
	}
}

// TestIdleDeadlineCheck proves that a home page whose idle deadline lags
// behind an earlier request's extension counts as a lost extension.
func TestIdleDeadlineCheck(t *testing.T) {
	served := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	page := func(idle time.Time) string {
		return `<main><h1>Hello</h1><dl><dt>Signed in as</dt><dd id="who">lt00000</dd>` +
			idleOpen + idle.Format(timeLayout) + ` <span class="muted">(in a minute)</span></dd></dl></main>`
	}
	for _, c := range []struct {
		name string
		idle time.Time
		lost int64
	}{
		{"extended by the last request", served.Add(time.Minute), 0},
		{"within idle/20 of it", served.Add(57 * time.Second), 0},
		{"behind it", served.Add(50 * time.Second), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			tl := NewTally(io.Discard)
			u := New(0, "lt00000", "", &Config{Devices: 1, Idle: time.Minute}, nil, tl)
			d := u.devs[0]
			d.served = served
			u.checkIdleDeadline(d, page(c.idle))
			got := tl.Take()
			if got.Lost[LostExtension] != c.lost {
				t.Errorf("%v lost writes, want %d lost extensions: %q", got.Lost, c.lost, got.LostSamples)
			}
			// The page is from the past, so "later than now" cannot fire.
			if got.Errors != 0 {
				t.Errorf("%d errors: %q", got.Errors, got.ErrorSamples)
			}
		})
	}
}

func TestLatencyPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := LatencyOf(ds)
	if l.Count != 100 || l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.Max != 100 {
		t.Errorf("LatencyOf(1..100 ms) = %+v", l)
	}
	if l := LatencyOf(nil); l != (Latency{}) {
		t.Errorf("LatencyOf(nil) = %+v", l)
	}
}

func TestMixFlag(t *testing.T) {
	m := DefaultMix()
	if err := m.Set("auth=1,logout=0"); err != nil {
		t.Fatal(err)
	}
	if w := m.weights[m.index(OpAuth)]; w != 1 {
		t.Errorf("auth weight %g, want 1", w)
	}
	for _, bad := range []string{"nosuch=1", "auth", "auth=-1", "auth=x"} {
		if err := m.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	only := Mix{ops: []string{OpHome, OpAuth}, weights: []float64{0, 1}}
	r := New(0, "x", "", &Config{Seed: 1, Devices: 1}, nil, nil).rng
	for range 1000 {
		if op := only.pick(r); op != OpAuth {
			t.Fatalf("picked %s, whose weight is 0", op)
		}
	}
}

func TestCountsAdd(t *testing.T) {
	t0 := time.Now()
	var c Counts
	c.Add(Counts{Errors: 1, Failed: 2, FirstFail: t0.Add(time.Second), LastFail: t0.Add(2 * time.Second), Lost: map[string]int64{Undone: 1}, Ops: map[string]int64{OpAuth: 3}})
	c.Add(Counts{Failed: 1, FirstFail: t0, LastFail: t0, Lost: map[string]int64{Undone: 2, LostFlash: 1}, Ops: map[string]int64{OpAuth: 1}})
	if c.Errors != 1 || c.Failed != 3 || !c.FirstFail.Equal(t0) || !c.LastFail.Equal(t0.Add(2*time.Second)) ||
		c.Lost[Undone] != 3 || c.LostTotal() != 4 || c.Ops[OpAuth] != 4 {
		t.Errorf("Add: %+v", c)
	}
}

// replayer is a proxy that, once on, sends the first GET of the sessions
// page after a revocation to sessiond twice and answers with the second
// answer, as nginx does when the server it sent a request to dies
// answering it. With announce it lists two servers in UpstreamHeader, as
// the fleet's nginx does.
type replayer struct {
	proxy     *httputil.ReverseProxy
	on, armed atomic.Bool
	announce  bool
}

func (p *replayer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == pathRevoke && p.on.Load() {
		p.armed.Store(true)
	}
	if r.Method == http.MethodGet && r.URL.Path == pathSessions && p.armed.CompareAndSwap(true, false) {
		p.proxy.ServeHTTP(httptest.NewRecorder(), r.Clone(r.Context())) // the answer that was lost
		if p.announce {
			w.Header().Set(UpstreamHeader, "127.0.0.1:1, 127.0.0.1:2")
		}
	}
	p.proxy.ServeHTTP(w, r)
}

// TestReplayedPageExcusesMissingFlashes revokes a session through a proxy
// that replays the sessions page after the revocation: the first answer,
// lost, showed the flash the revocation wrote. Unannounced, the checker
// counts the flash lost (it can fail); announced in UpstreamHeader, it
// does not.
func TestReplayedPageExcusesMissingFlashes(t *testing.T) {
	for _, announce := range []bool{false, true} {
		t.Run(fmt.Sprintf("announce=%v", announce), func(t *testing.T) {
			var p *replayer
			h := loggedInUserVia(t, 2, func(base string) http.Handler {
				u, err := url.Parse(base)
				if err != nil {
					t.Fatal(err)
				}
				p = &replayer{proxy: httputil.NewSingleHostReverseProxy(u), announce: announce}
				return p
			})
			d := h.u.devs[0]
			p.on.Store(true)
			if err := h.u.revoke(t.Context(), d); err != nil {
				t.Fatal(err)
			}
			c := h.tally.Take()
			want := int64(1)
			if announce {
				want = 0
			}
			if c.Lost[LostFlash] != want || c.LostTotal() != want || c.Errors != 0 {
				t.Fatalf("lost %v, %d errors %q; want %d lost flash and no error", c.Lost, c.Errors, append(c.ErrorSamples, c.LostSamples...), want)
			}
		})
	}
}
