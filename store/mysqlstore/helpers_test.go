package mysqlstore

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sesame-go/sesame/store/sqlstore"
	"github.com/sesame-go/sesame/store/sqlstore/sqlstoretest"
	"github.com/sesame-go/sesame/store/storetest"
)

// defaultDSN is the test server of services.md: root without a password,
// database test. SESAME_MYSQL_DSN overrides it.
const defaultDSN = "root@tcp(127.0.0.1:3306)/test"

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

// open opens a pool with cfg, pings it and closes it when the test ends.
// If the server does not answer, the test is skipped, or fails when
// SESAME_REQUIRE_SERVERS=1.
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
		storetest.ServerMissing(t, "MySQL at "+cfg.Addr+" is not reachable (set SESAME_MYSQL_DSN to use another server): "+err.Error())
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testServer describes the server db reaches to package sqlstoretest;
// the stores' errors name it server.
func testServer(db *sql.DB, server string) sqlstoretest.Server {
	return sqlstoretest.Server{
		Dialect: dialect,
		New: func(c sqlstore.Config) (*Store, error) {
			return New(Config{DB: db, Table: c.Table, Server: server, SweepInterval: c.SweepInterval, SweepBatch: c.SweepBatch, SweepErrors: c.SweepErrors})
		},
		Table:   func(name string) sqlstore.Table { return newTable(db, name) },
		Migrate: func(ctx context.Context, table string) error { return Migrate(ctx, db, table) },
		Drop: func(ctx context.Context, table string) error {
			_, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS `"+table+"`")
			return err
		},
		Count: func(ctx context.Context, table string) (int, error) {
			var n int
			err := db.QueryRowContext(ctx, "SELECT count(*) FROM `"+table+"`").Scan(&n)
			return n, err
		},
		LockRow: func(ctx context.Context, table, key string) (func(), error) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return nil, err
			}
			unlock := func() { tx.Rollback() }
			if _, err := tx.ExecContext(ctx, "SELECT 1 FROM `"+table+"` WHERE `key` = ? FOR UPDATE", key); err != nil {
				unlock()
				return nil, err
			}
			return unlock, nil
		},
	}
}

// testStore opens a pool to the test server and describes it to package
// sqlstoretest.
func testStore(t testing.TB) (*sql.DB, sqlstoretest.Server) {
	cfg := testConfig(t)
	db := open(t, cfg)
	return db, testServer(db, cfg.Addr)
}
