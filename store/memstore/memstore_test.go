package memstore

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) sesame.Store {
		s := newStore(t, Config{})
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// newStore is New for the tests, which fails the test on an error.
func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// testKey returns a valid key that differs for each i.
func testKey(i int) string {
	return "key-" + strconv.Itoa(i)
}

func TestLoadDoesNotAllocate(t *testing.T) {
	s := newStore(t, Config{SweepInterval: -1})
	ctx := t.Context()
	key := testKey(1)
	if _, err := s.Save(ctx, key, make([]byte, 200), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, _, err := s.Load(ctx, key); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Load allocates %v times per call; want 0", allocs)
	}
}

func TestExpiryTimes(t *testing.T) {
	tests := []struct {
		name      string
		expiresAt time.Time
		live      bool
	}{
		{"zero time never expires", time.Time{}, true},
		{"beyond year 2262 is clamped", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"far future", time.Now().Add(100 * 365 * 24 * time.Hour), true},
		{"just passed", time.Now().Add(-time.Nanosecond), false},
		{"before year 1678 is clamped", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), false},
	}
	s := newStore(t, Config{SweepInterval: -1})
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := testKey(i)
			if _, err := s.Save(t.Context(), key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: tc.expiresAt}); err != nil {
				t.Fatal(err)
			}
			_, _, err := s.Load(t.Context(), key)
			if live := err == nil; live != tc.live {
				t.Fatalf("Load: error %v; want live = %v", err, tc.live)
			}
		})
	}
	if got := unixNano(time.Time{}); got != math.MaxInt64 {
		t.Errorf("unixNano(zero) = %d; want MaxInt64", got)
	}
}

// TestSweepFreesExpiredRecordsAndTheirIndexEntries checks that a sweep
// removes exactly the expired records, from the map, the heap and the
// user index.
func TestSweepFreesExpiredRecordsAndTheirIndexEntries(t *testing.T) {
	s := newStore(t, Config{SweepInterval: -1})
	ctx := t.Context()
	base := time.Now().Add(time.Hour)
	const n = 3000 // a third expire at base, a third a minute later, a third after two
	for i := range n {
		opts := sesame.SaveOptions{ExpiresAt: base.Add(time.Duration(i%3) * time.Minute), User: "user" + strconv.Itoa(i%7)}
		if i%5 == 0 {
			opts.User = ""
		}
		if _, err := s.Save(ctx, testKey(i), []byte("v"), 0, opts); err != nil {
			t.Fatal(err)
		}
	}
	checkInvariants(t, s)

	// Sweeping before anything expired removes nothing.
	if got := s.sweep(time.Now().UnixNano()); got != 0 {
		t.Fatalf("sweep removed %d records before any expired", got)
	}
	// The first third expire at base, the second a minute later.
	if got := s.sweep(base.UnixNano()); got != n/3 {
		t.Fatalf("sweep at the first expiry removed %d records; want %d", got, n/3)
	}
	checkInvariants(t, s)
	if got := s.sweep(base.Add(time.Minute).UnixNano()); got != n/3 {
		t.Fatalf("sweep at the second expiry removed %d records; want %d", got, n/3)
	}
	checkInvariants(t, s)
	if got, want := count(s), n/3; got != want {
		t.Fatalf("%d records left; want %d", got, want)
	}
	if got := s.sweep(base.Add(time.Hour).UnixNano()); got != n/3 {
		t.Fatalf("final sweep removed %d records; want %d", got, n/3)
	}
	checkInvariants(t, s)
	for i := range s.shards {
		sh := &s.shards[i]
		if len(sh.records) != 0 || len(sh.expiry) != 0 || len(sh.users) != 0 {
			t.Fatalf("shard %d holds %d records, %d heap entries, %d users after everything expired",
				i, len(sh.records), len(sh.expiry), len(sh.users))
		}
	}
}

// TestSweepInBatches checks that a shard with more expired records than one
// batch is swept completely.
func TestSweepInBatches(t *testing.T) {
	s := newStore(t, Config{SweepInterval: -1})
	sh := &s.shards[0]
	past := time.Now().Add(-time.Second).UnixNano()
	const n = 2*sweepBatch + 10
	sh.mu.Lock()
	for i := 0; len(sh.records) < n; i++ {
		if key := testKey(i); s.shard(key) == sh {
			sh.put(nil, key, nil, past, "u")
		}
	}
	sh.mu.Unlock()
	if got := s.sweep(time.Now().UnixNano()); got != n {
		t.Fatalf("sweep removed %d; want %d", got, n)
	}
	checkInvariants(t, s)
}

// TestSweeperRunsInBackground lets the sweeper goroutine itself reclaim a
// record, on the synthetic clock of a synctest bubble.
func TestSweeperRunsInBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, Config{SweepInterval: time.Minute})
		defer s.Close()
		opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Second), User: "u"}
		if _, err := s.Save(t.Context(), testKey(1), []byte("v"), 0, opts); err != nil {
			t.Fatal(err)
		}
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if count(s) != 1 {
			t.Fatal("record reclaimed before the sweeper's first run")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := count(s); got != 0 {
			t.Fatalf("%d records left a sweep interval after they expired", got)
		}
		checkInvariants(t, s)
	})
}

// TestCloseStopsTheSweeper runs in a synctest bubble: synctest.Wait
// returns once every goroutine there has started and blocked, so the
// count of sweepers is exact, with no wait bounded by the wall clock.
func TestCloseStopsTheSweeper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		before := sweepers()
		stores := []*Store{newStore(t, Config{}), newStore(t, Config{SweepInterval: time.Millisecond}), newStore(t, Config{SweepInterval: -1})}
		synctest.Wait()
		if got := sweepers(); got != before+2 {
			t.Fatalf("%d sweepers running with two new stores; want %d", got, before+2)
		}
		for _, s := range stores {
			for range 2 { // Close is idempotent
				if err := s.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
			}
		}
		synctest.Wait()
		if got := sweepers(); got != before {
			t.Fatalf("%d sweepers running after Close; want %d", got, before)
		}
		// The store still serves after Close.
		s := stores[0]
		if _, err := s.Save(t.Context(), testKey(1), []byte("v"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatalf("Save after Close: %v", err)
		}
	})
}

// sweepers counts the running sweeper goroutines of all stores (only
// memstore starts sweepers in this test binary).
func sweepers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "store/sweeper.(*Sweeper).run(")
}

// TestRandomOperationsKeepTheShardsConsistent runs random saves, deletes,
// user deletions and sweeps against a simple model and checks the store's
// answers and internal invariants against it.
func TestRandomOperationsKeepTheShardsConsistent(t *testing.T) {
	type record struct {
		value   string
		version uint64
		expires time.Time
		user    string
	}
	rng := rand.New(rand.NewPCG(1, 2))
	s := newStore(t, Config{SweepInterval: -1})
	ctx := t.Context()
	model := map[string]record{}
	base := time.Now().Add(time.Hour) // nothing expires on the real clock
	swept := base
	for step := range 5000 {
		key := testKey(rng.IntN(200))
		user := []string{"", "a", "b", "c"}[rng.IntN(4)]
		switch op := rng.IntN(20); {
		case op < 12: // save at the current version, with a new expiry
			r := record{value: strconv.Itoa(step), expires: swept.Add(time.Duration(1+rng.IntN(100)) * time.Second), user: user}
			v, err := s.Save(ctx, key, []byte(r.value), model[key].version, sesame.SaveOptions{ExpiresAt: r.expires, User: user})
			if err != nil {
				t.Fatalf("step %d: Save: %v", step, err)
			}
			r.version = v
			model[key] = r
		case op < 14: // save at a wrong version
			_, err := s.Save(ctx, key, []byte("wrong"), model[key].version+1, sesame.SaveOptions{ExpiresAt: base})
			if !errors.Is(err, sesame.ErrConflict) {
				t.Fatalf("step %d: Save at a wrong version: %v", step, err)
			}
		case op < 17:
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			delete(model, key)
		case op < 18:
			if err := s.DeleteUser(ctx, user); err != nil {
				t.Fatal(err)
			}
			for k, r := range model {
				if user != "" && r.user == user {
					delete(model, k)
				}
			}
		default:
			swept = swept.Add(time.Duration(rng.IntN(30)) * time.Second)
			s.sweep(swept.UnixNano())
			for k, r := range model {
				if !r.expires.After(swept) {
					delete(model, k)
				}
			}
		}
		if step%250 == 0 {
			checkInvariants(t, s)
		}
	}
	checkInvariants(t, s)
	if got := count(s); got != len(model) {
		t.Fatalf("store holds %d records; model %d", got, len(model))
	}
	for k, r := range model {
		value, version, err := s.Load(ctx, k)
		if err != nil || string(value) != r.value || version != r.version {
			t.Fatalf("Load(%s) = %q, %d, %v; want %q, %d", k, value, version, err, r.value, r.version)
		}
	}
	for _, user := range []string{"a", "b", "c"} {
		records, err := s.UserSessions(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		for _, r := range model {
			if r.user == user {
				want++
			}
		}
		if len(records) != want {
			t.Fatalf("UserSessions(%q) lists %d records; model %d", user, len(records), want)
		}
	}
}

// count returns how many records the store holds, live or not.
func count(s *Store) int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.records)
		sh.mu.RUnlock()
	}
	return n
}

// checkInvariants fails the test unless every shard's map, heap and user
// index describe the same records, and the heap is ordered.
func checkInvariants(t *testing.T, s *Store) {
	t.Helper()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		if len(sh.expiry) != len(sh.records) {
			t.Errorf("shard %d: %d heap entries for %d records", i, len(sh.expiry), len(sh.records))
		}
		for j, e := range sh.expiry {
			if e.index != j {
				t.Errorf("shard %d: heap entry %d thinks it is at %d", i, j, e.index)
			}
			if sh.records[e.key] != e {
				t.Errorf("shard %d: heap holds %q, which the map does not", i, e.key)
			}
			if j > 0 && sh.expiry[(j-1)/2].expires > e.expires {
				t.Errorf("shard %d: heap out of order at %d", i, j)
			}
			if s.shard(e.key) != sh {
				t.Errorf("shard %d holds %q, which belongs elsewhere", i, e.key)
			}
		}
		indexed := 0
		for user, set := range sh.users {
			if len(set) == 0 {
				t.Errorf("shard %d: empty set kept for user %q", i, user)
			}
			for e := range set {
				indexed++
				if e.user != user || sh.records[e.key] != e {
					t.Errorf("shard %d: user %q lists %q, which is not theirs or not stored", i, user, e.key)
				}
			}
		}
		for _, e := range sh.records {
			if e.user != "" {
				indexed--
			}
		}
		if indexed != 0 {
			t.Errorf("shard %d: user index and records disagree by %d", i, indexed)
		}
		sh.mu.RUnlock()
	}
}

// TestConfigNowDecidesExpiry moves the store's own clock, not the real
// one, across a record's expiry: Load, Save and UserSessions all read it.
func TestConfigNowDecidesExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newStore(t, Config{SweepInterval: -1, Now: clock})
	expires := now.Add(time.Hour)
	v, err := s.Save(t.Context(), testKey(1), []byte("v"), 0, sesame.SaveOptions{ExpiresAt: expires, User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = expires.Add(-time.Nanosecond)
	mu.Unlock()
	if _, got, err := s.Load(t.Context(), testKey(1)); err != nil || got != v {
		t.Fatalf("Load 1 ns before expiry = version %d, %v", got, err)
	}
	mu.Lock()
	now = expires
	mu.Unlock()
	if _, _, err := s.Load(t.Context(), testKey(1)); !errors.Is(err, sesame.ErrNotFound) {
		t.Fatalf("Load at expiry by the store's clock: %v; want ErrNotFound", err)
	}
	if recs, err := s.UserSessions(t.Context(), "u"); err != nil || len(recs) != 0 {
		t.Fatalf("UserSessions at expiry = %d records, %v; want none", len(recs), err)
	}
	if _, err := s.Save(t.Context(), testKey(1), []byte("w"), 0, sesame.SaveOptions{}); err != nil {
		t.Fatalf("Save over the expired record as new: %v", err)
	}
}
