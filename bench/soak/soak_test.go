package main

import (
	"errors"
	"testing"
	"time"
)

// TestStoresReturnToBaselineAfterExpiry is the soak in small: 20,000
// sessions, a quarter of them with a user, expire, and each store's own
// sweeper must bring it back to nearly what it was empty. For memstore
// that is the heap, measured after garbage collection with the store
// still alive, so nothing the store says about itself counts; for
// boltstore it is the file's size on disk.
func TestStoresReturnToBaselineAfterExpiry(t *testing.T) {
	tests := []struct {
		name string
		cfg  config
		// measure picks the quantity that must return to baseline.
		measure func(sample) int64
	}{
		{"mem heap", config{Store: "mem", TTL: 2 * time.Second}, func(s sample) int64 { return int64(s.HeapAlloc) }},
		{"bolt file", config{Store: "bolt", TTL: 6 * time.Second, CompactMin: 1 << 20}, func(s sample) int64 { return s.File }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Sessions, cfg.ValueSize, cfg.UserEvery, cfg.PerUser = 20_000, 300, 4, 2
			cfg.Sweep, cfg.Timeout = 50*time.Millisecond, 10*time.Second
			cfg.Writers, cfg.Dir = defaultWriters(cfg.Store), t.TempDir()
			res, err := run(t.Context(), cfg, t.Logf)
			if errors.Is(err, errTTLTooShort) {
				// A slow machine (the race detector, say) took longer to
				// create the sessions than they live: once more, with
				// more time.
				t.Log(err)
				cfg.TTL *= 4
				res, err = run(t.Context(), cfg, t.Logf)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !res.Settled {
				t.Fatalf("the store had not settled %v after the last expiry", cfg.Timeout)
			}
			base := tc.measure(res.Baseline)
			growth, left := tc.measure(res.Full)-base, tc.measure(res.Expired)-base
			t.Logf("%s: %d bytes empty, %+d full, %+d after expiry", tc.name, base, growth, left)
			if growth < int64(cfg.Sessions)*int64(cfg.ValueSize) {
				t.Fatalf("%s grew by %d bytes for %d sessions of %d bytes: the soak did not fill the store", tc.name, growth, cfg.Sessions, cfg.ValueSize)
			}
			if left > growth/20 {
				t.Errorf("%s: %d of the %d bytes the sessions took are still taken after they expired (more than 5%%)", tc.name, left, growth)
			}
		})
	}
}
