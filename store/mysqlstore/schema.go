package mysqlstore

import (
	"context"
	"database/sql"

	"github.com/sesame-go/sesame/store/sqlstore"
)

// dialect is what package sqlstore needs to know of MySQL. Its limit on
// identifiers is 64 characters; index names are per table, so no name is
// derived from the table's.
var dialect = sqlstore.Dialect{
	Package:     "mysqlstore",
	Database:    "MySQL",
	MaxTableLen: 64,
	Schema:      schemaTemplate,
}

// ValidTable reports whether name may be used as the sessions table: 1 to
// 64 characters, a lower-case ASCII letter or '_' first, then lower-case
// letters, digits and '_'. The rule keeps every statement built from the
// name free of quoting questions (and of case-sensitivity differences
// between servers). Names are quoted in SQL anyway, so a reserved word
// such as "user" is allowed.
func ValidTable(name string) bool { return dialect.ValidTable(name) }

// schemaTemplate is the SQL that Migrate runs, with {{table}} standing for
// the table name. Schema returns it for a given table.
const schemaTemplate = "CREATE TABLE IF NOT EXISTS `{{table}}` (\n" +
	"    `key`      VARBINARY(128)     NOT NULL,\n" +
	"    value      MEDIUMBLOB         NOT NULL,\n" +
	"    version    BIGINT UNSIGNED    NOT NULL,\n" +
	"    expires_at DATETIME(6)        NOT NULL,\n" +
	"    user_name  BLOB               NULL,\n" +
	"    PRIMARY KEY (`key`),\n" +
	"    INDEX user_name_idx (user_name(255)),\n" +
	"    INDEX expires_at_idx (expires_at)\n" +
	") ENGINE=InnoDB"

// Schema returns the SQL that Migrate runs to create the sessions table
// named table ("" means DefaultTable), for deployments that manage their
// schema with their own migration tool. For the default table it is:
//
//	CREATE TABLE IF NOT EXISTS `sesame_sessions` (
//	    `key`      VARBINARY(128)     NOT NULL,
//	    value      MEDIUMBLOB         NOT NULL,
//	    version    BIGINT UNSIGNED    NOT NULL,
//	    expires_at DATETIME(6)        NOT NULL,
//	    user_name  BLOB               NULL,
//	    PRIMARY KEY (`key`),
//	    INDEX user_name_idx (user_name(255)),
//	    INDEX expires_at_idx (expires_at)
//	) ENGINE=InnoDB
//
// Keys are VARBINARY, compared byte for byte: base64url keys that differ
// only in case are different keys, which a case-insensitive collation
// would merge. Values are MEDIUMBLOB (up to 16 MiB). expires_at is UTC,
// compared with UTC_TIMESTAMP(6). user_name is a BLOB, NULL for anonymous
// sessions, because user names are opaque bytes of any length; its index
// covers the first 255 bytes, and lookups compare the whole name.
func Schema(table string) (string, error) { return dialect.SchemaFor(table) }

// Migrate creates the sessions table named table ("" means DefaultTable)
// and its indexes if it does not exist yet (see Schema for the SQL). It is
// one statement, safe to run from several app servers at once.
func Migrate(ctx context.Context, db *sql.DB, table string) error {
	return dialect.Migrate(ctx, table, func(ctx context.Context, _, schema string) error {
		_, err := db.ExecContext(ctx, schema)
		return err
	})
}

// queries are the statements a Store runs, for one table.
type queries struct {
	load, create, update, move, delete, deleteExpired, userSessions, deleteUser, sweep string
}

// statements builds the queries for table, which ValidTable accepts.
//
// The conditional saves are single statements judged by their affected
// rows. Create inserts; on a duplicate key, every column keeps its value
// unless the row has expired, so a live row is left unchanged and the
// statement affects 0 rows: the conflict. (MySQL evaluates the assignments
// left to right, so expires_at, which the guards read, is assigned last.)
// Update changes the row only if its version is the one read and it has
// not expired. InnoDB locks the row for either, so of two racing saves
// with the same version exactly one changes it.
//
// Move is update with the key among the columns it sets, under the same
// guards and the same lock: a row that a racing move took to another key
// no longer matches, so of a renewal and a save (or two renewals) from
// one version exactly one changes the row. A row under the new key, live
// or expired, fails it on the primary key; deleteExpired removes an
// expired one, so that the move can be tried again.
func statements(table string) queries {
	t := "`" + table + "`"
	const expired = "expires_at <= UTC_TIMESTAMP(6)"
	return queries{
		load: "SELECT value, version FROM " + t + " WHERE `key` = ? AND expires_at > UTC_TIMESTAMP(6)",
		create: "INSERT INTO " + t + " (`key`, value, version, expires_at, user_name) VALUES (?, ?, ?, ?, ?)\n" +
			"ON DUPLICATE KEY UPDATE\n" +
			"    value = IF(" + expired + ", VALUES(value), value),\n" +
			"    version = IF(" + expired + ", VALUES(version), version),\n" +
			"    user_name = IF(" + expired + ", VALUES(user_name), user_name),\n" +
			"    expires_at = IF(" + expired + ", VALUES(expires_at), expires_at)",
		update: "UPDATE " + t + " SET value = ?, version = ?, expires_at = ?, user_name = ?\n" +
			"WHERE `key` = ? AND version = ? AND expires_at > UTC_TIMESTAMP(6)",
		move: "UPDATE " + t + " SET `key` = ?, value = ?, version = ?, expires_at = ?, user_name = ?\n" +
			"WHERE `key` = ? AND version = ? AND expires_at > UTC_TIMESTAMP(6)",
		delete:        "DELETE FROM " + t + " WHERE `key` = ?",
		deleteExpired: "DELETE FROM " + t + " WHERE `key` = ? AND " + expired,
		userSessions:  "SELECT `key`, value, version FROM " + t + " WHERE user_name = ? AND expires_at > UTC_TIMESTAMP(6)",
		deleteUser:    "DELETE FROM " + t + " WHERE user_name = ?",
		// Single-table DELETE takes ORDER BY and LIMIT itself (MySQL
		// refuses LIMIT in an IN subquery); InnoDB re-reads each row
		// under its lock, so a row renewed meanwhile is spared.
		sweep: "DELETE FROM " + t + " WHERE expires_at < UTC_TIMESTAMP(6) ORDER BY expires_at LIMIT ?",
	}
}
