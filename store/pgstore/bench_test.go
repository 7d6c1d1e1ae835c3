package pgstore

import (
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// The benchmarks compare each Store call with the raw pgx call running the
// same statement on the same pool, in the same run: the difference is the
// store's own cost (key check, wrapping). Both are one round trip.
//
//	go test -run '^$' -bench . -benchtime 2000x

func BenchmarkLoad(b *testing.B) {
	pool := testPool(b)
	s := newStore(b, pool, Config{SweepInterval: -1})
	key := newKey()
	value := make([]byte, 200)
	if _, err := s.Save(b.Context(), key, value, 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.Load(b.Context(), key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		var got []byte
		var v int64
		for b.Loop() {
			if err := pool.QueryRow(b.Context(), s.sqlLoad, key).Scan(&got, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSave(b *testing.B) {
	pool := testPool(b)
	s := newStore(b, pool, Config{SweepInterval: -1})
	key := newKey()
	value := make([]byte, 200)
	opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "bench"}
	v, err := s.Save(b.Context(), key, value, 0, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			if v, err = s.Save(b.Context(), key, value, v, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		for b.Loop() {
			version := int64(v)
			err := pool.QueryRow(b.Context(), s.sqlUpdate, key, value, opts.ExpiresAt, []byte(opts.User), version).Scan(&version)
			if err != nil {
				b.Fatal(err)
			}
			v = uint64(version)
		}
	})
}
