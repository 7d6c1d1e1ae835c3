package mysqlstore

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/sqlstore"
	"github.com/sesame-go/sesame/store/sqlstore/sqlstoretest"
)

// TestStore runs the tests of every SQL store, storetest's conformance
// suite among them, against the real server.
func TestStore(t *testing.T) {
	_, srv := testStore(t)
	sqlstoretest.Run(t, srv)
}

// TestNewRefusesNoDB needs no server.
func TestNewRefusesNoDB(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "Config.DB") {
		t.Errorf("New without a *sql.DB: %v; want an error naming Config.DB", err)
	}
}

// TestAnonymousSessionHasNoUser checks that a session saved without a
// user has a NULL user_name, which the user index leaves out.
func TestAnonymousSessionHasNoUser(t *testing.T) {
	db, srv := testStore(t)
	s, table := sqlstoretest.NewStore(t, srv, sqlstore.Config{SweepInterval: -1})
	key := "k" + strings.Repeat("0", 42)
	if _, err := s.Save(t.Context(), key, []byte("x"), 0, sesame.SaveOptions{ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var null bool
	if err := db.QueryRowContext(t.Context(), "SELECT user_name IS NULL FROM `"+table+"` WHERE `key` = ?", key).Scan(&null); err != nil {
		t.Fatal(err)
	}
	if !null {
		t.Error("an anonymous session's user_name is not NULL")
	}
}

// TestSweepUsesExpiryIndex checks that the sweep's plan reads the
// expires_at index, not the whole table, once the table is large enough
// for the planner to care.
func TestSweepUsesExpiryIndex(t *testing.T) {
	db, srv := testStore(t)
	_, table := sqlstoretest.NewStore(t, srv, sqlstore.Config{SweepInterval: -1})
	// 20000 live rows, inserted with a recursive CTE in 1000-row batches.
	for i := 0; i < 20; i++ {
		_, err := db.ExecContext(t.Context(), "INSERT INTO `"+table+"` (`key`, value, version, expires_at) "+
			"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "+
			"SELECT CONCAT('k', ?, '-', i), '', i, UTC_TIMESTAMP(6) + INTERVAL 1 HOUR FROM n", i)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(t.Context(), "ANALYZE TABLE `"+table+"`"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(t.Context(), "EXPLAIN "+statements(table).sweep, 1000)
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
