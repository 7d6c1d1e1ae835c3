// Package pgstore keeps sesame sessions in a PostgreSQL table, through a
// pgx connection pool (github.com/jackc/pgx/v5/pgxpool).
//
// A Store is a sesame.Store, a sesame.UserIndex and a sesame.Renewer. It
// brings PostgreSQL's statements and schema, and leaves what every SQL store
// does alike (checks, errors, sweeping in batches, Close) to package
// sqlstore. Create its table once with Migrate, or run the SQL that Schema
// returns with your own migration tool, then make the Store with New:
//
//	pool, err := pgxpool.New(ctx, "postgres://app@db.internal/app")
//	...
//	if err := pgstore.Migrate(ctx, pool, ""); err != nil { ... }
//	store, err := pgstore.New(pgstore.Config{Pool: pool})
//	...
//	defer store.Close()
//
// # One row per session
//
// The table has a column each for the key, the opaque value (bytea), the
// version (bigint), the expiry (timestamptz) and the user (bytea, NULL for
// anonymous sessions), with an index on the user and one on the expiry.
// Every call is one statement and one round trip:
//
//   - Load selects the row only if expires_at is still ahead, by the
//     database's clock, so an expired row is gone even before it is swept.
//   - Save with version 0 is INSERT ... ON CONFLICT (key) DO UPDATE ...
//     WHERE expires_at <= now(): it creates the row, or replaces one that
//     has expired; a live row is a conflict.
//   - Save with version N is UPDATE ... WHERE key = $1 AND version = N AND
//     expires_at > now() RETURNING version: no row updated is a conflict.
//   - Renew is that UPDATE with the key among the columns it sets: the row
//     moves to the new key, or stays where it is. A row under the new key
//     fails it on the primary key; an expired one is then deleted and the
//     move tried again (new keys are random: this does not happen).
//
// # Versions
//
// Each save sets the version to nextval of a sequence that belongs to the
// table. A sequence never hands out a number twice, even across rolled
// back transactions, so versions are never 0, never repeat for a key, and
// a key that is deleted and created again starts from a number no earlier
// reader can hold: a request that read the old session cannot write it
// back (no ABA).
//
// # Sweeping
//
// Expired rows are invisible at once but take space until swept. A Store
// runs a background sweeper every Config.SweepInterval (by default 5
// minutes; a small fraction of the Manager's IdleTimeout is a good value)
// that deletes expired rows in batches of Config.SweepBatch, each batch
// found through the expires_at index, so the work is proportional to what
// expired. Close stops it.
//
// # Failures
//
// Errors name PostgreSQL, the table and what failed, and wrap pgx's error
// (which names the host, never the password) and the context's error when
// the context ended. When the server goes away, calls fail as soon as pgx
// sees the connection broken, or when their context's deadline passes;
// pgxpool reconnects by itself once the server is back. The fault tests
// put a TCP proxy between the pool and the server and cut it in the middle
// of traffic, since the shared test server cannot be stopped.
package pgstore
