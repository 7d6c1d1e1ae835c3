package mysqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// defaultDSN is the test server of services.md: root without a password,
// database test. SESAME_MYSQL_DSN overrides it.
const defaultDSN = "root@tcp(127.0.0.1:3306)/test"

// requireServers reports whether an unreachable server fails the tests
// instead of skipping them (CI sets SESAME_REQUIRE_SERVERS=1).
func requireServers() bool { return os.Getenv("SESAME_REQUIRE_SERVERS") == "1" }

// testConfig parses the DSN of the test server. It fails the test on a
// malformed DSN without printing it, since it may hold a password.
func testConfig(t testing.TB) *mysql.Config {
	t.Helper()
	dsn := os.Getenv("SESAME_MYSQL_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal("SESAME_MYSQL_DSN is not a valid MySQL DSN (not shown: it may hold a password)")
	}
	cfg.Timeout = 3 * time.Second
	return cfg
}

// open opens a pool with cfg and pings it. If the server does not answer,
// the test is skipped, or fails when SESAME_REQUIRE_SERVERS=1.
func open(t testing.TB, cfg *mysql.Config) *sql.DB {
	t.Helper()
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("MySQL connector: %v", err)
	}
	db := sql.OpenDB(connector)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		msg := "MySQL at " + cfg.Addr + " is not reachable (set SESAME_MYSQL_DSN to use another server): " + err.Error()
		if requireServers() {
			t.Fatal(msg + "; SESAME_REQUIRE_SERVERS=1 makes this a failure")
		}
		t.Skip(msg)
	}
	return db
}

// sharedDB is one pool to the test server for the whole test binary,
// closed by TestMain.
var sharedDB struct {
	sync.Mutex
	db *sql.DB
}

// testDB returns the shared pool to the test server, opening it on first
// use.
func testDB(t testing.TB) *sql.DB {
	t.Helper()
	sharedDB.Lock()
	defer sharedDB.Unlock()
	if sharedDB.db == nil {
		sharedDB.db = open(t, testConfig(t))
	}
	return sharedDB.db
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedDB.db != nil {
		sharedDB.db.Close()
	}
	os.Exit(code)
}

// newTable creates a sessions table with a random name, so that parallel
// test runs on one server never meet, and drops it when the test ends.
func newTable(t testing.TB, db *sql.DB) string {
	t.Helper()
	table := "sesame_test_" + randomHex(8)
	if err := Migrate(t.Context(), db, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+table+"`"); err != nil {
			t.Errorf("drop table %s: %v", table, err)
		}
	})
	return table
}

// newStore returns a Store on a fresh table of db, closed when the test
// ends. Its errors name the test server unless cfg.Server says otherwise.
func newStore(t testing.TB, db *sql.DB, cfg Config) *Store {
	t.Helper()
	cfg.Table = newTable(t, db)
	if cfg.Server == "" {
		cfg.Server = testConfig(t).Addr
	}
	s, err := New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// countRows returns the number of rows in table, expired or not.
func countRows(t testing.TB, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM `"+table+"`").Scan(&n); err != nil {
		t.Fatalf("count rows of %s: %v", table, err)
	}
	return n
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newKey returns a key shaped like the Manager's.
func newKey() string { return "k" + randomHex(21) }
