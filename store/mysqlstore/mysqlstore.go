package mysqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/sqlstore"
)

// Defaults for the Config fields left zero.
const (
	// DefaultTable is the table New and Migrate use when none is named.
	DefaultTable = sqlstore.DefaultTable

	// DefaultSweepInterval is how often the sweeper deletes expired rows
	// when Config.SweepInterval is zero.
	DefaultSweepInterval = sqlstore.DefaultSweepInterval

	// DefaultSweepBatch is how many rows one sweep statement deletes at
	// most when Config.SweepBatch is zero.
	DefaultSweepBatch = sqlstore.DefaultSweepBatch
)

// ErrClosed is returned, wrapped, by calls on a Store after Close.
var ErrClosed = sqlstore.ErrClosed

// Config says which database a Store uses and tunes it. DB is required;
// for every other field the zero value is ready to use: table
// DefaultTable, a sweep every DefaultSweepInterval, DefaultSweepBatch rows
// per statement.
type Config struct {
	// DB is the database that holds the table. It must use the
	// github.com/go-sql-driver/mysql driver, and stays the caller's: Close
	// does not close it.
	DB *sql.DB

	// Table is the name of the sessions table, as created by Migrate: a
	// lower-case SQL identifier (see ValidTable). Empty means DefaultTable.
	Table string

	// Server names the server in error messages, for example its
	// host:port (a *sql.DB does not say where it connects). Never put a
	// DSN with a password here. Empty means just "MySQL".
	Server string

	// SweepInterval is how often the background sweeper deletes expired
	// rows. Zero means DefaultSweepInterval; a negative value turns the
	// sweeper off (call Sweep yourself, or let another process sweep).
	//
	// Expired rows are never returned whether or not they are swept; the
	// sweeper only reclaims space. A good value is a small fraction of the
	// Manager's IdleTimeout (IdleTimeout/6 for the default 30 minutes is
	// the default 5 minutes): rows then linger at most that long past
	// their expiry, and each sweep finds about that much worth of expired
	// sessions.
	SweepInterval time.Duration

	// SweepBatch bounds how many rows one DELETE statement of a sweep
	// removes, so a sweep never holds many row locks at once. Zero means
	// DefaultSweepBatch.
	SweepBatch int

	// SweepErrors, if set, is called with each error of a background
	// sweep (a sweep that fails is simply tried again at the next tick).
	SweepErrors func(error)
}

// Store is a sesame.Store, sesame.UserIndex and sesame.Renewer kept in
// one MariaDB or MySQL table: a sqlstore.Store running MySQL's
// statements. It is safe for concurrent use. Make one with New.
//
// Save makes each new version of 63 random bits (see the package
// documentation). Close stops the sweeper and closes the Store's prepared
// statements, but leaves the *sql.DB open.
type Store = sqlstore.Store

// New returns a Store that keeps sessions in cfg.Table through cfg.DB,
// and starts its background sweeper. The table must exist (see Migrate).
// The server's max_allowed_packet must exceed the largest value saved
// (MariaDB's default is 16 MiB).
func New(cfg Config) (*Store, error) {
	if cfg.DB == nil {
		return nil, errors.New("mysqlstore: Config.DB is nil")
	}
	return sqlstore.New(dialect, sqlstore.Config{
		Table:         cfg.Table,
		Server:        cfg.Server,
		SweepInterval: cfg.SweepInterval,
		SweepBatch:    cfg.SweepBatch,
		SweepErrors:   cfg.SweepErrors,
	}, func(name string) sqlstore.Table { return newTable(cfg.DB, name) })
}

// table runs the statements of one table on a *sql.DB: it is the
// sqlstore.Table of a Store, whose methods it implements. It prepares each
// statement once, which makes each call one round trip (database/sql
// re-prepares it on each new connection by itself); without that, the
// driver prepares and closes a statement around every call.
type table struct {
	db     *sql.DB
	q      queries
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt // prepared lazily, by SQL text
	closed bool
}

func newTable(db *sql.DB, name string) *table {
	return &table{db: db, q: statements(name), stmts: map[string]*sql.Stmt{}}
}

func (t *table) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	stmt, err := t.prepared(ctx, t.q.load)
	if err != nil {
		return nil, 0, err
	}
	var value []byte
	var version uint64
	err = stmt.QueryRowContext(ctx, key).Scan(&value, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, nil
	}
	return value, version, err
}

// Save sets a fresh version of 63 random bits, never 0 and never the
// version it replaces (see the package documentation).
func (t *table) Save(ctx context.Context, key string, value []byte, version uint64, expiresAt time.Time, user []byte) (uint64, error) {
	next, err := newVersion(version)
	if err != nil {
		return 0, err
	}
	expires := datetime(expiresAt)
	query, args := t.q.create, []any{key, value, next, expires, user}
	if version != 0 {
		query, args = t.q.update, []any{value, next, expires, user, key, version}
	}
	// Affected rows: 1 for an insert or update, 2 for an insert that
	// replaced an expired row, 0 when the guards kept the row.
	return t.write(ctx, next, query, args...)
}

// Move updates the row's key, with a fresh version as Save makes one for
// a new row. A row under newKey fails the statement on the primary key
// (ER_DUP_ENTRY), and InnoDB rolls the whole statement back.
func (t *table) Move(ctx context.Context, oldKey string, oldVersion uint64, newKey string, value []byte, expiresAt time.Time, user []byte) (uint64, error) {
	next, err := newVersion(0)
	if err != nil {
		return 0, err
	}
	next, err = t.write(ctx, next, t.q.move, newKey, value, next, datetime(expiresAt), user, oldKey, oldVersion)
	if isError(err, errDupEntry) {
		return 0, sqlstore.ErrKeyTaken
	}
	return next, err
}

// write runs query, prepared, with args, and returns next if it changed
// a row, or 0 if it changed none.
func (t *table) write(ctx context.Context, next uint64, query string, args ...any) (uint64, error) {
	stmt, err := t.prepared(ctx, query)
	if err != nil {
		return 0, err
	}
	for attempt := 1; ; attempt++ {
		res, err := stmt.ExecContext(ctx, args...)
		if isError(err, errDeadlock) && attempt < maxDeadlockRetries && ctx.Err() == nil {
			// InnoDB rolled the statement back: it changed nothing,
			// so running it again is safe.
			continue
		}
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return 0, err
		}
		return next, nil
	}
}

// maxDeadlockRetries bounds how often a write runs a statement InnoDB
// chose as a deadlock victim; racing creates of one key can deadlock.
const maxDeadlockRetries = 5

// The MySQL errors the writes handle.
const (
	errDupEntry = 1062 // ER_DUP_ENTRY: the primary key holds the key
	errDeadlock = 1213 // ER_LOCK_DEADLOCK: InnoDB rolled the statement back
)

// isError reports whether err is the MySQL error number.
func isError(err error, number uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}

// newVersion returns 63 random bits that are neither 0 nor old.
func newVersion(old uint64) (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("new version: %w", err)
		}
		if v := binary.LittleEndian.Uint64(b[:]) >> 1; v != 0 && v != old {
			return v, nil
		}
	}
}

// datetime formats t for a DATETIME(6) column in UTC, the zone of
// UTC_TIMESTAMP(6), whatever the connection's time zone or the driver's
// loc setting.
func datetime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.000000")
}

func (t *table) Delete(ctx context.Context, key string) error {
	_, err := t.exec(ctx, t.q.delete, key)
	return err
}

func (t *table) DeleteExpired(ctx context.Context, key string) (bool, error) {
	res, err := t.exec(ctx, t.q.deleteExpired, key)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *table) UserSessions(ctx context.Context, user []byte) ([]sesame.StoredRecord, error) {
	stmt, err := t.prepared(ctx, t.q.userSessions)
	if err != nil {
		return nil, err
	}
	rows, err := stmt.QueryContext(ctx, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlstore.ScanRecords(rows)
}

func (t *table) DeleteUser(ctx context.Context, user []byte) error {
	_, err := t.exec(ctx, t.q.deleteUser, user)
	return err
}

func (t *table) Sweep(ctx context.Context, limit int) (int64, error) {
	res, err := t.exec(ctx, t.q.sweep, limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Close closes the prepared statements; later calls fail with
// sqlstore.ErrClosed.
func (t *table) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, stmt := range t.stmts {
		stmt.Close()
	}
	clear(t.stmts)
	return nil
}

// prepared returns the table's prepared statement for query, preparing it
// on first use. A failed prepare is tried again by the next call.
func (t *table) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	t.mu.Lock()
	stmt := t.stmts[query]
	t.mu.Unlock()
	if stmt != nil {
		return stmt, nil
	}
	// Prepare without the lock, so a slow server delays only this call.
	stmt, err := t.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		stmt.Close()
		return nil, sqlstore.ErrClosed
	}
	if prev := t.stmts[query]; prev != nil {
		stmt.Close() // another call prepared it meanwhile
		return prev, nil
	}
	t.stmts[query] = stmt
	return stmt, nil
}

// exec runs query, prepared, with args.
func (t *table) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	stmt, err := t.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(ctx, args...)
}
