package memcachestore

import (
	"context"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// The benchmarks compare the store with gomemcache doing the same work
// against the same server (target: at most 1.2× its time). Each iteration
// runs the store's operation and the raw one back to back and times each,
// so that the noise of a shared machine falls on both alike; they report
// store-ns/op, raw-ns/op and their ratio. A 200-byte value, one goroutine.

var benchValue = make([]byte, 200)

// pair runs untimed (when not nil), store and raw, in that order, b.N
// times, and reports the times of store and raw.
func pair(b *testing.B, untimed, store, raw func()) {
	var ts, tr time.Duration
	for b.Loop() {
		if untimed != nil {
			untimed()
		}
		t0 := time.Now()
		store()
		t1 := time.Now()
		raw()
		tr += time.Since(t1)
		ts += t1.Sub(t0)
	}
	b.ReportMetric(float64(ts.Nanoseconds())/float64(b.N), "store-ns/op")
	b.ReportMetric(float64(tr.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(ts)/float64(tr), "store/raw")
}

// BenchmarkLoad: Store.Load (one gets) against a raw Get, with contexts
// whose deadline the client's Timeout already enforces (the call runs on
// the caller's goroutine) and one with a deadline nearer than that (the
// round trip runs on its own goroutine).
func BenchmarkLoad(b *testing.B) {
	c := testClient(b)
	far, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	near, cancel2 := context.WithTimeout(ctx, time.Hour)
	defer cancel2()
	for _, bc := range []struct {
		name string
		ctx  context.Context
		near bool
	}{{"background-ctx", ctx, false}, {"far-deadline-ctx", far, false}, {"near-deadline-ctx", near, true}} {
		b.Run(bc.name, func(b *testing.B) {
			s := newTestStore(b, c, Config{})
			if _, err := s.Save(ctx, "k", benchValue, 0, live()); err != nil {
				b.Fatal(err)
			}
			if bc.near {
				// A client Timeout longer than the deadline makes the store
				// run each round trip on its own goroutine.
				nc := memcache.New(serverAddr())
				nc.Timeout = 2 * time.Hour
				defer nc.Close()
				s.client = nc
			}
			rawKey := s.prefix + "raw"
			if err := c.Set(&memcache.Item{Key: rawKey, Value: benchValue, Expiration: 3600}); err != nil {
				b.Fatal(err)
			}
			pair(b, nil, func() {
				if _, _, err := s.Load(bc.ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}, func() {
				if _, err := c.Get(rawKey); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkSave compares the store's saves with a raw Set:
//
//   - after-load: a Save of the version just loaded, the Manager's usual
//     case: one cas with the remembered CAS id (the Load is not timed);
//   - unloaded-version: a Save of the version the last Save returned, with
//     no Load between: gets + cas, two round trips;
//   - create: version 0, one add (the Delete that makes room is not timed).
func BenchmarkSave(b *testing.B) {
	c := testClient(b)
	b.Run("after-load", func(b *testing.B) {
		s := newTestStore(b, c, Config{})
		raw := &memcache.Item{Key: s.prefix + "raw", Value: benchValue, Expiration: 3600}
		if _, err := s.Save(ctx, "k", benchValue, 0, live()); err != nil {
			b.Fatal(err)
		}
		var v uint64
		pair(b, func() {
			var err error
			if _, v, err = s.Load(ctx, "k"); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if _, err := s.Save(ctx, "k", benchValue, v, live()); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if err := c.Set(raw); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("unloaded-version", func(b *testing.B) {
		s := newTestStore(b, c, Config{})
		raw := &memcache.Item{Key: s.prefix + "raw", Value: benchValue, Expiration: 3600}
		v, err := s.Save(ctx, "k", benchValue, 0, live())
		if err != nil {
			b.Fatal(err)
		}
		pair(b, nil, func() {
			if v, err = s.Save(ctx, "k", benchValue, v, live()); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if err := c.Set(raw); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("create", func(b *testing.B) {
		s := newTestStore(b, c, Config{})
		raw := &memcache.Item{Key: s.prefix + "raw", Value: benchValue, Expiration: 3600}
		pair(b, func() { s.Delete(ctx, "k") }, func() {
			if _, err := s.Save(ctx, "k", benchValue, 0, live()); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if err := c.Set(raw); err != nil {
				b.Fatal(err)
			}
		})
	})
}
