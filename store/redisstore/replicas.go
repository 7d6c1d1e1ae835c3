package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// ErrNotReplicated is wrapped by the error of a write that its master made
// but that fewer than Config.MinReplicas of its replicas acknowledged within
// Config.ReplicaTimeout. The store did not acknowledge the write: it may
// stay, or a failover of that master may undo it.
var ErrNotReplicated = errors.New("not acknowledged by enough replicas")

// maxMoves bounds how often a replicated write follows a MOVED redirect
// (a slot's master changed, as after a failover) before it gives up.
const maxMoves = 3

// replicated sends the command build makes to the master of its key's slot
// and then, on the same connection, WAIT for Config.MinReplicas replicas;
// WAIT counts the replicas that hold every write made on its connection
// so far. It returns the command's result and, separately, an error when
// the command succeeded but the wait failed or fell short. A command
// answered with MOVED (the slot has a new master, as after a failover),
// which it did not run, is sent again to the node named. fallback, if not
// nil, makes the command sent instead when the server answers NOSCRIPT.
func (s *Store) replicated(ctx context.Context, build, fallback func() rueidis.Completed) (rueidis.RedisResult, error) {
	var node rueidis.Client = s.client
	for moves := 0; ; moves++ {
		r, werr := s.waitAfter(ctx, node, build())
		if fallback != nil && noScript(r) {
			r, werr = s.waitAfter(ctx, node, fallback())
		}
		e, ok := rueidis.IsRedisErr(r.Error())
		if !ok || moves == maxMoves {
			return r, werr
		}
		addr, moved := e.IsMoved()
		if !moved {
			return r, werr
		}
		if n, ok := s.client.Nodes()[addr]; ok {
			node = n
			continue
		}
		// A node the client does not know yet: it refreshes its view of
		// the cluster in the background after a MOVED.
		t := time.NewTimer(time.Duration(100<<moves) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return r, werr
		case <-t.C:
		}
	}
}

// waitAfter sends cmd and WAIT on one dedicated connection of client.
func (s *Store) waitAfter(ctx context.Context, client rueidis.Client, cmd rueidis.Completed) (rueidis.RedisResult, error) {
	timeout := s.replicaTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	// WAIT 0 would block forever.
	ms := max(timeout.Milliseconds(), 1)
	dc, release := client.Dedicate()
	defer release()
	rs := dc.DoMulti(ctx, cmd, dc.B().Wait().Numreplicas(int64(s.minReplicas)).Timeout(ms).Build())
	if rs[0].Error() != nil {
		return rs[0], nil
	}
	n, err := rs[1].AsInt64()
	if err != nil {
		return rs[0], fmt.Errorf("%w: the write reached the master, but WAIT for %d replicas failed: %w", ErrNotReplicated, s.minReplicas, err)
	}
	if n < int64(s.minReplicas) {
		return rs[0], fmt.Errorf("%w: the write reached the master, but %d of the %d replicas asked for (MinReplicas) had it within %v (ReplicaTimeout); a failover may undo it",
			ErrNotReplicated, n, s.minReplicas, time.Duration(ms)*time.Millisecond)
	}
	return rs[0], nil
}

// runReplicated is run for a script: by SHA-1, by its text on NOSCRIPT,
// followed by WAIT when MinReplicas asks for it.
func (s *Store) runReplicated(ctx context.Context, sc *script, keys []string, args ...string) (rueidis.RedisResult, error) {
	if s.minReplicas == 0 {
		return sc.run(ctx, s.client, keys, args...), nil
	}
	return s.replicated(ctx,
		func() rueidis.Completed { return sc.cmd(s.client, keys, args...) },
		func() rueidis.Completed { return sc.eval(s.client, keys, args...) })
}
