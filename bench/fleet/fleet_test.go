package main

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/bench/internal/sessiondproc"
	"github.com/sesame-go/sesame/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	sessiondproc.RemoveShared()
	os.Exit(code)
}

// shortConfig is the fleet's short form, for CI: a few users, a second of
// traffic around each fault.
func shortConfig(t *testing.T, users int) *config {
	t.Helper()
	c := &config{
		Users: users, Devices: 2, Think: 20 * time.Millisecond,
		Lead: time.Second, Tail: time.Second, Lag: 1500 * time.Millisecond,
		ReplicaTimeout: 500 * time.Millisecond, IdleTimeout: time.Minute,
		RequestTimeout: 30 * time.Second, Timeout: 5 * time.Minute,
		Seed: 1, Mix: fleetMix(), Log: io.Discard, Stores: []string{"redis", "postgres"},
	}
	if testing.Verbose() {
		c.Log = os.Stderr
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	bin, err := sessiondproc.Shared(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c.bin = bin
	return c
}

// runShort runs one configuration of the short form, skipping (failing
// with SESAME_REQUIRE_SERVERS=1) when a server program is missing.
func runShort(t *testing.T, cfg *config, store string, minReplicas int, faults ...string) *run {
	t.Helper()
	cfg.Faults = faults
	rn, err := runFleet(t.Context(), cfg, cfg.bin, store, minReplicas)
	if errors.Is(err, errMissing) {
		storetest.ServerMissing(t, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeText(&b, []*run{rn})
	t.Log(b.String())
	return rn
}

// TestFleet runs the short form of the fleet under faults: on a Redis
// Cluster with min-replicas=1 and on PostgreSQL, every fault loses no
// acknowledged write and undoes no revocation, the rolling restart fails
// no request, a killed sessiond rejoins, and nothing unexplained happens.
func TestFleet(t *testing.T) {
	for _, tc := range []struct {
		name, store string
		min         int
	}{
		{"RedisMinReplicas1", "redis", 1},
		{"Postgres", "postgres", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rn := runShort(t, shortConfig(t, 12), tc.store, tc.min)
			if p := rn.problems(); len(p) > 0 {
				t.Errorf("problems:\n%s", strings.Join(p, "\n"))
			}
			faults, _ := faultsFor(tc.store, nil)
			if len(rn.Results) != len(faults) {
				t.Errorf("%d faults ran, want %d", len(rn.Results), len(faults))
			}
		})
	}
}

// TestFleetSeesLostWrites proves that the fleet's checks can fail: without
// min-replicas, a failover to a replica that lagged loses acknowledged
// writes, and the fleet reports them (without calling the run a failure,
// since that configuration promises nothing more).
func TestFleetSeesLostWrites(t *testing.T) {
	cfg := shortConfig(t, 30)
	cfg.Lag = 2 * time.Second
	rn := runShort(t, cfg, "redis", 0, "lagging-failover")
	if p := rn.problems(); len(p) > 0 {
		t.Errorf("problems:\n%s", strings.Join(p, "\n"))
	}
	if len(rn.Results) != 1 || rn.Results[0].Lost == 0 {
		t.Errorf("a failover to a replica stale by %v lost no acknowledged write the fleet could see: %+v", cfg.Lag, rn.Results)
	}
}
