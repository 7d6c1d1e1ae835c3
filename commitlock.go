package sesame

import (
	"context"
	"sync"
)

// commitLocks serializes the commits of each session inside one process
// (design rule 6). A request takes its session's lock around its
// conditional saves and the reloads between them, so requests of one
// browser queue up instead of fighting through the store. A request's
// first save may still conflict once, since it read the record before
// taking the lock; its reload and next save, under the lock, can then only
// lose to another process.
//
// The table holds an entry only while a request holds or waits for it, so
// its memory is bounded by the commits in flight, not by the sessions that
// exist. The zero value is ready for use.
type commitLocks struct {
	shards [commitLockShards]commitLockShard
}

// commitLockShards spreads the table over several mutexes, so that commits
// of different sessions on many cores do not queue on one.
const commitLockShards = 64

type commitLockShard struct {
	mu sync.Mutex
	m  map[string]*commitLock
}

// commitLock is one session's lock: a channel holding one token while the
// lock is held, so that a waiter can give up when its context ends.
type commitLock struct {
	held chan struct{}
	refs int // holders and waiters; guarded by the shard's mu
}

// shard returns the shard of key: FNV-1a of the key, which is a hash
// already (a store key), so any few bits of it would do.
func (l *commitLocks) shard(key string) *commitLockShard {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return &l.shards[h%commitLockShards]
}

// lock takes the lock of key, waiting while another commit of the session
// holds it, and gives up with the context's error when ctx ends first. On
// success the caller must call unlock with key and the returned lock.
func (l *commitLocks) lock(ctx context.Context, key string) (*commitLock, error) {
	sh := l.shard(key)
	sh.mu.Lock()
	c := sh.m[key]
	if c == nil {
		if sh.m == nil {
			sh.m = make(map[string]*commitLock)
		}
		// A new lock each time, never a recycled one: a channel made
		// inside a synctest bubble must not be used outside it.
		c = &commitLock{held: make(chan struct{}, 1)}
		sh.m[key] = c
	}
	c.refs++
	sh.mu.Unlock()
	// Try without waiting first: a free lock is the common case, and it
	// spares a cancellable context making its Done channel.
	select {
	case c.held <- struct{}{}:
		return c, nil
	default:
	}
	select {
	case c.held <- struct{}{}:
		return c, nil
	case <-ctx.Done():
		l.release(sh, key, c)
		return nil, ctx.Err()
	}
}

// unlock releases the lock of key that lock returned.
func (l *commitLocks) unlock(key string, c *commitLock) {
	<-c.held
	l.release(l.shard(key), key, c)
}

// release drops one reference to c, removing it from the table when it
// was the last.
func (l *commitLocks) release(sh *commitLockShard, key string, c *commitLock) {
	sh.mu.Lock()
	if c.refs--; c.refs == 0 {
		delete(sh.m, key)
	}
	sh.mu.Unlock()
}
