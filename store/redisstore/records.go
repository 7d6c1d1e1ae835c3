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
// (or none, when the client-side cache is on and holds the record; see
// writtenSet for the keys this process wrote). It
// returns an error wrapping sesame.ErrNotFound when there is no record or
// it has expired. A failure that a moment may cure (a node down, a
// failover in progress, CLUSTERDOWN) is retried until ctx ends.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := checkKey(ctx, "load", key); err != nil {
		return nil, 0, err
	}
	c := s.client
	var rec string
	err := retry(ctx, func() (err error) {
		if s.cache == 0 {
			rec, err = c.Do(ctx, c.B().Get().Key(s.recordKey(key)).Build()).ToString()
			return err
		}
		r := c.DoCache(ctx, c.B().Get().Key(s.recordKey(key)).Cache(), s.cache)
		rec, err = r.ToString()
		if r.IsCacheHit() && !s.wrote.trusts(key, cachedVersion(rec, err)) {
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
// record), in one round trip: the conditional write is one Lua script,
// which on a standalone server also files the key in its user's index;
// in a cluster, where the index lives in another slot, the index entry is
// a second script pipelined with it. It returns the new version, or an
// error wrapping sesame.ErrConflict.
func (s *Store) Save(ctx context.Context, key string, value []byte, version uint64, opts sesame.SaveOptions) (uint64, error) {
	if err := checkKey(ctx, "save", key); err != nil {
		return 0, err
	}
	next := newVersion(version)
	expires := expiry(opts)
	record := []string{s.recordKey(key)}
	args := []string{versionString(version), encodeRecord(next, opts.User, value), expires}
	var wrote uint64 // the version saved, once it is
	if s.cache > 0 {
		defer func() { s.wrote.add(key, wrote, s.cache) }()
	}
	var rs []rueidis.RedisResult
	var waits []error // MinReplicas not reached
	switch {
	case opts.User == "":
		rs, waits = s.runAll(ctx, call{saveScript, record, args})
	case !s.cluster:
		rs, waits = s.runAll(ctx, call{saveFiledScript, append(record, s.userKey(opts.User)), append(args, key)})
	default:
		rs, waits = s.runAll(ctx, call{saveScript, record, args},
			call{indexScript, []string{s.userKey(opts.User)}, []string{key, expires}})
	}
	ok, err := rs[0].AsInt64()
	if err != nil {
		return 0, s.fail(ctx, "save", key, err)
	}
	if ok != 1 {
		return 0, fmt.Errorf("redisstore: save %s with version %d: %w", short(key), version, sesame.ErrConflict)
	}
	if waits[0] != nil {
		return 0, s.fail(ctx, "save", key, waits[0])
	}
	if len(rs) > 1 {
		if err := s.indexed(rs[1], waits[1]); err != nil {
			return 0, s.fail(ctx, "save", key, err)
		}
	}
	wrote = next
	return next, nil
}

// cachedVersion is the version of a record the cache returned (err is
// its error), 0 if there is none or it does not parse.
func cachedVersion(rec string, err error) uint64 {
	if err != nil {
		return 0
	}
	v, _, _, err := decodeRecord(rec)
	if err != nil {
		return 0
	}
	return v
}

// indexed is the error of the index entry of a record that was saved: a
// record saved but not filed under its user would escape DeleteUser, so
// the write is not acknowledged.
func (s *Store) indexed(r rueidis.RedisResult, wait error) error {
	if err := r.Error(); err != nil {
		return fmt.Errorf("record saved but not added to its user's index: %w", err)
	}
	if wait != nil {
		return fmt.Errorf("record saved, but its user's index entry is %w", wait)
	}
	return nil
}

// expiry is the record expiry Save and Renew send, in Unix milliseconds.
// An expiry in the past makes Redis drop the record at once, as the
// contract allows; Redis refuses one at or before 1970.
func expiry(opts sesame.SaveOptions) string {
	return strconv.FormatInt(max(opts.ExpiresAt.UnixMilli(), 1), 10)
}

// Renew moves the record under oldKey, if its version is oldVersion, to
// newKey with value (see sesame.Renewer), in one round trip. On a
// standalone server it is one Lua script, atomic: the old record is
// deleted, the new one saved and filed under its user, or nothing
// changes. In a cluster the two records and the index live in different
// slots, so three scripts are pipelined: the new record's save, the old
// one's conditional delete and the index entry. If the old record turns
// out to have another version, the new one is deleted again (a second
// round trip) before Renew reports the conflict; until then it is
// readable, but only by its key, which no one has been given.
func (s *Store) Renew(ctx context.Context, oldKey string, oldVersion uint64, newKey string, value []byte, opts sesame.SaveOptions) (uint64, error) {
	if err := checkKey(ctx, "renew", oldKey); err != nil {
		return 0, err
	}
	if err := checkKey(ctx, "renew", newKey); err != nil {
		return 0, err
	}
	if oldVersion == 0 {
		return 0, renewConflict(oldKey, oldVersion) // no record has version 0
	}
	next := newVersion(0)
	expires := expiry(opts)
	record := encodeRecord(next, opts.User, value)
	var wrote uint64 // the new record's version, once it is saved
	if s.cache > 0 {
		defer func() {
			s.wrote.add(oldKey, 0, s.cache)
			s.wrote.add(newKey, wrote, s.cache)
		}()
	}
	if s.cluster {
		if err := s.renewAcross(ctx, oldKey, oldVersion, newKey, record, expires, opts.User); err != nil {
			return 0, err
		}
		wrote = next
		return next, nil
	}
	keys := make([]string, 2, 3)
	keys[0], keys[1] = s.recordKey(oldKey), s.recordKey(newKey)
	if opts.User != "" {
		keys = append(keys, s.userKey(opts.User))
	}
	rs, waits := s.runAll(ctx, call{renewScript, keys, []string{versionString(oldVersion), record, expires, newKey}})
	n, err := rs[0].AsInt64()
	switch {
	case err != nil:
		return 0, s.fail(ctx, "renew", oldKey, err)
	case n == 0:
		return 0, renewConflict(oldKey, oldVersion)
	case n != 1:
		return 0, fmt.Errorf("redisstore: renew %s to %s, which exists: %w", short(oldKey), short(newKey), sesame.ErrConflict)
	case waits[0] != nil:
		return 0, s.fail(ctx, "renew", oldKey, waits[0])
	}
	wrote = next
	return next, nil
}

// renewConflict is the error of a renewal that found the old record at
// another version, or none.
func renewConflict(oldKey string, oldVersion uint64) error {
	return fmt.Errorf("redisstore: renew %s with version %d: %w", short(oldKey), oldVersion, sesame.ErrConflict)
}

// renewAcross is Renew in a cluster: the new record's save, the old
// record's conditional delete and (with a user) the index entry, each in
// its own slot, pipelined.
func (s *Store) renewAcross(ctx context.Context, oldKey string, oldVersion uint64, newKey, record, expires, user string) error {
	calls := []call{
		{saveScript, []string{s.recordKey(newKey)}, []string{"", record, expires}},
		{deleteIfVersionScript, []string{s.recordKey(oldKey)}, []string{versionString(oldVersion)}},
	}
	if user != "" {
		calls = append(calls, call{indexScript, []string{s.userKey(user)}, []string{newKey, expires}})
	}
	rs, waits := s.runAll(ctx, calls...)
	saved, serr := rs[0].AsInt64()
	deleted, derr := rs[1].AsInt64()
	switch {
	case serr != nil && derr == nil && deleted == 1:
		return s.fail(ctx, "renew", newKey, fmt.Errorf("the old record was deleted, but the new one not saved: %w", serr))
	case serr != nil:
		return s.fail(ctx, "renew", newKey, serr)
	case saved != 1:
		return fmt.Errorf("redisstore: renew %s to %s, which exists: %w", short(oldKey), short(newKey), sesame.ErrConflict)
	case derr != nil || deleted != 1:
		// The old record was not deleted: take the new one back.
		why := cmp.Or(derr, renewConflict(oldKey, oldVersion))
		if err := s.Delete(ctx, newKey); err != nil {
			return s.fail(ctx, "renew", oldKey, fmt.Errorf("%w; the new record, left until it expires, could not be deleted: %w", why, err))
		}
		if derr != nil {
			return s.fail(ctx, "renew", oldKey, derr)
		}
		return why
	}
	if err := cmp.Or(waits[0], waits[1]); err != nil {
		return s.fail(ctx, "renew", oldKey, err)
	}
	if user != "" {
		if err := s.indexed(rs[2], waits[2]); err != nil {
			return s.fail(ctx, "renew", newKey, err)
		}
	}
	return nil
}

// call is one run of a script: the script, its keys and its arguments.
type call struct {
	sc   *script
	keys []string
	args []string
}

// runAll runs the calls at once: pipelined, one round trip to each node
// they go to; with MinReplicas, each on a connection of its own followed
// by WAIT. It returns each call's result and, apart, the error of its
// WAIT (nil when the write is acknowledged, or did not happen).
func (s *Store) runAll(ctx context.Context, calls ...call) ([]rueidis.RedisResult, []error) {
	rs := make([]rueidis.RedisResult, len(calls))
	waits := make([]error, len(calls))
	c := s.client
	switch {
	case s.minReplicas > 0:
		var wg sync.WaitGroup
		for i, cl := range calls[1:] {
			wg.Go(func() { rs[i+1], waits[i+1] = s.runReplicated(ctx, cl.sc, cl.keys, cl.args...) })
		}
		rs[0], waits[0] = s.runReplicated(ctx, calls[0].sc, calls[0].keys, calls[0].args...)
		wg.Wait()
	case len(calls) == 1:
		rs[0] = calls[0].sc.run(ctx, c, calls[0].keys, calls[0].args...)
	default:
		cmds := make(rueidis.Commands, len(calls))
		for i, cl := range calls {
			cmds[i] = cl.sc.cmd(c, cl.keys, cl.args...)
		}
		for i, r := range c.DoMulti(ctx, cmds...) {
			if noScript(r) {
				r = c.Do(ctx, calls[i].sc.eval(c, calls[i].keys, calls[i].args...))
			}
			rs[i] = r
		}
	}
	return rs, waits
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
		s.wrote.add(key, 0, s.cache)
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
