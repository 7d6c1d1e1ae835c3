package mysqlstore

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"database/sql"

	"github.com/go-sql-driver/mysql"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/storetest"
)

// TestConformance runs the suite every sesame.Store must pass against the
// real server, each subtest on its own table, with a sweeper running every
// 100 ms alongside.
func TestConformance(t *testing.T) {
	db := testDB(t)
	storetest.Run(t, func(t *testing.T) sesame.Store {
		return newStore(t, db, Config{SweepInterval: 100 * time.Millisecond, SweepBatch: 2})
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
		{"s`; DROP TABLE x; --", false},
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
		t.Error("New(nil db) succeeded")
	}
	cfg := testConfig(t)
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector) // connects lazily
	defer db.Close()
	if _, err := New(db, Config{Table: "x`; DROP TABLE y"}); err == nil {
		t.Error("New with a table name that is not an identifier succeeded")
	}
	if err := Migrate(t.Context(), db, "Bad Name"); err == nil {
		t.Error("Migrate with a table name that is not an identifier succeeded")
	}
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	db := testDB(t)
	table := newTable(t, db)
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- Migrate(t.Context(), db, table) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("Migrate of an existing table: %v", err)
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
	db := testDB(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, db, Config{SweepInterval: -1, SweepBatch: tc.batch})
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
			if got := countRows(t, db, s.table); got != tc.live {
				t.Fatalf("%d rows after Sweep; want the %d live ones", got, tc.live)
			}
		})
	}
}

// TestSweepUsesExpiryIndex checks that the sweep's plan reads the
// expires_at index, not the whole table, once the table is large enough
// for the planner to care.
func TestSweepUsesExpiryIndex(t *testing.T) {
	db := testDB(t)
	s := newStore(t, db, Config{SweepInterval: -1})
	// 20000 live rows, inserted with a recursive CTE in 1000-row batches.
	for i := 0; i < 20; i++ {
		_, err := db.ExecContext(t.Context(), "INSERT INTO `"+s.table+"` (`key`, value, version, expires_at) "+
			"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "+
			"SELECT CONCAT('k', ?, '-', i), '', i, UTC_TIMESTAMP(6) + INTERVAL 1 HOUR FROM n", i)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(t.Context(), "ANALYZE TABLE `"+s.table+"`"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(t.Context(), "EXPLAIN "+s.q.sweep, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			plan.WriteString(cols[i] + "=" + v.String + " ")
		}
		plan.WriteString("\n")
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if !strings.Contains(plan.String(), "key=expires_at_idx") {
		t.Fatalf("sweep plan does not use the expires_at index:\n%s", plan.String())
	}
}

// TestSweeperRunsAndCloseStopsIt checks the background sweeper deletes
// expired rows by itself, and that Close stops it, may be called twice,
// leaves no goroutine behind and makes later calls fail.
func TestSweeperRunsAndCloseStopsIt(t *testing.T) {
	db := testDB(t)
	before := runtime.NumGoroutine()
	s, err := New(db, Config{Table: newTable(t, db), SweepInterval: 20 * time.Millisecond, SweepBatch: 2})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := s.Save(t.Context(), newKey(), []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for countRows(t, db, s.table) > 0 {
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
	db := testDB(t)
	s := newStore(t, db, Config{SweepInterval: -1})
	key := newKey()
	v, err := s.Save(t.Context(), key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(t.Context(), "SELECT 1 FROM `"+s.table+"` WHERE `key` = ? FOR UPDATE", key); err != nil {
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
