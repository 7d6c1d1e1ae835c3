package pgstore

import (
	"strings"
	"testing"

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
