package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests run the real sessiond, built once from the workspace.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	binErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// sessiondBinary builds sessiond on first use.
func sessiondBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "loadtest-sessiond-"); binErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		binPath, binErr = buildSessiond(ctx, binDir)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// testConfig is a small run against the in-memory store, with more writes
// than the default mix so that every kind of write happens in seconds.
func testConfig(t *testing.T, users, devices int, d time.Duration) config {
	t.Helper()
	cfg := config{
		Sessiond:       sessiondBinary(t),
		Store:          "mem",
		Users:          users,
		Devices:        devices,
		Duration:       d,
		MaxRequests:    200_000,
		Seed:           7,
		Mix:            defaultMix(),
		RaceProb:       0.5,
		IdleTimeout:    20 * time.Second, // extended at most once a second: reads write too
		RequestTimeout: 30 * time.Second,
		Timeout:        2 * time.Minute,
		Log:            io.Discard,
	}
	if testing.Verbose() {
		cfg.Log = os.Stderr
	}
	if err := cfg.Mix.Set("revoke=6,revoke-others=3,logout=4,logout-all=2"); err != nil {
		t.Fatal(err)
	}
	if err := cfg.check(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestMemStoreLosesNothing runs the whole load test for a few seconds and
// expects requests of every kind, no errors and no lost writes.
func TestMemStoreLosesNothing(t *testing.T) {
	cfg := testConfig(t, 4, 3, 3*time.Second)
	rep, err := loadTest(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed || rep.Errors != 0 || rep.LostWrites != 0 {
		var b strings.Builder
		rep.writeText(&b)
		t.Fatalf("the run failed:\n%s", b.String())
	}
	if rep.Load.Requests < 100 {
		t.Errorf("only %d requests in the load phase", rep.Load.Requests)
	}
	for _, op := range []string{opLogin, opHome, opAuth, opSessions, opRevoke, opRevokeOthers, opLogout, opLogoutAll} {
		if rep.Load.Operations[op] == 0 {
			t.Errorf("no %s operation in the load phase: %v", op, rep.Load.Operations)
		}
	}
	if rep.SweepLive == 0 || rep.SweepEnded == 0 {
		t.Errorf("the sweep checked %d live and %d ended sessions, want some of each", rep.SweepLive, rep.SweepEnded)
	}
	if rep.Sessiond.PeakRSS <= 0 || !rep.Sessiond.Stopped {
		t.Errorf("peak RSS %d, stopped cleanly %v", rep.Sessiond.PeakRSS, rep.Sessiond.Stopped)
	}
}

// loggedInUser starts sessiond with one user whose devices are all logged
// in, as the setup phase leaves them.
func loggedInUser(t *testing.T, devices int) (*env, *vuser) {
	t.Helper()
	e, err := newEnv(t.Context(), testConfig(t, 1, devices, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	u := e.users[0]
	u.rec = newRecorder()
	for _, d := range u.devs {
		if err := u.login(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range u.devs {
		if !d.live || d.handle == "" {
			t.Fatalf("device %d: live %v, handle %q after the logins", d.n, d.live, d.handle)
		}
	}
	if errs, lost := e.tally.snapshot(); errs != 0 || lost != 0 {
		t.Fatalf("logging in: %d errors, %d lost writes", errs, lost)
	}
	return e, u
}

// behindItsBack sends a request that the virtual user does not know of.
func behindItsBack(t *testing.T, e *env, path, cookie string, form url.Values) *response {
	t.Helper()
	res, err := e.t.do(t.Context(), newRecorder(), request{kind: "behind its back", method: http.MethodPost, path: path, cookie: cookie, ua: "test", form: form})
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusSeeOther {
		t.Fatalf("POST %s behind the checker's back: %s", path, summary(res))
	}
	return res
}

// sweepCounts runs the final sweep and returns what it counted.
func sweepCounts(t *testing.T, e *env, u *vuser) (errs, lost int64, samples []string) {
	t.Helper()
	if err := u.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	errs, lost = e.tally.snapshot()
	return errs, lost, append(e.tally.errSamples, e.tally.lostSamples...)
}

// TestSweepFindsSessionEndedBehindItsBack proves the checker can fail: a
// session logged out by another client, which the virtual user believes
// live, is reported as a lost write.
func TestSweepFindsSessionEndedBehindItsBack(t *testing.T) {
	e, u := loggedInUser(t, 2)
	behindItsBack(t, e, pathLogout, u.devs[0].cookie, url.Values{})
	errs, lost, samples := sweepCounts(t, e, u)
	if lost != 1 || errs != 0 {
		t.Fatalf("sweep: %d lost writes and %d errors, want 1 and 0: %q", lost, errs, samples)
	}
	if !strings.Contains(samples[0], "device 0") || !strings.Contains(samples[0], "401") {
		t.Errorf("the lost write does not name device 0 and the 401: %q", samples[0])
	}
}

// TestSweepFindsRevocationThatDidNotHappen proves the other direction: a
// session the virtual user believes ended (as if sessiond had acknowledged
// a revocation and not done it) is reported as a lost write when it still
// works and is still listed.
func TestSweepFindsRevocationThatDidNotHappen(t *testing.T) {
	e, u := loggedInUser(t, 3)
	d := u.devs[2]
	u.end(d, "revoke (pretended)")
	errs, lost, samples := sweepCounts(t, e, u)
	// Listed on both other devices' pages (counted once), and it still
	// authenticates.
	if lost != 2 || errs != 0 {
		t.Fatalf("sweep: %d lost writes and %d errors, want 2 and 0: %q", lost, errs, samples)
	}
}

// TestSweepFindsSessionItDidNotMake proves that a session the virtual user
// never made, listed on its sessions page, is an error.
func TestSweepFindsSessionItDidNotMake(t *testing.T) {
	e, u := loggedInUser(t, 2)
	res := behindItsBack(t, e, pathLogin, "", url.Values{"user": {u.name}, "password": {u.password}})
	if c, ok := res.setCookie(); !ok || c == "" {
		t.Fatalf("the login behind the checker's back set no cookie: %s", summary(res))
	}
	errs, lost, samples := sweepCounts(t, e, u)
	if errs != 2 || lost != 0 {
		t.Fatalf("sweep: %d errors and %d lost writes, want 2 (one per sessions page) and 0: %q", errs, lost, samples)
	}
	if !strings.Contains(samples[0], "does not have") {
		t.Errorf("the error does not say the session is unknown: %q", samples[0])
	}
}

// TestIdleDeadlineCheck proves that a home page whose idle deadline lags
// behind an earlier request's extension counts as a lost write.
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
			tl := newTally(io.Discard)
			u := newUser(0, "", &config{Devices: 1, IdleTimeout: time.Minute}, nil, tl)
			d := u.devs[0]
			d.served = served
			u.checkIdleDeadline(d, page(c.idle))
			errs, lost := tl.snapshot()
			if lost != c.lost {
				t.Errorf("%d lost writes, want %d: %q", lost, c.lost, tl.lostSamples)
			}
			// The page is from the past, so "later than now" cannot fire.
			if errs != 0 {
				t.Errorf("%d errors: %q", errs, tl.errSamples)
			}
		})
	}
}

func TestLatencyPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := latencyOf(ds)
	if l.Count != 100 || l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.Max != 100 {
		t.Errorf("latencyOf(1..100 ms) = %+v", l)
	}
	if l := latencyOf(nil); l != (Latency{}) {
		t.Errorf("latencyOf(nil) = %+v", l)
	}
}

func TestMixFlag(t *testing.T) {
	m := defaultMix()
	if err := m.Set("auth=1,logout=0"); err != nil {
		t.Fatal(err)
	}
	if w := m.weights[m.index(opAuth)]; w != 1 {
		t.Errorf("auth weight %g, want 1", w)
	}
	for _, bad := range []string{"nosuch=1", "auth", "auth=-1", "auth=x"} {
		if err := m.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	only := mix{ops: []string{opHome, opAuth}, weights: []float64{0, 1}}
	r := newUser(0, "", &config{Seed: 1, Devices: 1}, nil, nil).rng
	for range 1000 {
		if op := only.pick(r); op != opAuth {
			t.Fatalf("picked %s, whose weight is 0", op)
		}
	}
}

func TestMetricByLabel(t *testing.T) {
	text := `# HELP sessiond_store_errors_total x
sessiond_store_errors_total{op="load"} 2
sessiond_store_errors_total{op="save"} 1.5
sessiond_session_events_total{kind="conflict"} 3
`
	got := metricByLabel(text, "sessiond_store_errors_total", "op")
	if len(got) != 2 || got["load"] != 2 || got["save"] != 1.5 {
		t.Errorf("metricByLabel = %v", got)
	}
}
