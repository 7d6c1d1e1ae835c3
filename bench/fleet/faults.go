package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// fault is something that goes wrong in the middle of the traffic. run
// makes it happen and returns once the fleet has recovered; nil is no
// fault.
type fault struct {
	Name, What string
	stores     []string // the stores it applies to; nil: every store
	run        func(ctx context.Context, f *fleet) error
}

// allFaults are the faults of a run, in order.
var allFaults = []fault{
	{Name: "none", What: "no fault: the same traffic, for comparison"},
	{Name: "kill-sessiond", What: "kill -9 one sessiond; start it again a second later", run: killSessiond},
	{Name: "rolling-restart", What: "restart every sessiond in turn with SIGTERM (graceful drain)", run: rollingRestart},
	{Name: "kill-master", What: "kill -9 a Redis master whose replica is in sync; the replica takes over, the old master rejoins as its replica",
		stores: []string{"redis"}, run: func(ctx context.Context, f *fleet) error { return killMaster(ctx, f, 0) }},
	{Name: "lagging-failover", What: "stop a Redis replica and cut its link, kill its master after -lag, promote the stale replica",
		stores: []string{"redis"}, run: func(ctx context.Context, f *fleet) error { return killMaster(ctx, f, f.cfg.Lag) }},
	{Name: "restart-postgres", What: "stop PostgreSQL at once (pg_ctl -m immediate, as a crash) and start it again",
		stores: []string{"postgres"}, run: func(ctx context.Context, f *fleet) error { return f.pg.restart(ctx, f.logf) }},
}

// faultNames lists every fault's name.
func faultNames() string {
	var n []string
	for _, flt := range allFaults {
		n = append(n, flt.Name)
	}
	return strings.Join(n, ",")
}

// faultsFor returns the faults of the list (all when empty) that apply to
// store, in their order.
func faultsFor(store string, names []string) ([]fault, error) {
	for _, n := range names {
		if !slices.ContainsFunc(allFaults, func(f fault) bool { return f.Name == n }) {
			return nil, fmt.Errorf("unknown fault %q: want some of %s", n, faultNames())
		}
	}
	var out []fault
	for _, flt := range allFaults {
		if (len(names) == 0 || slices.Contains(names, flt.Name)) && (flt.stores == nil || slices.Contains(flt.stores, store)) {
			out = append(out, flt)
		}
	}
	return out, nil
}

// killSessiond kills the second sessiond with SIGKILL: nginx routes around
// it, and it rejoins when it is back on its port.
func killSessiond(ctx context.Context, f *fleet) error {
	m := f.members[1]
	m.p.Kill()
	f.logf("sessiond %d killed", m.n)
	sleep(ctx, time.Second)
	if err := f.startMember(ctx, f.cfg.bin, m); err != nil {
		return err
	}
	return f.waitServing(ctx, m)
}

// rollingRestart stops every sessiond in turn with SIGTERM, which must
// finish the requests in flight and exit 0, starts it again, and waits
// until nginx sends it requests again before it stops the next one.
func rollingRestart(ctx context.Context, f *fleet) error {
	for _, m := range f.members {
		start := time.Now()
		if err := m.p.Stop(shutdownTimeout + 5*time.Second); err != nil {
			return fmt.Errorf("sessiond %d: %w; its log ends:\n%s", m.n, err, m.p.LogTail(5))
		}
		f.logf("sessiond %d stopped after %.2fs", m.n, time.Since(start).Seconds())
		if err := f.startMember(ctx, f.cfg.bin, m); err != nil {
			return err
		}
		if err := f.waitServing(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// killMaster fails a Redis master over to its replica, after stopping
// the replica for lag if lag is positive.
func killMaster(ctx context.Context, f *fleet, lag time.Duration) error {
	m, r, err := f.cluster.master()
	if err != nil {
		return err
	}
	return f.cluster.failover(ctx, m, r, lag, f.logf)
}
