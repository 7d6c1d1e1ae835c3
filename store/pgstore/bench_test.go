package pgstore

import (
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// The benchmarks compare each Store call with the raw pgx call running the
// same statement on the same pool, alternating the two
// (storetest.ComparePair): the difference is the store's own cost (key
// check, wrapping). Both are one round trip.
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
	var got []byte
	var v int64
	storetest.ComparePair(b, nil, func() error {
		_, _, err := s.Load(b.Context(), key)
		return err
	}, func() error {
		return pool.QueryRow(b.Context(), s.sqlLoad, key).Scan(&got, &v)
	})
}

func BenchmarkSave(b *testing.B) {
	pool := testPool(b)
	s := newStore(b, pool, Config{SweepInterval: -1})
	key, rawKey := newKey(), newKey()
	value := make([]byte, 200)
	opts := sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "bench"}
	v, err := s.Save(b.Context(), key, value, 0, opts)
	if err != nil {
		b.Fatal(err)
	}
	rv, err := s.Save(b.Context(), rawKey, value, 0, opts)
	if err != nil {
		b.Fatal(err)
	}
	storetest.ComparePair(b, nil, func() error {
		v, err = s.Save(b.Context(), key, value, v, opts)
		return err
	}, func() error {
		version := int64(rv)
		err := pool.QueryRow(b.Context(), s.sqlUpdate, rawKey, value, opts.ExpiresAt, []byte(opts.User), version).Scan(&version)
		rv = uint64(version)
		return err
	})
}
