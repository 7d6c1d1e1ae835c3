package main

import (
	"testing"
	"time"
)

// TestStoresReturnToBaselineAfterExpiry is the soak in small: 20,000
// sessions, a quarter of them with a user, expire, and each store's own
// sweeper must give back what they took.
//
// For memstore that is the heap, measured after garbage collection with
// the store still alive, so nothing the store says about itself counts:
// at most 5% of the growth may remain.
//
// For boltstore it is the file. What a bbolt file keeps after its records
// are deleted is known exactly: bbolt never shrinks a file by itself, and
// the sweeper compacts only a file of at least Config.CompactMinSize
// (1 MiB here) that is mostly free. Expiry runs in many small sweeps while
// the sessions age, so the last compaction can leave a file just under
// that floor whose pages then all become free (bbolt reuses them before
// it grows the file); here they all expire at once. So the sweeper must have compacted, and the file
// must end under the floor: a 16 MiB file left at most 1 MiB, however
// the sweeps fell. (How many of those pages bbolt counts as free says
// nothing: the file also keeps a tail beyond bbolt's last allocated
// page, which is neither free nor in use.)
func TestStoresReturnToBaselineAfterExpiry(t *testing.T) {
	const compactMin = 1 << 20
	tests := []struct {
		name string
		cfg  config
		size func(sample) int64 // what the sessions fill
		// check decides whether the store gave back what they took.
		check func(t *testing.T, base, full, expired sample)
	}{
		{"mem heap", config{Store: "mem", TTL: time.Minute}, func(s sample) int64 { return int64(s.HeapAlloc) }, func(t *testing.T, base, full, expired sample) {
			growth := int64(full.HeapAlloc) - int64(base.HeapAlloc)
			left := int64(expired.HeapAlloc) - int64(base.HeapAlloc)
			t.Logf("heap: %d bytes empty, %+d full, %+d after expiry", base.HeapAlloc, growth, left)
			if left > growth/20 {
				t.Errorf("%d of the %d heap bytes the sessions took are still taken after they expired (more than 5%%)", left, growth)
			}
		}},
		{"bolt file", config{Store: "bolt", TTL: time.Minute, CompactMin: compactMin}, func(s sample) int64 { return s.File }, func(t *testing.T, base, full, expired sample) {
			t.Logf("file: %d bytes (%d free) empty, %d (%d free) full, %d (%d free) after expiry, %d compactions",
				base.File, base.Free, full.File, full.Free, expired.File, expired.Free, expired.Compactions)
			if expired.Compactions == 0 {
				t.Error("the sweeper never compacted the file")
			}
			if expired.File >= compactMin {
				t.Errorf("file is %d bytes after expiry: at or over the %d-byte compaction floor, so the sweeper should have compacted it", expired.File, compactMin)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Sessions, cfg.ValueSize, cfg.UserEvery, cfg.PerUser = 20_000, 300, 4, 2
			cfg.Sweep, cfg.Timeout = 50*time.Millisecond, 10*time.Second
			cfg.Writers, cfg.Dir = defaultWriters(cfg.Store), t.TempDir()
			// The sessions live by a clock that stands still while they
			// are created, however long that takes here, and that the
			// soak then moves past their expiry.
			cfg.Clock = newClock(time.Now())
			res, err := run(t.Context(), cfg, t.Logf)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Settled {
				t.Fatalf("the store had not settled %v after the last expiry", cfg.Timeout)
			}
			if grew := tc.size(res.Full) - tc.size(res.Baseline); grew < int64(cfg.Sessions)*int64(cfg.ValueSize) {
				t.Fatalf("%s grew by %d bytes for %d sessions of %d bytes: the soak did not fill the store", tc.name, grew, cfg.Sessions, cfg.ValueSize)
			}
			tc.check(t, res.Baseline, res.Full, res.Expired)
		})
	}
}
