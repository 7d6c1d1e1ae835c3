package storetest

import (
	"testing"
	"time"
)

// ComparePair times a store operation against the raw client call it
// stands for, alternating one of each b.N times, so that the noise of a
// shared machine falls on both alike. untimed, when not nil, runs before
// each store call without being timed (to prepare it, such as a Load whose
// version the Save then uses). It reports store-ns/op, raw-ns/op and
// store/raw, the store's time as a multiple of the raw call's; any error
// fails b.
func ComparePair(b *testing.B, untimed, store, raw func() error) {
	b.Helper()
	var tStore, tRaw time.Duration
	for b.Loop() {
		if untimed != nil {
			if err := untimed(); err != nil {
				b.Fatal(err)
			}
		}
		t0 := time.Now()
		if err := store(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := raw(); err != nil {
			b.Fatal(err)
		}
		tRaw += time.Since(t1)
		tStore += t1.Sub(t0)
	}
	b.ReportMetric(float64(tStore.Nanoseconds())/float64(b.N), "store-ns/op")
	b.ReportMetric(float64(tRaw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(tStore)/float64(tRaw), "store/raw")
}
