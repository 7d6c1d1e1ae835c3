package boltstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"go.etcd.io/bbolt"
)

// holdCommitter occupies the committer with a write that waits for the
// returned release function, so that the writes submitted meanwhile queue
// up and are committed together, in one transaction, after it.
func holdCommitter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	entered, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := s.submit(context.Background(), "hold", func(*bbolt.Tx) (uint64, error) {
			close(entered)
			<-gate
			return 0, nil
		})
		done <- err
	}()
	<-entered
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("holding write: %v", err)
		}
	}
}

// waitQueued waits until n writes are queued for the committer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued after 5 s; want %d", len(s.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConflictInBatchFailsOnlyItsCaller queues writes that will share one
// transaction, some of which conflict, and checks that each caller gets
// its own result and that the others are committed.
func TestConflictInBatchFailsOnlyItsCaller(t *testing.T) {
	s := openTest(t, Config{SweepInterval: -1})
	vOld := mustSave(t, s, "existing", "old", 0, live(""))

	type write struct {
		key, value   string
		version      uint64
		wantConflict bool
	}
	writes := []write{
		{"a", "a1", 0, false},
		{"existing", "stale", vOld + 1, true}, // wrong version
		{"b", "b1", 0, false},
		{"a", "a again", 0, true}, // created earlier in this very batch
		{"existing", "new", vOld, false},
		{"ghost", "g", 7, true}, // version of a record that never was
	}
	release := holdCommitter(t, s)
	before := s.commits.Load()
	results := make([]error, len(writes))
	versions := make([]uint64, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		wg.Go(func() {
			versions[i], results[i] = s.Save(ctx, w.key, []byte(w.value), w.version, live(""))
		})
		waitQueued(t, s, i+1) // keep the queue in this order
	}
	release()
	wg.Wait()
	if n := s.commits.Load() - before; n != 1 {
		t.Errorf("the %d queued writes took %d transactions; want 1", len(writes), n)
	}
	for i, w := range writes {
		if got := errors.Is(results[i], sesame.ErrConflict); got != w.wantConflict || (!got && results[i] != nil) {
			t.Errorf("write %d (%s, version %d): %v; want conflict %v", i, w.key, w.version, results[i], w.wantConflict)
		}
	}
	wantRecord(t, s, "a", "a1", versions[0])
	wantRecord(t, s, "b", "b1", versions[2])
	wantRecord(t, s, "existing", "new", versions[4])
	if _, _, err := s.Load(ctx, "ghost"); !errors.Is(err, sesame.ErrNotFound) {
		t.Errorf("Load(ghost): %v; want ErrNotFound", err)
	}
}

// TestFailedWriteInBatchIsRetriedAlone: a write that fails after changing
// the transaction rolls its batch back; the others are then committed
// alone and only the failing one reports an error.
func TestFailedWriteInBatchIsRetriedAlone(t *testing.T) {
	s := openTest(t, Config{SweepInterval: -1})
	release := holdCommitter(t, s)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			if i == 1 {
				_, errs[i] = s.submit(ctx, "broken", func(tx *bbolt.Tx) (uint64, error) {
					if err := tx.Bucket(recordsBucket).Put([]byte("half-done"), encodeRecord(1, 0, "", nil)); err != nil {
						return 0, err
					}
					return 0, errors.New("disk on fire")
				})
				return
			}
			_, errs[i] = s.Save(ctx, key(i), []byte("ok"), 0, live(""))
		})
		waitQueued(t, s, i+1)
	}
	release()
	wg.Wait()
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("the healthy writes failed: %v, %v", errs[0], errs[2])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "disk on fire") || !strings.Contains(errs[1].Error(), s.Path()) {
		t.Errorf("the broken write: %v; want its own error, naming the file", errs[1])
	}
	if _, _, err := s.Load(ctx, "half-done"); !errors.Is(err, sesame.ErrNotFound) {
		t.Errorf("the broken write's change is visible: %v", err)
	}
	for _, i := range []int{0, 2} {
		if _, _, err := s.Load(ctx, key(i)); err != nil {
			t.Errorf("Load(%s): %v", key(i), err)
		}
	}
}

// TestGroupCommitUnderConcurrency hammers the committer with writers on
// their own keys and on one shared counter; run it with -race. Every write
// is answered with its own correct result, and writes share transactions.
func TestGroupCommitUnderConcurrency(t *testing.T) {
	s := openTest(t, Config{SweepInterval: -1, MaxBatch: 16})
	const writers, each = 16, 40
	before := s.commits.Load()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			var v uint64
			k := fmt.Sprintf("own-%d", w)
			for i := range each {
				var err error
				if v, err = s.Save(ctx, k, []byte(fmt.Sprint(i)), v, live(fmt.Sprint("user-", w%3))); err != nil {
					t.Errorf("writer %d, save %d: %v", w, i, err)
					return
				}
				if err := increment(s, "shared"); err != nil {
					t.Error(err)
					return
				}
			}
			wantRecord(t, s, k, fmt.Sprint(each-1), v)
		})
	}
	wg.Wait()
	got, _, err := s.Load(ctx, "shared")
	if err != nil || string(got) != fmt.Sprint(writers*each) {
		t.Fatalf("shared counter = %q, %v; want %d", got, err, writers*each)
	}
	for u := range 3 {
		list, err := s.UserSessions(ctx, fmt.Sprint("user-", u))
		if err != nil || len(list) != (writers+2-u)/3 {
			t.Errorf("UserSessions(user-%d) = %d records, %v; want %d", u, len(list), err, (writers+2-u)/3)
		}
	}
	t.Logf("%d transactions for at least %d writes", s.commits.Load()-before, 2*writers*each)
}

// increment adds one to a decimal counter, retrying on conflict.
func increment(s *Store, k string) error {
	for {
		b, v, err := s.Load(ctx, k)
		n := 0
		if err == nil {
			fmt.Sscan(string(b), &n)
		} else if !errors.Is(err, sesame.ErrNotFound) {
			return err
		}
		_, err = s.Save(ctx, k, []byte(fmt.Sprint(n+1)), v, live(""))
		if !errors.Is(err, sesame.ErrConflict) {
			return err
		}
	}
}

// TestAbandonedWriteChangesNothing: a write whose context ends while it is
// still queued fails with the context's error and is never applied.
func TestAbandonedWriteChangesNothing(t *testing.T) {
	s := openTest(t, Config{SweepInterval: -1})
	release := holdCommitter(t, s)
	c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err := s.Save(c, "late", []byte("x"), 0, live(""))
	release()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Save with a context that ended while queued: %v; want DeadlineExceeded", err)
	}
	mustSave(t, s, "after", "y", 0, live("")) // the committer has moved on
	if _, _, err := s.Load(ctx, "late"); !errors.Is(err, sesame.ErrNotFound) {
		t.Fatalf("Load of the abandoned write: %v; want ErrNotFound", err)
	}
}
