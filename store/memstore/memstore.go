// Package memstore is an in-memory sesame.Store with a user index.
//
// It suits a single process: tests, development, and services that accept
// losing every session on restart. Records live in a sharded map, so reads
// and writes of different sessions rarely wait for each other, and Load
// does not allocate.
//
// Expired records are never returned. A background sweeper reclaims them
// at an interval (see Config); its work is proportional to what expired,
// not to what is stored, because each shard keeps its records in a heap
// ordered by expiry. Go maps keep their largest size when entries are
// deleted, so the sweeper also rebuilds a shard whose records (or users)
// have fallen to a quarter of their peak: after a burst of sessions has
// expired, the store's memory returns to what the remaining sessions need.
// Call Close to stop the sweeper when the store is no longer needed.
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/sweeper"
)

// DefaultSweepInterval is how often the sweeper reclaims expired records
// when Config.SweepInterval is zero.
const DefaultSweepInterval = time.Minute

// numShards is how many independently locked parts the store has. A power
// of two, so a hash picks one with a mask.
const numShards = 64

// Config configures a Store. The zero value is ready to use.
type Config struct {
	// SweepInterval is how often expired records are reclaimed. Zero
	// means DefaultSweepInterval; a negative value turns the sweeper off,
	// which leaves expired records in memory (though Load still hides
	// them) until their keys are saved or deleted again, and keeps the
	// store's maps at their largest size.
	SweepInterval time.Duration

	// Now is the clock the store reads to decide what has expired. Nil
	// means time.Now. Tests that drive a sesame.Manager with a clock of
	// their own give the store the same one, so that both agree on
	// whether a record has expired.
	Now func() time.Time
}

// Store is an in-memory sesame.Store and sesame.UserIndex. It is safe for
// concurrent use. Make one with New; the zero value is not usable.
type Store struct {
	seed   maphash.Seed
	shards [numShards]shard
	now    func() time.Time

	sweeper *sweeper.Sweeper // nil if turned off
}

var (
	_ sesame.Store     = (*Store)(nil)
	_ sesame.UserIndex = (*Store)(nil)
	_ sesame.Renewer   = (*Store)(nil)
)

// New returns an empty Store and starts its sweeper. Call Close to stop it.
//
// No Config makes New fail today: its error is always nil. New returns
// one anyway, so that every store in this repository is made the same way,
// New(Config) (*Store, error), and code written for one fits another.
func New(cfg Config) (*Store, error) {
	s := &Store{seed: maphash.MakeSeed(), now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	for i := range s.shards {
		s.shards[i].init()
	}
	interval := cfg.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	if interval < 0 {
		return s, nil
	}
	s.sweeper = sweeper.Start(interval, func(context.Context) error {
		s.sweep(s.now().UnixNano())
		return nil
	}, nil)
	return s, nil
}

// Close stops the sweeper and waits for it to return. It is safe to call
// more than once and always returns nil. The store keeps working after
// Close, but expired records are no longer reclaimed in the background.
func (s *Store) Close() error {
	s.sweeper.Stop()
	return nil
}

// Load returns the value and version stored under key. The returned slice
// is the store's own and must not be modified.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := check(ctx, "load", key); err != nil {
		return nil, 0, err
	}
	now := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.RLock()
	e := sh.records[key]
	if e == nil || e.expires <= now {
		sh.mu.RUnlock()
		return nil, 0, fmt.Errorf("memstore: load %q: %w", key, sesame.ErrNotFound)
	}
	value, version := e.value, e.version
	sh.mu.RUnlock()
	return value, version, nil
}

// Save stores a copy of value under key if the live record there has the
// given version (0: there is none), and returns the new version. Versions
// are never reused for a key, even after it is deleted or expires. A zero
// opts.ExpiresAt means the record does not expire.
func (s *Store) Save(ctx context.Context, key string, value []byte, version uint64, opts sesame.SaveOptions) (uint64, error) {
	if err := check(ctx, "save", key); err != nil {
		return 0, err
	}
	own := make([]byte, len(value))
	copy(own, value)
	expires := unixNano(opts.ExpiresAt)
	now := s.now().UnixNano()

	sh := s.shard(key)
	sh.mu.Lock()
	e := sh.records[key]
	var current uint64
	if e != nil && e.expires > now {
		current = e.version
	}
	if current != version {
		sh.mu.Unlock()
		return 0, fmt.Errorf("memstore: save %q at version %d: %w", key, version, sesame.ErrConflict)
	}
	newVersion := sh.put(e, key, own, expires, opts.User)
	sh.mu.Unlock()
	return newVersion, nil
}

// Renew moves the record under oldKey, if its version is oldVersion, to
// newKey with value, atomically: no Load sees both records or neither.
func (s *Store) Renew(ctx context.Context, oldKey string, oldVersion uint64, newKey string, value []byte, opts sesame.SaveOptions) (uint64, error) {
	if err := check(ctx, "renew", oldKey); err != nil {
		return 0, err
	}
	if err := check(ctx, "renew", newKey); err != nil {
		return 0, err
	}
	own := make([]byte, len(value))
	copy(own, value)
	expires := unixNano(opts.ExpiresAt)
	now := s.now().UnixNano()

	i, j := s.shardIndex(oldKey), s.shardIndex(newKey)
	from, to := &s.shards[i], &s.shards[j]
	// The shards are locked in index order, so no two calls wait for each
	// other.
	lo, hi := &s.shards[min(i, j)], &s.shards[max(i, j)]
	lo.mu.Lock()
	defer lo.mu.Unlock()
	if hi != lo {
		hi.mu.Lock()
		defer hi.mu.Unlock()
	}
	old := from.records[oldKey]
	if old == nil || old.expires <= now || old.version != oldVersion {
		return 0, fmt.Errorf("memstore: renew %q at version %d: %w", oldKey, oldVersion, sesame.ErrConflict)
	}
	e := to.records[newKey]
	if e != nil && e.expires > now {
		return 0, fmt.Errorf("memstore: renew to %q, which exists: %w", newKey, sesame.ErrConflict)
	}
	from.remove(old)
	return to.put(e, newKey, own, expires, opts.User), nil
}

// Delete removes the record under key, if there is one.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	sh := s.shard(key)
	sh.mu.Lock()
	if e := sh.records[key]; e != nil {
		sh.remove(e)
	}
	sh.mu.Unlock()
	return nil
}

// UserSessions returns the live records saved with opts.User equal to
// user. The values are the store's own and must not be modified.
// Anonymous records (user "") are not indexed.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sesame.StoredRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: sessions of a user: %w", err)
	}
	if user == "" {
		return nil, nil
	}
	now := s.now().UnixNano()
	var records []sesame.StoredRecord
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for e := range sh.users[user] {
			if e.expires > now {
				records = append(records, sesame.StoredRecord{Key: e.key, Value: e.value, Version: e.version})
			}
		}
		sh.mu.RUnlock()
	}
	return records, nil
}

// DeleteUser deletes every record saved with opts.User equal to user.
// Records saved for the user while it runs may survive it. An empty user
// deletes nothing: anonymous records are not indexed.
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete a user: %w", err)
	}
	if user == "" {
		return nil
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for e := range sh.users[user] {
			sh.remove(e)
		}
		sh.mu.Unlock()
	}
	return nil
}

// shard returns the shard that holds key.
func (s *Store) shard(key string) *shard {
	return &s.shards[s.shardIndex(key)]
}

// shardIndex is the index of the shard that holds key.
func (s *Store) shardIndex(key string) uint64 {
	return maphash.String(s.seed, key) & (numShards - 1)
}

// check refuses invalid keys and finished contexts, in that order, with
// errors that name the operation.
func check(ctx context.Context, op, key string) error {
	if !validKey(key) {
		if len(key) > sesame.MaxKeyLen {
			key = key[:sesame.MaxKeyLen] + "…"
		}
		return fmt.Errorf("memstore: %s %q: %w", op, key, sesame.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s %q: %w", op, key, err)
	}
	return nil
}

// unixNano converts an expiry to Unix nanoseconds, clamping times that
// int64 cannot hold, and mapping the zero time to "never".
func unixNano(t time.Time) int64 {
	const maxSec = math.MaxInt64/int64(time.Second) - 1
	switch sec := t.Unix(); {
	case t.IsZero() || sec > maxSec:
		return math.MaxInt64
	case sec < -maxSec:
		return math.MinInt64
	}
	return t.UnixNano()
}
