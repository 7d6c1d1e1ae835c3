package pgstore

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// TestConformance runs the suite every sesame.Store must pass against the
// real server, each subtest on its own table, with a sweeper running every
// 100 ms alongside.
func TestConformance(t *testing.T) {
	pool := testPool(t)
	storetest.Run(t, func(t *testing.T) sesame.Store {
		return newStore(t, pool, Config{SweepInterval: 100 * time.Millisecond, SweepBatch: 2})
	})
}

func TestValidTable(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"sesame_sessions", true},
		{"_s", true},
		{"s1", true},
		{"user", true}, // reserved, but always quoted
		{strings.Repeat("a", maxTableLen), true},
		{"", false},
		{strings.Repeat("a", maxTableLen+1), false},
		{"1s", false},
		{"Sessions", false},
		{"public.sessions", false},
		{`s"; DROP TABLE x; --`, false},
		{"s'", false},
		{"s s", false},
		{"sé", false},
	}
	for _, tc := range tests {
		if got := ValidTable(tc.name); got != tc.ok {
			t.Errorf("ValidTable(%q) = %v; want %v", tc.name, got, tc.ok)
		}
		_, err := Schema(tc.name)
		if tc.name != "" && (err == nil) != tc.ok {
			t.Errorf("Schema(%q) error %v; want error: %v", tc.name, err, !tc.ok)
		}
	}
}

// TestNewRefusesBadConfig needs no server: New checks before any call.
func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(nil, Config{}); err == nil {
		t.Error("New(nil pool) succeeded")
	}
	cfg := testConfig(t)
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg) // connects lazily
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := New(pool, Config{Table: `x"; DROP TABLE y`}); err == nil {
		t.Error("New with a table name that is not an identifier succeeded")
	}
	if err := Migrate(t.Context(), pool, "Bad Name"); err == nil {
		t.Error("Migrate with a table name that is not an identifier succeeded")
	}
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	pool := testPool(t)
	table := newTable(t, pool)
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- Migrate(t.Context(), pool, table) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("Migrate of an existing table: %v", err)
		}
	}
}

// TestMigrateBesideASave runs Migrate on an existing table while a save is
// in flight on another connection, as when one app server restarts while
// the others serve: the save holds the table (its INSERT or UPDATE) and
// then draws its version from the sequence. Migrate must not lock what
// exists already; when its ALTER SEQUENCE held the sequence and its CREATE
// INDEX waited for the table, PostgreSQL aborted one of the two
// ("deadlock detected"), failing a user's login.
func TestMigrateBesideASave(t *testing.T) {
	pool := testPool(t)
	table := newTable(t, pool)
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `LOCK TABLE "`+table+`" IN ROW EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	migrated := make(chan error, 1)
	go func() { migrated <- Migrate(ctx, pool, table) }()
	// Migrate either returns at once (it locks nothing that exists) or
	// waits for the table, holding the sequence: then the save's draw
	// from the sequence deadlocks.
	waiting := func() bool {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE relation = to_regclass($1) AND NOT granted`, `"`+table+`"`).Scan(&n)
		return err == nil && n > 0
	}
	deadline := time.Now().Add(10 * time.Second)
	done := false
	for !done && !waiting() {
		select {
		case err := <-migrated:
			if err != nil {
				t.Fatalf("Migrate beside a save: %v", err)
			}
			done = true
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("Migrate neither returned nor waited for the table within 10s")
		}
	}
	if _, err := tx.Exec(ctx, `SELECT nextval('"`+table+`_version_seq"')`); err != nil {
		t.Fatalf("a save beside Migrate: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if !done {
		if err := <-migrated; err != nil {
			t.Fatalf("Migrate beside a save: %v", err)
		}
	}
}

// TestSweepDeletesOnlyExpiredRowsInBatches checks Sweep's count and that
// live rows survive it.
func TestSweepDeletesOnlyExpiredRowsInBatches(t *testing.T) {
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
	pool := testPool(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, pool, Config{SweepInterval: -1, SweepBatch: tc.batch})
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
			if got := countRows(t, pool, s.table); got != tc.live {
				t.Fatalf("%d rows after Sweep; want the %d live ones", got, tc.live)
			}
		})
	}
}

// TestSweepUsesExpiryIndex checks that the sweep's plan reads the
// expires_at index, not the whole table, once the table is large enough
// for the planner to care.
func TestSweepUsesExpiryIndex(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool, Config{SweepInterval: -1})
	_, err := pool.Exec(t.Context(), `INSERT INTO "`+s.table+`" (key, value, version, expires_at)
		SELECT 'k' || i, '\x00', i, now() + interval '1 hour' FROM generate_series(1, 20000) i`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), `ANALYZE "`+s.table+`"`); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(t.Context(), "EXPLAIN "+s.sqlSweep, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan.WriteString(line + "\n")
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if !strings.Contains(plan.String(), s.table+"_expires_at_idx") {
		t.Fatalf("sweep plan does not use the expires_at index:\n%s", plan.String())
	}
}

// TestSweeperRunsAndCloseStopsIt checks the background sweeper deletes
// expired rows by itself, and that Close stops it, may be called twice,
// leaves no goroutine behind and makes later calls fail.
func TestSweeperRunsAndCloseStopsIt(t *testing.T) {
	pool := testPool(t)
	before := runtime.NumGoroutine()
	s, err := New(pool, Config{Table: newTable(t, pool), SweepInterval: 20 * time.Millisecond, SweepBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := s.Save(t.Context(), newKey(), []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for countRows(t, pool, s.table) > 0 {
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
	if _, _, err := s.Load(t.Context(), newKey()); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close: %v; want ErrClosed", err)
	}
}

// TestDeadlineInsideAStatement holds a row lock so that a Save waits on
// the server, and checks that the Save gives up when its deadline passes.
func TestDeadlineInsideAStatement(t *testing.T) {
	pool := testPool(t)
	s := newStore(t, pool, Config{SweepInterval: -1})
	key := newKey()
	v, err := s.Save(t.Context(), key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM "`+s.table+`" WHERE key = $1 FOR UPDATE`, key); err != nil {
		t.Fatal(err)
	}
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
