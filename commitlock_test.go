package sesame

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// entries counts the locks the table holds.
func (l *commitLocks) entries() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// TestCommitLocksExcludeAndEmpty has goroutines take the locks of a few
// keys many times, each changing an unguarded counter of its key under
// the lock: under -race, two holders at once would be reported, and a
// lost increment shows. Afterwards the table holds nothing.
func TestCommitLocksExcludeAndEmpty(t *testing.T) {
	var l commitLocks
	keys := []string{"a", "b", "c"}
	counters := make([]int, len(keys))
	const goroutines, rounds = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for r := range rounds {
				i := (g + r) % len(keys)
				c, err := l.lock(t.Context(), keys[i])
				if err != nil {
					t.Error(err)
					return
				}
				counters[i]++
				l.unlock(keys[i], c)
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range counters {
		total += n
	}
	if total != goroutines*rounds {
		t.Errorf("%d increments; want %d", total, goroutines*rounds)
	}
	if n := l.entries(); n != 0 {
		t.Errorf("table holds %d locks after every commit ended; want 0", n)
	}
}

// TestCommitLockWaiterGivesUpWithItsContext holds a key's lock while
// another caller waits for it with a context that ends: the waiter gets
// the context's error, a third caller waiting meanwhile gets the lock once
// it is released, and the table is empty afterwards. Other keys are never
// held up.
func TestCommitLockWaiterGivesUpWithItsContext(t *testing.T) {
	var l commitLocks
	held, err := l.lock(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}

	done, cancel := context.WithCancel(t.Context())
	cancel()
	other, err := l.lock(done, "other")
	if err != nil {
		t.Fatalf("lock of a free key with a done context: %v; want it taken without waiting", err)
	}
	l.unlock("other", other)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.lock(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting for a held lock past the deadline: %v; want context.DeadlineExceeded", err)
	}

	got := make(chan *commitLock)
	go func() {
		c, err := l.lock(t.Context(), "k")
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	select {
	case <-got:
		t.Fatal("a second holder got the lock while it was held")
	case <-time.After(20 * time.Millisecond):
	}
	l.unlock("k", held)
	l.unlock("k", <-got)
	if n := l.entries(); n != 0 {
		t.Errorf("table holds %d locks after every commit ended; want 0", n)
	}
}
