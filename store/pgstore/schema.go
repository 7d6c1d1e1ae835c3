package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sesame-go/sesame/store/sqlstore"
)

// dialect is what package sqlstore needs to know of PostgreSQL. A table's
// name leaves room in PostgreSQL's 63-byte identifiers for the longest
// name derived from it: "<table>_expires_at_idx".
var dialect = sqlstore.Dialect{
	Package:     "pgstore",
	Database:    "PostgreSQL",
	MaxTableLen: 63 - len("_expires_at_idx"),
	Schema:      schemaTemplate,
}

// ValidTable reports whether name may be used as the sessions table: 1 to
// 48 characters, a lower-case ASCII letter or '_' first, then lower-case
// letters, digits and '_'. The rule keeps every statement built from the
// name free of quoting questions, and leaves room for the names of the
// sequence and indexes derived from it. Names are quoted in SQL anyway, so
// a reserved word such as "user" is allowed.
func ValidTable(name string) bool { return dialect.ValidTable(name) }

// schemaTemplate is the SQL that Migrate runs, with {{table}} standing for
// the table name. Schema returns it for a given table.
const schemaTemplate = `CREATE SEQUENCE IF NOT EXISTS "{{table}}_version_seq" AS bigint;
CREATE TABLE IF NOT EXISTS "{{table}}" (
    key        text COLLATE "C" PRIMARY KEY,
    value      bytea       NOT NULL,
    version    bigint      NOT NULL,
    expires_at timestamptz NOT NULL,
    user_name  bytea
);
ALTER SEQUENCE "{{table}}_version_seq" OWNED BY "{{table}}".version;
CREATE INDEX IF NOT EXISTS "{{table}}_user_name_idx" ON "{{table}}" (user_name) WHERE user_name IS NOT NULL;
CREATE INDEX IF NOT EXISTS "{{table}}_expires_at_idx" ON "{{table}}" (expires_at);
`

// Schema returns the SQL that Migrate runs to create the sessions table
// named table ("" means DefaultTable), for deployments that manage their
// schema with their own migration tool. For the default table it is:
//
//	CREATE SEQUENCE IF NOT EXISTS "sesame_sessions_version_seq" AS bigint;
//	CREATE TABLE IF NOT EXISTS "sesame_sessions" (
//	    key        text COLLATE "C" PRIMARY KEY,
//	    value      bytea       NOT NULL,
//	    version    bigint      NOT NULL,
//	    expires_at timestamptz NOT NULL,
//	    user_name  bytea
//	);
//	ALTER SEQUENCE "sesame_sessions_version_seq" OWNED BY "sesame_sessions".version;
//	CREATE INDEX IF NOT EXISTS "sesame_sessions_user_name_idx" ON "sesame_sessions" (user_name) WHERE user_name IS NOT NULL;
//	CREATE INDEX IF NOT EXISTS "sesame_sessions_expires_at_idx" ON "sesame_sessions" (expires_at);
//
// Every save takes its new version from the sequence, which never hands
// out a number twice, so a key that is deleted and created again can never
// see an old version come back (no ABA). user_name is bytea, not text,
// because user names are opaque strings that may hold NUL bytes or
// invalid UTF-8, which PostgreSQL's text type rejects; NULL means
// anonymous, and the partial index leaves anonymous sessions out.
func Schema(table string) (string, error) { return dialect.SchemaFor(table) }

// Migrate creates the sessions table named table ("" means DefaultTable),
// its version sequence and its indexes, if they do not exist yet, in one
// transaction (see Schema for the SQL). Concurrent calls, say from several
// app servers starting at once, wait for each other on an advisory lock.
// When the table, its sequence and its indexes all exist, it changes and
// locks nothing, so that an app server starting while others save
// sessions does not hold them up.
func Migrate(ctx context.Context, pool *pgxpool.Pool, table string) error {
	return dialect.Migrate(ctx, table, func(ctx context.Context, table, schema string) error {
		// Nothing to do, and nothing to lock, when everything is there:
		// the statements below lock the sequence and the table even when
		// they change nothing, and app servers that start while others
		// save sessions would deadlock with those saves.
		var complete bool
		names := []string{table, table + "_version_seq", table + "_user_name_idx", table + "_expires_at_idx"}
		for i, n := range names {
			names[i] = `"` + n + `"`
		}
		err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL
    AND to_regclass($3) IS NOT NULL AND to_regclass($4) IS NOT NULL`, names[0], names[1], names[2], names[3]).Scan(&complete)
		if err != nil || complete {
			return err
		}
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "sesame pgstore migrate "+table); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, schema)
			return err
		})
	})
}

// queries are the statements a Store runs, for one table.
type queries struct {
	load, create, update, move, delete, deleteExpired, userSessions, deleteUser, sweep string
}

// statements builds the queries for table, which ValidTable accepts.
//
// The conditional saves are single statements. Create inserts, or on a key
// conflict replaces the row only if it has expired: a live row makes the
// statement return no row, which is the conflict. Update changes the row
// only if its version is the one read and it has not expired. Both return
// the new version, drawn from the sequence. Under READ COMMITTED, a
// concurrent save to the same row waits for the first to commit and then
// re-checks its WHERE clause against the new row, so exactly one of two
// racing saves with the same version wins.
//
// Move is update with the key among the columns it sets: the same guards,
// and the same re-check, which a row moved to another key fails, so of a
// renewal and a save (or two renewals) racing from one version exactly
// one wins. A row under the new key, live or expired, fails it on the
// primary key; deleteExpired removes an expired one, so that the move can
// be tried again.
func statements(table string) queries {
	t := `"` + table + `"`
	seq := `nextval('"` + table + `_version_seq"')`
	return queries{
		load: `SELECT value, version FROM ` + t + ` WHERE key = $1 AND expires_at > now()`,
		create: `INSERT INTO ` + t + ` AS s (key, value, version, expires_at, user_name)
VALUES ($1, $2, ` + seq + `, $3, $4)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = EXCLUDED.version,
    expires_at = EXCLUDED.expires_at, user_name = EXCLUDED.user_name
WHERE s.expires_at <= now()
RETURNING version`,
		update: `UPDATE ` + t + ` SET value = $2, version = ` + seq + `, expires_at = $3, user_name = $4
WHERE key = $1 AND version = $5 AND expires_at > now()
RETURNING version`,
		move: `UPDATE ` + t + ` SET key = $2, value = $3, version = ` + seq + `, expires_at = $4, user_name = $5
WHERE key = $1 AND version = $6 AND expires_at > now()
RETURNING version`,
		delete:        `DELETE FROM ` + t + ` WHERE key = $1`,
		deleteExpired: `DELETE FROM ` + t + ` WHERE key = $1 AND expires_at <= now()`,
		userSessions:  `SELECT key, value, version FROM ` + t + ` WHERE user_name = $1 AND expires_at > now()`,
		deleteUser:    `DELETE FROM ` + t + ` WHERE user_name = $1`,
		// The outer expires_at test is re-checked against a row that a
		// save renewed after the subquery read it, so a renewed row
		// survives; SKIP LOCKED lets concurrent sweepers share the work.
		sweep: `DELETE FROM ` + t + ` WHERE key IN (
    SELECT key FROM ` + t + ` WHERE expires_at < now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
AND expires_at < now()`,
	}
}
