package filestore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// fakeClock is a clock that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// newFakeClock returns a clock at the real time. It never starts from a
// fixed date: the sweeper compares this clock with the modification
// times the file system gives temporary files, so a fixed date would make
// them look years old, or from the future once the calendar passes it.
// No test may depend on the calendar date, on the machine's speed or on a
// fixed free port.
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now()}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestStore opens a store with cfg in a fresh directory, without a
// background sweeper unless cfg.SweepInterval starts one, reading the
// time from clock (the real time if clock is nil), and closes it when the
// test ends.
func newTestStore(t testing.TB, cfg Config, clock *fakeClock) (*Store, string) {
	t.Helper()
	cfg.Dir = t.TempDir()
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = -1
	}
	now := time.Now
	if clock != nil {
		now = clock.Now
	}
	s, err := newStore(cfg, now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, cfg.Dir
}

// newKey returns a random key shaped like the Manager's.
func newKey() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// mustSave saves and fails the test on error.
func mustSave(t testing.TB, s *Store, key string, value []byte, version uint64, opts sesame.SaveOptions) uint64 {
	t.Helper()
	v, err := s.Save(t.Context(), key, value, version, opts)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	return v
}

// increment adds one to the decimal counter under key, retrying on
// conflict as the Manager does.
func increment(ctx context.Context, s sesame.Store, key string) error {
	for range 100000 {
		value, version, err := s.Load(ctx, key)
		n := 0
		switch {
		case errors.Is(err, sesame.ErrNotFound):
			version = 0
		case err != nil:
			return err
		default:
			if n, err = strconv.Atoi(string(value)); err != nil {
				return err
			}
		}
		_, err = s.Save(ctx, key, []byte(strconv.Itoa(n+1)), version, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
		if !errors.Is(err, sesame.ErrConflict) {
			return err
		}
	}
	return errors.New("increment: too many conflicts")
}

// counter returns the decimal counter under key.
func counter(t testing.TB, s sesame.Store, key string) int {
	t.Helper()
	value, _, err := s.Load(t.Context(), key)
	if err != nil {
		t.Fatalf("Load of the counter: %v", err)
	}
	n, err := strconv.Atoi(string(value))
	if err != nil {
		t.Fatalf("counter: %v", err)
	}
	return n
}
