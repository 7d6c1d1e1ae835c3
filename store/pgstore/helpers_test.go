package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// defaultDSN is the test server of services.md: local trust
// authentication, database test. SESAME_POSTGRES_DSN overrides it.
const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// requireServers reports whether an unreachable server fails the tests
// instead of skipping them (CI sets SESAME_REQUIRE_SERVERS=1).
func requireServers() bool { return os.Getenv("SESAME_REQUIRE_SERVERS") == "1" }

// testConfig parses the DSN of the test server. It fails the test on a
// malformed DSN without printing it, since it may hold a password.
func testConfig(t testing.TB) *pgxpool.Config {
	t.Helper()
	dsn := os.Getenv("SESAME_POSTGRES_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal("SESAME_POSTGRES_DSN is not a valid PostgreSQL DSN (not shown: it may hold a password)")
	}
	cfg.ConnConfig.ConnectTimeout = 3 * time.Second
	return cfg
}

// serverAddr names the server of cfg for messages: host and port only.
func serverAddr(cfg *pgxpool.Config) string {
	return net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
}

// open opens a pool with cfg and pings it. If the server does not
// answer, the test is skipped, or fails when SESAME_REQUIRE_SERVERS=1.
func open(t testing.TB, cfg *pgxpool.Config) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		if err = pool.Ping(ctx); err != nil {
			pool.Close()
		}
	}
	if err != nil {
		msg := "PostgreSQL at " + serverAddr(cfg) + " is not reachable (set SESAME_POSTGRES_DSN to use another server): " + err.Error()
		if requireServers() {
			t.Fatal(msg + "; SESAME_REQUIRE_SERVERS=1 makes this a failure")
		}
		t.Skip(msg)
	}
	return pool
}

// sharedPool is one pool to the test server for the whole test binary,
// closed by TestMain.
var sharedPool struct {
	sync.Mutex
	pool *pgxpool.Pool
}

// testPool returns the shared pool to the test server, opening it on
// first use.
func testPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	sharedPool.Lock()
	defer sharedPool.Unlock()
	if sharedPool.pool == nil {
		sharedPool.pool = open(t, testConfig(t))
	}
	return sharedPool.pool
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedPool.pool != nil {
		sharedPool.pool.Close()
	}
	os.Exit(code)
}

// newTable creates a sessions table with a random name, so that parallel
// test runs on one server never meet, and drops it when the test ends.
func newTable(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	table := "sesame_test_" + randomHex(8)
	if err := Migrate(t.Context(), pool, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, `DROP TABLE IF EXISTS "`+table+`"`); err != nil {
			t.Errorf("drop table %s: %v", table, err)
		}
	})
	return table
}

// newStore returns a Store on a fresh table of pool, closed when the test
// ends.
func newStore(t testing.TB, pool *pgxpool.Pool, cfg Config) *Store {
	t.Helper()
	cfg.Table = newTable(t, pool)
	s, err := New(pool, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// countRows returns the number of rows in table, expired or not.
func countRows(t testing.TB, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM "`+table+`"`).Scan(&n); err != nil {
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
