// Package sqlstore is the part of a SQL session store that is the same
// whatever the database: the rule for the table's name, the defaults, the
// checks before each statement, the errors, sweeping in batches, the
// background sweeper and Close. A store for one database brings its SQL:
// a Dialect (its name, its limit on table names, the schema) and a Table
// (its statements, through its driver). pgstore and mysqlstore are made
// this way; a store for another database can be too, and can test itself
// with package sqlstoretest.
//
// The table holds one row per session: the key, the value, the version,
// the expiry and the user (NULL for an anonymous session), with an index
// on the expiry and one on the user.
//
// The stores build their statements from the table's name. A name that
// ValidTable accepts needs no escaping inside the quotes around it (double
// quotes or backticks), so it can neither end nor change a statement, and
// it names the same table on servers that compare names case-sensitively
// and on those that do not.
package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Defaults for the Config fields left zero.
const (
	// DefaultTable is the table New and Migrate use when none is named.
	DefaultTable = "sesame_sessions"

	// DefaultSweepInterval is how often the sweeper deletes expired rows
	// when Config.SweepInterval is zero.
	DefaultSweepInterval = 5 * time.Minute

	// DefaultSweepBatch is how many rows one sweep statement deletes at
	// most when Config.SweepBatch is zero.
	DefaultSweepBatch = 1000
)

// A Dialect is what the shared code needs to know of one database.
type Dialect struct {
	// Package is the name of the store's package, which starts every
	// error of the store: "pgstore".
	Package string

	// Database names the database in errors: "PostgreSQL".
	Database string

	// MaxTableLen is the longest table name the store takes: the
	// database's limit on names, less the room the names the schema
	// derives from the table's need (an index named after the table).
	MaxTableLen int

	// Schema is the SQL that creates the table, its indexes and whatever
	// else the store's statements need, if they do not exist yet, with
	// {{table}} standing for the table's name.
	Schema string
}

// ValidTable reports whether name may be used as the sessions table: 1 to
// d.MaxTableLen characters, a lower-case ASCII letter or '_' first, then
// lower-case letters, digits and '_'. Names are quoted in the statements
// anyway, so a reserved word such as "user" is allowed.
func (d Dialect) ValidTable(name string) bool {
	if len(name) == 0 || len(name) > d.MaxTableLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', c == '_':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// tableName returns name, or DefaultTable if name is empty, or an error if
// ValidTable refuses it.
func (d Dialect) tableName(name string) (string, error) {
	if name == "" {
		return DefaultTable, nil
	}
	if !d.ValidTable(name) {
		return "", fmt.Errorf("%s: table name %q is not a lower-case SQL identifier of at most %d characters", d.Package, name, d.MaxTableLen)
	}
	return name, nil
}

// SchemaFor returns d.Schema for the table named table ("" means
// DefaultTable), or an error if ValidTable refuses the name.
func (d Dialect) SchemaFor(table string) (string, error) {
	table, err := d.tableName(table)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(d.Schema, "{{table}}", table), nil
}

// Migrate creates the table named table ("" means DefaultTable): it calls
// run with the table's name and SchemaFor's SQL, which run executes as the
// database needs (in a transaction, under a lock), and names the table
// and the database in run's error.
func (d Dialect) Migrate(ctx context.Context, table string, run func(ctx context.Context, table, schema string) error) error {
	schema, err := d.SchemaFor(table)
	if err != nil {
		return err
	}
	table, _ = d.tableName(table)
	if err := run(ctx, table, schema); err != nil {
		return fmt.Errorf("%s: migrate %s table %s: %w", d.Package, d.Database, table, err)
	}
	return nil
}
