package memstore

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// TestSweepShrinksEmptiedShards fills one shard, removes part of it (by
// expiry or by Delete) and sweeps, then checks whether the shard's maps
// and heap were rebuilt: exactly when they held a quarter or less of their
// peak, and only for shards that were large enough to matter. Rebuilt or
// not, what is left must load, sweep and index as before.
func TestSweepShrinksEmptiedShards(t *testing.T) {
	tests := []struct {
		name        string
		records     int  // records put into the shard
		removed     int  // how many of them go, the first ones
		byDelete    bool // removed by Delete instead of by expiry
		wantRebuilt bool
	}{
		{"nine in ten expired", 400, 360, false, true},
		{"all expired", 400, 400, false, true},
		{"three quarters expired", 400, 300, false, true},
		{"just under three quarters expired", 400, 299, false, false},
		{"half expired", 400, 200, false, false},
		{"nothing expired", 400, 0, false, false},
		{"small shard all expired", shrinkMin - 1, shrinkMin - 1, false, false},
		{"nine in ten deleted, then a sweep", 400, 360, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, Config{SweepInterval: -1})
			sh := &s.shards[0]
			past, future := time.Now().Add(-time.Second).UnixNano(), time.Now().Add(time.Hour).UnixNano()
			var keys []string
			sh.mu.Lock()
			for i := 0; len(keys) < tc.records; i++ {
				key := testKey(i)
				if s.shard(key) != sh {
					continue
				}
				expires := future
				if len(keys) < tc.removed && !tc.byDelete {
					expires = past
				}
				// Every record has a user of its own, so the user index
				// grows and empties with the records.
				sh.put(nil, key, []byte("v"), expires, "user-"+strconv.Itoa(i))
				keys = append(keys, key)
			}
			sh.mu.Unlock()
			if tc.byDelete {
				for _, key := range keys[:tc.removed] {
					if err := s.Delete(t.Context(), key); err != nil {
						t.Fatal(err)
					}
				}
			}
			records, users := mapPointer(sh.records), mapPointer(sh.users)
			capBefore := cap(sh.expiry)

			swept := s.sweep(time.Now().UnixNano())
			if want := tc.removed; tc.byDelete {
				if swept != 0 {
					t.Fatalf("sweep removed %d after the deletes; want 0", swept)
				}
			} else if swept != want {
				t.Fatalf("sweep removed %d; want %d", swept, want)
			}

			left := tc.records - tc.removed
			rebuilt := mapPointer(sh.records) != records
			if rebuilt != tc.wantRebuilt {
				t.Fatalf("record map rebuilt: %v; want %v", rebuilt, tc.wantRebuilt)
			}
			if usersRebuilt := mapPointer(sh.users) != users; usersRebuilt != tc.wantRebuilt {
				t.Errorf("user map rebuilt: %v; want %v", usersRebuilt, tc.wantRebuilt)
			}
			if tc.wantRebuilt {
				// The peaks start again from what is left, and the heap's
				// slice no longer has room for the records that went.
				if sh.peakRecords != left || sh.peakUsers != left {
					t.Errorf("peaks after the rebuild: %d records, %d users; want %d and %d", sh.peakRecords, sh.peakUsers, left, left)
				}
				if cap(sh.expiry) != left {
					t.Errorf("heap capacity %d after the rebuild (%d before); want %d", cap(sh.expiry), capBefore, left)
				}
			} else if sh.peakRecords != tc.records || cap(sh.expiry) != capBefore {
				t.Errorf("peak %d, heap capacity %d without a rebuild; want %d and %d as before", sh.peakRecords, cap(sh.expiry), tc.records, capBefore)
			}
			checkInvariants(t, s)

			// What is left loads, and its user is indexed; it can be saved
			// and deleted, which moves it in the heap.
			for _, key := range keys[tc.removed:] {
				_, version, err := s.Load(t.Context(), key)
				if err != nil {
					t.Fatalf("Load of a remaining record: %v", err)
				}
				list, err := s.UserSessions(t.Context(), sh.records[key].user)
				if err != nil || len(list) != 1 || list[0].Key != key {
					t.Fatalf("UserSessions of a remaining record's user = %v, %v; want that record", list, err)
				}
				opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Minute), User: "again"}
				if _, err := s.Save(t.Context(), key, []byte("w"), version, opts); err != nil {
					t.Fatalf("Save of a remaining record: %v", err)
				}
			}
			checkInvariants(t, s)
			for _, key := range keys[tc.removed:] {
				if err := s.Delete(t.Context(), key); err != nil {
					t.Fatal(err)
				}
			}
			checkInvariants(t, s)
			if n := count(s); n != 0 {
				t.Fatalf("%d records left after deleting the rest", n)
			}
		})
	}
}

// TestShrunkShardGrowsAgain fills a shard, lets all of it expire, and fills
// it again: the peak follows the new records, and a second round of
// expiry shrinks the shard again.
func TestShrunkShardGrowsAgain(t *testing.T) {
	s := newStore(t, Config{SweepInterval: -1})
	sh := &s.shards[0]
	const n = 10 * shrinkMin
	fillShard := func(round int, expires int64) {
		t.Helper()
		sh.mu.Lock()
		defer sh.mu.Unlock()
		for i, added := 0, 0; added < n; i++ {
			if key := testKey(round*1_000_000 + i); s.shard(key) == sh {
				sh.put(nil, key, nil, expires, "")
				added++
			}
		}
	}
	for round := range 3 {
		expires := time.Now().Add(time.Hour).UnixNano()
		fillShard(round, expires)
		if sh.peakRecords != n {
			t.Fatalf("round %d: peak %d after adding %d records to an empty shard; want %d", round, sh.peakRecords, n, n)
		}
		before := mapPointer(sh.records)
		if got := s.sweep(expires); got != n {
			t.Fatalf("round %d: sweep removed %d; want %d", round, got, n)
		}
		if mapPointer(sh.records) == before || sh.peakRecords != 0 || cap(sh.expiry) != 0 {
			t.Fatalf("round %d: the emptied shard was not rebuilt (peak %d, heap capacity %d)", round, sh.peakRecords, cap(sh.expiry))
		}
		checkInvariants(t, s)
	}
}

// mapPointer identifies a map, so a test can tell whether it was replaced.
func mapPointer(m any) uintptr {
	return reflect.ValueOf(m).Pointer()
}
