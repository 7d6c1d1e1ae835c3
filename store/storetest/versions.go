package storetest

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

func testLoadMissing(t *testing.T, s sesame.Store) {
	wantNotFound(t, s, newKey())
}

func testSaveNewThenLoad(t *testing.T, s sesame.Store) {
	key, value := newKey(), []byte("first value")
	v := save(t, s, key, value, 0, live(""))
	wantRecord(t, s, key, value, v)
}

func testSaveNewOnExisting(t *testing.T, s sesame.Store) {
	key, value := newKey(), []byte("original")
	v := save(t, s, key, value, 0, live(""))
	_, err := s.Save(t.Context(), key, []byte("intruder"), 0, live(""))
	wantConflict(t, err, "Save with version 0 on an existing key")
	wantRecord(t, s, key, value, v)
}

func testSaveWithCurrentVersion(t *testing.T, s sesame.Store) {
	key := newKey()
	seen := map[uint64]bool{}
	var v uint64
	for i, value := range []string{"one", "two", "three", "four", "five"} {
		v = save(t, s, key, []byte(value), v, live(""))
		if seen[v] {
			t.Fatalf("save %d returned version %d, which an earlier save of the key already had", i+1, v)
		}
		seen[v] = true
		wantRecord(t, s, key, []byte(value), v)
	}
}

func testSaveWithWrongVersion(t *testing.T, s sesame.Store) {
	tests := []struct {
		name    string
		version func(stale, current uint64) uint64
	}{
		{"stale version", func(stale, _ uint64) uint64 { return stale }},
		{"next version", func(_, current uint64) uint64 { return current + 1 }},
		{"previous number", func(_, current uint64) uint64 { return current - 1 }},
		{"made-up version", func(_, current uint64) uint64 { return current ^ 0x5a5a_0000_5a5a }},
		{"maximum version", func(_, _ uint64) uint64 { return math.MaxUint64 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := newKey()
			stale := save(t, s, key, []byte("old"), 0, live(""))
			current := save(t, s, key, []byte("current"), stale, live(""))
			wrong := tc.version(stale, current)
			if wrong == current || wrong == 0 {
				t.Skipf("the store's version %d happens to be the test's wrong version", current)
			}
			_, err := s.Save(t.Context(), key, []byte("lost update"), wrong, live(""))
			wantConflict(t, err, "Save with a version the store does not hold")
			wantRecord(t, s, key, []byte("current"), current)
		})
	}
}

func testSaveWithVersionOnMissing(t *testing.T, s sesame.Store) {
	for _, version := range []uint64{1, 2, 1 << 40, math.MaxUint64} {
		key := newKey()
		_, err := s.Save(t.Context(), key, []byte("ghost"), version, live(""))
		wantConflict(t, err, "Save with a non-zero version on a missing key")
		wantNotFound(t, s, key)
	}
}

func testDelete(t *testing.T, s sesame.Store) {
	key, other := newKey(), newKey()
	save(t, s, key, []byte("doomed"), 0, live(""))
	vOther := save(t, s, other, []byte("bystander"), 0, live(""))
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, key)
	wantRecord(t, s, other, []byte("bystander"), vOther)
}

func testDeleteMissing(t *testing.T, s sesame.Store) {
	key := newKey()
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete of a key never saved: %v", err)
	}
	save(t, s, key, []byte("x"), 0, live(""))
	for i := range 2 {
		if err := s.Delete(t.Context(), key); err != nil {
			t.Fatalf("Delete %d of a saved key: %v", i+1, err)
		}
	}
}

// testNoResurrection is rule 5 of the design: a request that read a record
// before it was destroyed must not write it back.
func testNoResurrection(t *testing.T, s sesame.Store) {
	key := newKey()
	v := save(t, s, key, []byte("session"), 0, live(""))
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := s.Save(t.Context(), key, []byte("in-flight write"), v, live(""))
	wantConflict(t, err, "Save with the version read before Delete")
	wantNotFound(t, s, key)

	// The key itself is not burnt: it can be created again.
	v2 := save(t, s, key, []byte("new session"), 0, live(""))
	wantRecord(t, s, key, []byte("new session"), v2)
}

// op is one Store method, called with a given context and key; tests that
// must hold for every method list them in tables.
type op struct {
	name string
	call func(ctx context.Context, s sesame.Store, key string) error
}

var storeOps = []op{
	{"Load", func(ctx context.Context, s sesame.Store, key string) error {
		_, _, err := s.Load(ctx, key)
		return err
	}},
	{"Save", func(ctx context.Context, s sesame.Store, key string) error {
		_, err := s.Save(ctx, key, []byte("value"), 0, live(""))
		return err
	}},
	{"Delete", func(ctx context.Context, s sesame.Store, key string) error {
		return s.Delete(ctx, key)
	}},
}

// testVersionsNeverRepeat proves there is no ABA: a key that is updated,
// deleted, saved already expired, expired by an update and created again
// never gets a version it had before, so a request still holding a
// version of an earlier life of the key cannot overwrite a later one.
// Expiry here is an ExpiresAt already in the past, so nothing waits.
func testVersionsNeverRepeat(t *testing.T, s sesame.Store) {
	const rounds = 8
	key := newKey()
	past := sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Minute)}
	seen := map[uint64]string{} // version → the save that returned it
	var all []uint64
	note := func(v uint64, how string) uint64 {
		t.Helper()
		if earlier, ok := seen[v]; ok {
			t.Fatalf("%s returned version %d, which the key already had from %s", how, v, earlier)
		}
		seen[v] = how
		all = append(all, v)
		return v
	}
	// wantStale checks that a Save with each old version conflicts and
	// leaves the current record alone.
	wantStale := func(old []uint64, value []byte, current uint64) {
		t.Helper()
		for _, v := range old {
			_, err := s.Save(t.Context(), key, []byte("lost update"), v, live(""))
			wantConflict(t, err, fmt.Sprintf("Save with version %d from %s", v, seen[v]))
		}
		wantRecord(t, s, key, value, current)
	}

	for i := range rounds {
		step := func(what string) string { return fmt.Sprintf("round %d: %s", i+1, what) }
		created := note(save(t, s, key, []byte("created"), 0, live("")), step("create"))
		updated := note(save(t, s, key, []byte("updated"), created, live("")), step("update"))
		if err := s.Delete(t.Context(), key); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		wantNotFound(t, s, key)

		bornExpired := note(save(t, s, key, []byte("born expired"), 0, past), step("create already expired"))
		wantNotFound(t, s, key)

		reborn := note(save(t, s, key, []byte("reborn"), 0, live("")), step("create over the expired record"))
		wantStale([]uint64{created, updated, bornExpired}, []byte("reborn"), reborn)

		// An update that expires the record: the next round creates the
		// key again over it.
		note(save(t, s, key, []byte("expired by update"), reborn, past), step("update to an expiry in the past"))
		wantNotFound(t, s, key)
	}

	last := note(save(t, s, key, []byte("last"), 0, live("")), "the last create")
	wantStale(all[:len(all)-1], []byte("last"), last)
}
