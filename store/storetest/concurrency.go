package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/sesame-go/sesame"
)

// testConcurrentIncrements runs the Manager's read-modify-write loop from
// several goroutines on one record: every increment must survive.
func testConcurrentIncrements(t *testing.T, s sesame.Store) {
	const writers, increments = 8, 25
	key := newKey()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range increments {
				if err := increment(t.Context(), s, key); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, _, err := s.Load(t.Context(), key)
	if err != nil {
		t.Fatalf("Load of the counter: %v", err)
	}
	if want := strconv.Itoa(writers * increments); string(got) != want {
		t.Fatalf("counter = %q after %d×%d increments; want %s (updates were lost)", got, writers, increments, want)
	}
}

// increment adds one to the decimal counter under key, retrying on
// conflict like the Manager does.
func increment(ctx context.Context, s sesame.Store, key string) error {
	const maxAttempts = 10000
	for range maxAttempts {
		value, version, err := s.Load(ctx, key)
		n := 0
		switch {
		case errors.Is(err, sesame.ErrNotFound):
			version = 0
		case err != nil:
			return fmt.Errorf("loading the counter: %w", err)
		default:
			if n, err = strconv.Atoi(string(value)); err != nil {
				return fmt.Errorf("counter holds %s: %w", describe(value), err)
			}
		}
		_, err = s.Save(ctx, key, []byte(strconv.Itoa(n+1)), version, live(""))
		if err == nil {
			return nil
		}
		if !errors.Is(err, sesame.ErrConflict) {
			return fmt.Errorf("saving the counter with version %d: %w", version, err)
		}
	}
	return fmt.Errorf("increment gave up after %d conflicts", maxAttempts)
}

// testConcurrentCreates lets several goroutines create the same key at
// once: exactly one wins, and the store holds what the winner wrote.
func testConcurrentCreates(t *testing.T, s sesame.Store) {
	const creators = 8
	key := newKey()
	versions := make([]uint64, creators)
	errs := make([]error, creators)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range creators {
		wg.Go(func() {
			<-start
			versions[i], errs[i] = s.Save(t.Context(), key, []byte("creator "+strconv.Itoa(i)), 0, live(""))
		})
	}
	close(start)
	wg.Wait()

	winner := oneWinner(t, "creator", errs)
	wantRecord(t, s, key, []byte("creator "+strconv.Itoa(winner)), versions[winner])
}

// oneWinner returns the index of the one call of a race that succeeded,
// and fails the test unless exactly one did and every other one
// conflicted. what names a call in messages.
func oneWinner(t *testing.T, what string, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%ss %d and %d both succeeded", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, sesame.ErrConflict):
			t.Fatalf("%s %d: error %v; want success or an error wrapping ErrConflict", what, i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no %s succeeded", what)
	}
	return winner
}
