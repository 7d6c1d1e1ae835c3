package sqlstoretest

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/sqlstore"
	"github.com/sesame-go/sesame/store/storetest"
)

// The benchmarks compare each Store call with its Table's, the same
// statement through the same driver on the same server, alternating the
// two (storetest.ComparePair): the difference is the store's own cost
// (checks, wrapping). Both are one round trip. A store's benchmarks call
// them:
//
//	func BenchmarkLoad(b *testing.B) { sqlstoretest.BenchmarkLoad(b, testServer(b)) }

// BenchmarkLoad compares Store.Load with Table.Load of a 200-byte value.
func BenchmarkLoad(b *testing.B, srv Server) {
	s, raw := benchStore(b, srv)
	key := newKey()
	if _, err := s.Save(b.Context(), key, make([]byte, 200), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	storetest.ComparePair(b, nil, func() error {
		_, _, err := s.Load(b.Context(), key)
		return err
	}, func() error {
		_, _, err := raw.Load(b.Context(), key)
		return err
	})
}

// BenchmarkSave compares Store.Save with Table.Save, each updating a
// 200-byte value of its own key with a user.
func BenchmarkSave(b *testing.B, srv Server) {
	s, raw := benchStore(b, srv)
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
		next, err := raw.Save(b.Context(), rawKey, value, rv, opts.ExpiresAt, []byte(opts.User))
		if err == nil && next == 0 {
			err = fmt.Errorf("Table.Save of version %d: the row holds another", rv)
		}
		rv = next
		return err
	})
}

// benchStore returns a store without a sweeper on a fresh table, and the
// statements of that table outside the store.
func benchStore(b *testing.B, srv Server) (*sqlstore.Store, sqlstore.Table) {
	s, table := NewStore(b, srv, sqlstore.Config{SweepInterval: -1})
	raw := srv.Table(table)
	if c, ok := raw.(io.Closer); ok {
		b.Cleanup(func() { c.Close() })
	}
	return s, raw
}
