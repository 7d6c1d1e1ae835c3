// Package mysqlstore keeps sesame sessions in a MariaDB or MySQL table,
// through database/sql and the github.com/go-sql-driver/mysql driver.
//
// A Store is a sesame.Store, a sesame.UserIndex and a sesame.Renewer. It
// brings MySQL's statements and schema, and leaves what every SQL store
// does alike (checks, errors, sweeping in batches, Close) to package
// sqlstore. Create its table once with Migrate, or run the SQL that Schema
// returns with your own migration tool, then make the Store with New:
//
//	db, err := sql.Open("mysql", "app@tcp(db.internal:3306)/app")
//	...
//	if err := mysqlstore.Migrate(ctx, db, ""); err != nil { ... }
//	store, err := mysqlstore.New(mysqlstore.Config{DB: db, Server: "db.internal:3306"})
//	...
//	defer store.Close()
//
// The DSN must not set clientFoundRows=true: saves tell a conflict by the
// rows a statement changed, and that option counts rows it merely found.
// The server's max_allowed_packet must exceed the largest value saved
// (MariaDB 10.11 defaults to 16 MiB, MySQL 8 to 64 MiB).
//
// # One row per session
//
// The table has a column each for the key (VARBINARY, so case-sensitive),
// the opaque value (MEDIUMBLOB), the version, the expiry (DATETIME(6) in
// UTC) and the user (BLOB, NULL for anonymous sessions), with an index on
// the user and one on the expiry. Every call is one statement and one
// round trip:
//
//   - Load selects the row only if expires_at is still ahead by the
//     database's clock, so an expired row is gone even before it is swept.
//   - Save with version 0 is INSERT ... ON DUPLICATE KEY UPDATE with every
//     assignment guarded by IF(expires_at <= UTC_TIMESTAMP(6), ...): it
//     creates the row, or replaces one that has expired; a live row is
//     left as it is, the statement changes no row, and that is a conflict.
//   - Save with version N is UPDATE ... WHERE key = ? AND version = N AND
//     expires_at > UTC_TIMESTAMP(6): no row changed is a conflict.
//   - Renew is that UPDATE with the key among the columns it sets: the row
//     moves to the new key, or stays where it is, without a transaction.
//     A row under the new key fails it on the primary key; an expired one
//     is then deleted and the move tried again (new keys are random: this
//     does not happen).
//
// # Versions
//
// MySQL has no sequences (MariaDB's are not portable to it), and a counter
// row would cost a second statement and serialise every save. So each save
// sets a fresh version of 63 bits from crypto/rand, never 0 and never the
// version it replaces. A stale writer can only succeed if the row holds
// exactly the version it read; after the key is deleted and created again,
// or renewed, that happens with probability 2⁻⁶³ per attempt — the same
// kind of guarantee as the 256-bit session ids themselves, and no ABA in
// practice.
//
// # Sweeping
//
// Expired rows are invisible at once but take space until swept. A Store
// runs a background sweeper every Config.SweepInterval (by default 5
// minutes; a small fraction of the Manager's IdleTimeout is a good value)
// that runs DELETE ... WHERE expires_at < UTC_TIMESTAMP(6) ORDER BY
// expires_at LIMIT Config.SweepBatch until a batch comes back short. Each
// batch walks the expires_at index, so the work is proportional to what
// expired. Close stops it.
//
// # Failures
//
// Errors name MySQL (and Config.Server), the table and what failed, and
// wrap the driver's error and the context's error when the context ended.
// When the server goes away, calls fail as soon as the driver sees the
// connection broken, or when their context's deadline passes; database/sql
// opens new connections once the server is back. The fault tests put a
// TCP proxy between the store and the server and cut it in the middle of
// traffic, since the shared test server cannot be stopped.
package mysqlstore
