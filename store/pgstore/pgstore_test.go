package pgstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame/store/sqlstore"
	"github.com/sesame-go/sesame/store/sqlstore/sqlstoretest"
)

// TestStore runs the tests of every SQL store, storetest's conformance
// suite among them, against the real server.
func TestStore(t *testing.T) {
	sqlstoretest.Run(t, testServer(open(t, testConfig(t))))
}

// TestNewRefusesNoPool needs no server.
func TestNewRefusesNoPool(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "Config.Pool") {
		t.Errorf("New without a pool: %v; want an error naming Config.Pool", err)
	}
}

// TestSweepUsesExpiryIndex checks that the sweep's plan reads the
// expires_at index, not the whole table, once the table is large enough
// for the planner to care.
func TestSweepUsesExpiryIndex(t *testing.T) {
	pool := open(t, testConfig(t))
	_, table := sqlstoretest.NewStore(t, testServer(pool), sqlstore.Config{SweepInterval: -1})
	_, err := pool.Exec(t.Context(), `INSERT INTO "`+table+`" (key, value, version, expires_at)
		SELECT 'k' || i, '\x00', i, now() + interval '1 hour' FROM generate_series(1, 20000) i`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), `ANALYZE "`+table+`"`); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(t.Context(), "EXPLAIN "+statements(table).sweep, 1000)
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
	if !strings.Contains(plan.String(), table+"_expires_at_idx") {
		t.Fatalf("sweep plan does not use the expires_at index:\n%s", plan.String())
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
	pool := open(t, testConfig(t))
	_, table := sqlstoretest.NewStore(t, testServer(pool), sqlstore.Config{SweepInterval: -1})
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
