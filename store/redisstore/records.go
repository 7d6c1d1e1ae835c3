package redisstore

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/redis/rueidis"
	"github.com/sesame-go/sesame"
)

// Load returns the value and version stored under key, in one round trip
// (or none, when the client-side cache is on and holds the record). It
// returns an error wrapping sesame.ErrNotFound when there is no record or
// it has expired. A failure that a moment may cure (a node down, a
// failover in progress, CLUSTERDOWN) is retried until ctx ends.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := checkKey(ctx, "load", key); err != nil {
		return nil, 0, err
	}
	c := s.client
	cached := s.cache > 0 && !s.bypass.has(key)
	var rec string
	err := retry(ctx, func() (err error) {
		if cached {
			rec, err = c.DoCache(ctx, c.B().Get().Key(s.recordKey(key)).Cache(), s.cache).ToString()
		} else {
			rec, err = c.Do(ctx, c.B().Get().Key(s.recordKey(key)).Build()).ToString()
		}
		return err
	})
	if rueidis.IsRedisNil(err) {
		return nil, 0, fmt.Errorf("redisstore: load %s: %w", short(key), sesame.ErrNotFound)
	}
	if err != nil {
		return nil, 0, s.fail(ctx, "load", key, err)
	}
	version, _, value, err := decodeRecord(rec)
	if err != nil {
		return nil, 0, s.fail(ctx, "load", key, err)
	}
	// A copy: the string may be shared with the client's cache.
	return []byte(value), version, nil
}

// Save stores value under key if the stored version is version (0: no
// record), in one round trip: the conditional write is one Lua script, and
// when opts.User is set the user index entry is pipelined with it. It
// returns the new version, or an error wrapping sesame.ErrConflict.
func (s *Store) Save(ctx context.Context, key string, value []byte, version uint64, opts sesame.SaveOptions) (uint64, error) {
	if err := checkKey(ctx, "save", key); err != nil {
		return 0, err
	}
	c := s.client
	next := newVersion(version)
	// An expiry in the past makes Redis drop the record at once, as the
	// contract allows; Redis refuses one at or before 1970.
	expires := strconv.FormatInt(max(opts.ExpiresAt.UnixMilli(), 1), 10)
	keys := []string{s.recordKey(key)}
	args := []string{versionString(version), encodeRecord(next, opts.User, value), expires}

	var saved, indexed rueidis.RedisResult
	var savedWait, indexedWait error // MinReplicas not reached
	ukeys := []string{s.userKey(opts.User)}
	switch {
	case s.minReplicas > 0:
		// Each write waits for its own master's replicas, on a connection
		// of its own; the record and the index entry are written at once.
		var wg sync.WaitGroup
		if opts.User != "" {
			wg.Go(func() { indexed, indexedWait = s.runReplicated(ctx, indexScript, ukeys, key, expires) })
		}
		saved, savedWait = s.runReplicated(ctx, saveScript, keys, args...)
		wg.Wait()
	case opts.User == "":
		saved = saveScript.run(ctx, c, keys, args...)
	default:
		// The index entry goes first in the pipeline, but in a cluster the
		// two commands may go to different nodes, so nothing orders them.
		rs := c.DoMulti(ctx, indexScript.cmd(c, ukeys, key, expires), saveScript.cmd(c, keys, args...))
		indexed, saved = rs[0], rs[1]
		if noScript(indexed) {
			indexed = c.Do(ctx, indexScript.eval(c, ukeys, key, expires))
		}
		if noScript(saved) {
			saved = c.Do(ctx, saveScript.eval(c, keys, args...))
		}
	}
	if s.cache > 0 {
		s.bypass.add(key, s.cache)
	}
	ok, err := saved.AsInt64()
	if err != nil {
		return 0, s.fail(ctx, "save", key, err)
	}
	if ok != 1 {
		return 0, fmt.Errorf("redisstore: save %s with version %d: %w", short(key), version, sesame.ErrConflict)
	}
	if savedWait != nil {
		return 0, s.fail(ctx, "save", key, savedWait)
	}
	if opts.User != "" {
		if err := indexed.Error(); err != nil {
			// The record is saved but not filed under its user, so a
			// DeleteUser would miss it: say so rather than succeed.
			return 0, s.fail(ctx, "save", key, fmt.Errorf("record saved but not added to its user's index: %w", err))
		}
		if indexedWait != nil {
			return 0, s.fail(ctx, "save", key, fmt.Errorf("record saved, but its user's index entry is %w", indexedWait))
		}
	}
	return next, nil
}

// newVersion returns a random version other than 0 and old. Versions are
// random rather than counted (see the README) so that none ever comes back for a key: a
// counter would restart when its key is deleted, expires or is evicted, or
// when a replica that missed its last increments is promoted, and a
// request holding an old version could then overwrite a newer record with
// the same number (ABA). Two random 64-bit versions coincide with
// probability 2⁻⁶⁴.
func newVersion(old uint64) uint64 {
	for {
		if v := rand.Uint64(); v != 0 && v != old {
			return v
		}
	}
}

// Delete removes the record under key, whatever its version, in one round
// trip. Its user index entry is removed lazily (see UserSessions).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(ctx, "delete", key); err != nil {
		return err
	}
	if s.cache > 0 {
		s.bypass.add(key, s.cache)
	}
	c := s.client
	del := func() rueidis.Completed { return c.B().Del().Key(s.recordKey(key)).Build() }
	if s.minReplicas == 0 {
		if err := c.Do(ctx, del()).Error(); err != nil {
			return s.fail(ctx, "delete", key, err)
		}
		return nil
	}
	r, werr := s.replicated(ctx, del, nil)
	if err := cmp.Or(r.Error(), werr); err != nil {
		return s.fail(ctx, "delete", key, err)
	}
	return nil
}
