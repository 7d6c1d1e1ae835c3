package mysqlstore

import (
	"testing"
	"time"

	"github.com/sesame-go/sesame"
)

// The benchmarks compare each Store call with the raw database/sql call
// running the same prepared statement on the same pool, in the same run:
// the difference is the store's own cost (key check, version, wrapping).
// Both are one round trip.
//
//	go test -run '^$' -bench . -benchtime 2000x

func BenchmarkLoad(b *testing.B) {
	db := testDB(b)
	s := newStore(b, db, Config{SweepInterval: -1})
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
		stmt, err := db.PrepareContext(b.Context(), s.q.load)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		var got []byte
		var v uint64
		for b.Loop() {
			if err := stmt.QueryRowContext(b.Context(), key).Scan(&got, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSave(b *testing.B) {
	db := testDB(b)
	s := newStore(b, db, Config{SweepInterval: -1})
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
		// The same UPDATE with the same arguments, new version included.
		stmt, err := db.PrepareContext(b.Context(), s.q.update)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		for b.Loop() {
			next, err := newVersion(v)
			if err != nil {
				b.Fatal(err)
			}
			res, err := stmt.ExecContext(b.Context(), value, next, datetime(opts.ExpiresAt), []byte(opts.User), key, v)
			if err != nil {
				b.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				b.Fatalf("raw update changed %d rows", n)
			}
			v = next
		}
	})
}
