// Package sqlstoretest holds the tests that every store built on package
// sqlstore runs against its real database: storetest's conformance suite,
// and what is particular to a table: table names refused, migrations run
// twice and at once, sweeps in batches, the background sweeper and Close,
// a statement that waits on a lock giving up at its deadline, and a
// renewal onto a key that holds a row. It also
// has the benchmarks that compare a Store's calls with its Table's, the
// same statements without the store.
//
// A store's tests describe its test server in a Server and call Run:
//
//	func TestStore(t *testing.T) {
//		sqlstoretest.Run(t, testServer(t))
//	}
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/sqlstore"
	"github.com/sesame-go/sesame/store/storetest"
)

// Server is a SQL store's test server, as the tests reach it. Every
// function works on the server the store under test uses, through the
// store's own driver.
type Server struct {
	// Dialect is the store's.
	Dialect sqlstore.Dialect

	// New returns a store made by the store's own New with cfg's
	// settings; cfg.Table exists when the tests call it.
	New func(cfg sqlstore.Config) (*sqlstore.Store, error)

	// Table returns the store's statements on the table named name,
	// outside any Store, for the benchmarks to compare with. If it is an
	// io.Closer, the benchmarks close it.
	Table func(name string) sqlstore.Table

	// Migrate is the store's Migrate.
	Migrate func(ctx context.Context, table string) error

	// Drop drops the table named table.
	Drop func(ctx context.Context, table string) error

	// Count returns how many rows the table named table holds, expired or
	// not.
	Count func(ctx context.Context, table string) (int, error)

	// LockRow locks the row under key in the table named table, in a
	// transaction of its own (SELECT ... FOR UPDATE), until unlock is
	// called.
	LockRow func(ctx context.Context, table, key string) (unlock func(), err error)
}

// Run checks a SQL store against its server, each subtest on a table of
// its own.
func Run(t *testing.T, srv Server) {
	t.Helper()
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) sesame.Store {
			s, _ := NewStore(t, srv, sqlstore.Config{SweepInterval: 100 * time.Millisecond, SweepBatch: 2})
			return s
		})
	})
	t.Run("RefusesBadTableNames", func(t *testing.T) { refusesBadTableNames(t, srv) })
	t.Run("LongestTableName", func(t *testing.T) { longestTableName(t, srv) })
	t.Run("MigrateTwiceAndConcurrently", func(t *testing.T) { migrateTwiceAndConcurrently(t, srv) })
	t.Run("SweepDeletesOnlyExpiredRowsInBatches", func(t *testing.T) { sweepInBatches(t, srv) })
	t.Run("SweeperRunsAndCloseStopsIt", func(t *testing.T) { sweeperRunsAndCloseStopsIt(t, srv) })
	t.Run("DeadlineInsideAStatement", func(t *testing.T) { deadlineInsideAStatement(t, srv) })
	t.Run("RenewOntoTakenKey", func(t *testing.T) { renewOntoTakenKey(t, srv) })
}

// NewTable creates a sessions table with a random name, so that test runs
// sharing a server never meet, and drops it when the test ends.
func NewTable(t testing.TB, srv Server) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	table := "sesame_test_" + hex.EncodeToString(b[:])
	if err := srv.Migrate(t.Context(), table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Drop(ctx, table); err != nil {
			t.Errorf("drop table %s: %v", table, err)
		}
	})
	return table
}

// NewStore returns a store with cfg on a fresh table (cfg.Table is
// replaced), closed when the test ends, and the table's name.
func NewStore(t testing.TB, srv Server, cfg sqlstore.Config) (*sqlstore.Store, string) {
	t.Helper()
	cfg.Table = NewTable(t, srv)
	s, err := srv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, cfg.Table
}

// newKey returns a random key shaped like the Manager's.
func newKey() string {
	var b [32]byte
	rand.Read(b[:])
	return "k" + hex.EncodeToString(b[:21])
}

// count returns the rows of table, failing the test on an error.
func count(t testing.TB, srv Server, table string) int {
	t.Helper()
	n, err := srv.Count(t.Context(), table)
	if err != nil {
		t.Fatalf("count rows of %s: %v", table, err)
	}
	return n
}

// refusesBadTableNames checks that New and Migrate refuse table names that
// would end or change a statement, whichever quotes the database uses.
func refusesBadTableNames(t *testing.T, srv Server) {
	for _, name := range []string{`x"; DROP TABLE y; --`, "x`; DROP TABLE y; --", "Bad Name"} {
		if s, err := srv.New(sqlstore.Config{Table: name}); err == nil {
			s.Close()
			t.Errorf("New with table %q succeeded", name)
		}
		if err := srv.Migrate(t.Context(), name); err == nil {
			t.Errorf("Migrate of table %q succeeded", name)
		}
	}
}

// longestTableName checks the Dialect's MaxTableLen against the database:
// a table with the longest name New takes (and every name the schema
// derives from it) can be created and used, and one character more is
// refused before anything reaches the database.
func longestTableName(t *testing.T, srv Server) {
	// Random, as NewTable's names are, so that test runs sharing a
	// server never meet.
	var b [64]byte
	rand.Read(b[:])
	longest := ("t" + hex.EncodeToString(b[:]))[:srv.Dialect.MaxTableLen]
	if err := srv.Migrate(t.Context(), longest+"t"); err == nil {
		srv.Drop(t.Context(), longest+"t")
		t.Fatalf("Migrate of a table name of %d characters succeeded; MaxTableLen is %d", len(longest)+1, len(longest))
	}
	if err := srv.Migrate(t.Context(), longest); err != nil {
		t.Fatalf("Migrate of a table name of MaxTableLen (%d) characters: %v", len(longest), err)
	}
	t.Cleanup(func() {
		if err := srv.Drop(context.Background(), longest); err != nil {
			t.Errorf("drop table %s: %v", longest, err)
		}
	})
	s, err := srv.New(sqlstore.Config{Table: longest, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := newKey()
	if _, err := s.Save(t.Context(), key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour), User: "u"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.UserSessions(t.Context(), "u"); err != nil || len(recs) != 1 {
		t.Fatalf("UserSessions = %d records, %v; want the one saved", len(recs), err)
	}
}

// migrateTwiceAndConcurrently migrates an existing table three times at
// once, as app servers starting together would.
func migrateTwiceAndConcurrently(t *testing.T, srv Server) {
	table := NewTable(t, srv)
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- srv.Migrate(t.Context(), table) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("Migrate of an existing table: %v", err)
		}
	}
}

// sweepInBatches checks Sweep's count and that live rows survive it.
func sweepInBatches(t *testing.T, srv Server) {
	tests := []struct {
		name          string
		expired, live int
		batch         int
	}{
		{"nothing expired", 0, 3, 2},
		{"fewer than a batch", 1, 3, 5},
		{"exactly a batch", 4, 2, 4},
		{"several batches", 11, 3, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, table := NewStore(t, srv, sqlstore.Config{SweepInterval: -1, SweepBatch: tc.batch})
			for i := range tc.expired + tc.live {
				at := time.Now().Add(time.Hour)
				if i < tc.expired {
					at = time.Now().Add(-time.Minute)
				}
				if _, err := s.Save(t.Context(), newKey(), []byte("x"), 0, sesame.SaveOptions{ExpiresAt: at, User: "u"}); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.Sweep(t.Context())
			if err != nil || n != int64(tc.expired) {
				t.Fatalf("Sweep = %d, %v; want %d, nil", n, err, tc.expired)
			}
			if got := count(t, srv, table); got != tc.live {
				t.Fatalf("%d rows after Sweep; want the %d live ones", got, tc.live)
			}
		})
	}
}

// sweeperRunsAndCloseStopsIt checks that the background sweeper deletes
// expired rows by itself, and that Close stops it, may be called twice,
// leaves no goroutine behind and makes later calls fail with ErrClosed.
func sweeperRunsAndCloseStopsIt(t *testing.T, srv Server) {
	table := NewTable(t, srv)
	before := runtime.NumGoroutine()
	s, err := srv.New(sqlstore.Config{Table: table, SweepInterval: 20 * time.Millisecond, SweepBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := s.Save(t.Context(), newKey(), []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for count(t, srv, table) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper left expired rows for 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	storetest.WaitGoroutines(t, before)
	if _, _, err := s.Load(t.Context(), newKey()); !errors.Is(err, sqlstore.ErrClosed) {
		t.Errorf("Load after Close: %v; want ErrClosed", err)
	}
}

// deadlineInsideAStatement holds a row lock so that a Save waits on the
// server, and checks that the Save gives up when its deadline passes.
func deadlineInsideAStatement(t *testing.T, srv Server) {
	s, table := NewStore(t, srv, sqlstore.Config{SweepInterval: -1})
	key := newKey()
	v, err := s.Save(t.Context(), key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := srv.LockRow(t.Context(), table, key)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Save(ctx, key, []byte("y"), v, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Save blocked on a row lock: error %v; want one wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Save returned %v after its 300 ms deadline", d)
	}
	t.Logf("Save gave up after %v: %v", time.Since(start).Round(time.Millisecond), err)
}
