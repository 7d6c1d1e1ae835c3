package memcachestore

import (
	"context"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/sesame-go/sesame/store/storetest"
)

// The benchmarks compare the store with gomemcache doing the same work
// against the same server (target: at most 1.2× its time), alternating
// the two with storetest.ComparePair, which reports store-ns/op, raw-ns/op
// and their ratio. A 200-byte value, one goroutine.

var benchValue = make([]byte, 200)

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
			storetest.ComparePair(b, nil, func() error {
				_, _, err := s.Load(bc.ctx, "k")
				return err
			}, func() error {
				_, err := c.Get(rawKey)
				return err
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
		storetest.ComparePair(b, func() error {
			var err error
			_, v, err = s.Load(ctx, "k")
			return err
		}, func() error {
			_, err := s.Save(ctx, "k", benchValue, v, live())
			return err
		}, func() error { return c.Set(raw) })
	})
	b.Run("unloaded-version", func(b *testing.B) {
		s := newTestStore(b, c, Config{})
		raw := &memcache.Item{Key: s.prefix + "raw", Value: benchValue, Expiration: 3600}
		v, err := s.Save(ctx, "k", benchValue, 0, live())
		if err != nil {
			b.Fatal(err)
		}
		storetest.ComparePair(b, nil, func() error {
			v, err = s.Save(ctx, "k", benchValue, v, live())
			return err
		}, func() error { return c.Set(raw) })
	})
	b.Run("create", func(b *testing.B) {
		s := newTestStore(b, c, Config{})
		raw := &memcache.Item{Key: s.prefix + "raw", Value: benchValue, Expiration: 3600}
		storetest.ComparePair(b, func() error { return s.Delete(ctx, "k") }, func() error {
			_, err := s.Save(ctx, "k", benchValue, 0, live())
			return err
		}, func() error { return c.Set(raw) })
	})
}
