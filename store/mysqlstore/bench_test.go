package mysqlstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// The benchmarks compare each Store call with the raw database/sql call
// running the same prepared statement on the same pool, alternating the
// two (storetest.ComparePair): the difference is the store's own cost (key
// check, version, wrapping). Both are one round trip.
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
	stmt, err := db.PrepareContext(b.Context(), s.q.load)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	var got []byte
	var v uint64
	storetest.ComparePair(b, nil, func() error {
		_, _, err := s.Load(b.Context(), key)
		return err
	}, func() error {
		return stmt.QueryRowContext(b.Context(), key).Scan(&got, &v)
	})
}

func BenchmarkSave(b *testing.B) {
	db := testDB(b)
	s := newStore(b, db, Config{SweepInterval: -1})
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
	// The same UPDATE with the same arguments, new version included.
	stmt, err := db.PrepareContext(b.Context(), s.q.update)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	storetest.ComparePair(b, nil, func() error {
		v, err = s.Save(b.Context(), key, value, v, opts)
		return err
	}, func() error {
		next, err := newVersion(rv)
		if err != nil {
			return err
		}
		res, err := stmt.ExecContext(b.Context(), value, next, datetime(opts.ExpiresAt), []byte(opts.User), rawKey, rv)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("raw update changed %d rows", n)
		}
		rv = next
		return nil
	})
}
