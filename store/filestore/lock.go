package filestore

import (
	"context"
	"time"
)

// numLocks is the number of lock stripes. Keys hash to stripes, so two
// keys may share one; that costs some waiting, never correctness.
const numLocks = 64

// Bounds of the wait between two attempts to take a lock file that
// another process holds.
const (
	minLockWait = 20 * time.Microsecond
	maxLockWait = 2 * time.Millisecond
)

// stripe is one lock: an in-process mutex that a context can abandon,
// and a lock file that excludes other processes and other Stores.
type stripe struct {
	mu   chan struct{} // capacity 1; holding the lock means a value is in it
	file lockFile
}

// stripeOf returns the index of the stripe that guards key (FNV-1a).
func stripeOf(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % numLocks)
}

// lock takes the stripe that guards key. The caller must call unlock on
// the returned stripe.
func (s *Store) lock(ctx context.Context, key string) (*stripe, error) {
	st := &s.stripes[stripeOf(key)]
	select {
	case st.mu <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if s.closed.Load() {
		<-st.mu
		return nil, ErrClosed
	}
	if err := st.file.lock(ctx); err != nil {
		<-st.mu
		return nil, err
	}
	return st, nil
}

// unlock releases a stripe taken by lock.
func (st *stripe) unlock() {
	st.file.unlock()
	<-st.mu
}

// sleepCtx waits for d or until ctx is done, whichever comes first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
