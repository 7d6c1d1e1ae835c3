package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/bench/internal/sessiondproc"
	"github.com/sesame-go/sesame/bench/internal/vuser"
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
		Mix:            vuser.DefaultMix(),
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
	for _, op := range []string{vuser.OpLogin, vuser.OpHome, vuser.OpAuth, vuser.OpSessions, vuser.OpRevoke, vuser.OpRevokeOthers, vuser.OpLogout, vuser.OpLogoutAll} {
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
