package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/pgstore"
)

// Example serves sessions kept in PostgreSQL: create the table once (or
// run pgstore.Schema's SQL with your migration tool), then sweep expired
// sessions at a sixth of the Manager's idle timeout.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://app@127.0.0.1:5432/app")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool, pgstore.DefaultTable); err != nil {
		log.Fatal(err)
	}

	const idle = 30 * time.Minute
	store, err := pgstore.New(pgstore.Config{Pool: pool, SweepInterval: idle / 6})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	manager, err := sesame.New(sesame.Config{Store: store, IdleTimeout: idle})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello\n")) })
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", manager.Handler(mux)))
}

// ExampleSchema prints the SQL that Migrate runs, for a migration tool.
func ExampleSchema() {
	sql, err := pgstore.Schema("sessions")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(sql)
	// Output:
	// CREATE SEQUENCE IF NOT EXISTS "sessions_version_seq" AS bigint;
	// CREATE TABLE IF NOT EXISTS "sessions" (
	//     key        text COLLATE "C" PRIMARY KEY,
	//     value      bytea       NOT NULL,
	//     version    bigint      NOT NULL,
	//     expires_at timestamptz NOT NULL,
	//     user_name  bytea
	// );
	// ALTER SEQUENCE "sessions_version_seq" OWNED BY "sessions".version;
	// CREATE INDEX IF NOT EXISTS "sessions_user_name_idx" ON "sessions" (user_name) WHERE user_name IS NOT NULL;
	// CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx" ON "sessions" (expires_at);
}
