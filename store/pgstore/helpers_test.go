package pgstore

import (
	"context"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sesame-go/sesame/store/sqlstore"
	"github.com/sesame-go/sesame/store/sqlstore/sqlstoretest"
	"github.com/sesame-go/sesame/store/storetest"
)

// defaultDSN is the test server of services.md: local trust
// authentication, database test. SESAME_POSTGRES_DSN overrides it.
const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

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

// open opens a pool with cfg, pings it and closes it when the test ends.
// If the server does not answer, the test is skipped, or fails when
// SESAME_REQUIRE_SERVERS=1.
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
		storetest.ServerMissing(t, "PostgreSQL at "+serverAddr(cfg)+" is not reachable (set SESAME_POSTGRES_DSN to use another server): "+err.Error())
	}
	t.Cleanup(pool.Close)
	return pool
}

// testServer describes the server pool reaches to package sqlstoretest.
func testServer(pool *pgxpool.Pool) sqlstoretest.Server {
	return sqlstoretest.Server{
		Dialect: dialect,
		New: func(c sqlstore.Config) (*Store, error) {
			return New(Config{Pool: pool, Table: c.Table, SweepInterval: c.SweepInterval, SweepBatch: c.SweepBatch, SweepErrors: c.SweepErrors})
		},
		Table:   func(name string) sqlstore.Table { return &table{pool: pool, q: statements(name)} },
		Migrate: func(ctx context.Context, table string) error { return Migrate(ctx, pool, table) },
		Drop: func(ctx context.Context, table string) error {
			_, err := pool.Exec(ctx, `DROP TABLE IF EXISTS "`+table+`"`)
			return err
		},
		Count: func(ctx context.Context, table string) (int, error) {
			var n int
			err := pool.QueryRow(ctx, `SELECT count(*) FROM "`+table+`"`).Scan(&n)
			return n, err
		},
		LockRow: func(ctx context.Context, table, key string) (func(), error) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return nil, err
			}
			unlock := func() { tx.Rollback(context.Background()) }
			if _, err := tx.Exec(ctx, `SELECT 1 FROM "`+table+`" WHERE key = $1 FOR UPDATE`, key); err != nil {
				unlock()
				return nil, err
			}
			return unlock, nil
		},
	}
}
