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
	p := newBenchRows(b, srv)
	storetest.ComparePair(b, nil, func() (err error) {
		p.v, err = p.s.Save(b.Context(), p.key, p.value, p.v, p.opts)
		return err
	}, func() (err error) {
		p.rv, err = p.raw.Save(b.Context(), p.rawKey, p.value, p.rv, p.opts.ExpiresAt, []byte(p.opts.User))
		return p.rawConflict(err, "Save")
	})
}

// BenchmarkRenew compares Store.Renew with Table.Move, each moving a
// 200-byte value with a user to a new key of its own.
func BenchmarkRenew(b *testing.B, srv Server) {
	p := newBenchRows(b, srv)
	storetest.ComparePair(b, nil, func() (err error) {
		next := newKey()
		p.v, err = p.s.Renew(b.Context(), p.key, p.v, next, p.value, p.opts)
		p.key = next
		return err
	}, func() (err error) {
		next := newKey()
		p.rv, err = p.raw.Move(b.Context(), p.rawKey, p.rv, next, p.value, p.opts.ExpiresAt, []byte(p.opts.User))
		p.rawKey = next
		return p.rawConflict(err, "Move")
	})
}

// benchRows are what BenchmarkSave and BenchmarkRenew work on: a store
// and its table's statements outside it, each with a row of its own
// (key and version) saved with value and opts.
type benchRows struct {
	s           *sqlstore.Store
	raw         sqlstore.Table
	value       []byte
	opts        sesame.SaveOptions
	key, rawKey string
	v, rv       uint64
}

// newBenchRows saves a 200-byte value with a user under two new keys.
func newBenchRows(b *testing.B, srv Server) *benchRows {
	s, raw := benchStore(b, srv)
	p := &benchRows{s: s, raw: raw, value: make([]byte, 200), key: newKey(), rawKey: newKey(),
		opts: sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "bench"}}
	var err error
	if p.v, err = s.Save(b.Context(), p.key, p.value, 0, p.opts); err != nil {
		b.Fatal(err)
	}
	if p.rv, err = s.Save(b.Context(), p.rawKey, p.value, 0, p.opts); err != nil {
		b.Fatal(err)
	}
	return p
}

// rawConflict returns err, or an error if the Table's call returned
// version 0, a conflict, where the row should have matched.
func (p *benchRows) rawConflict(err error, call string) error {
	if err == nil && p.rv == 0 {
		return fmt.Errorf("Table.%s: the row holds another version", call)
	}
	return err
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
