package mysqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/sweeper"
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

// ErrClosed is returned by calls on a Store after Close.
var ErrClosed = errors.New("mysqlstore: store is closed")

// Config tunes a Store. The zero Config is ready to use: table
// DefaultTable, a sweep every DefaultSweepInterval, DefaultSweepBatch rows
// per statement.
type Config struct {
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

// Store is a sesame.Store and sesame.UserIndex kept in one MariaDB or
// MySQL table. It is safe for concurrent use. Make one with New.
type Store struct {
	db        *sql.DB
	server    string // "MySQL" or "MySQL host:port", for errors
	table     string
	batch     int
	onErr     func(error)
	q         queries
	stmtMu    sync.Mutex
	stmts     map[string]*sql.Stmt // prepared lazily, by SQL text
	closed    atomic.Bool
	sweeper   *sweeper.Sweeper // nil if turned off
	closeOnce sync.Once
}

var (
	_ sesame.Store     = (*Store)(nil)
	_ sesame.UserIndex = (*Store)(nil)
)

// New returns a Store that keeps sessions in cfg.Table through db, and
// starts its background sweeper. db must use the
// github.com/go-sql-driver/mysql driver, and the table must exist (see
// Migrate). The server's max_allowed_packet must exceed the largest value
// saved (MariaDB's default is 16 MiB). db stays the caller's: Close stops
// the sweeper but does not close it.
func New(db *sql.DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("mysqlstore: New with a nil *sql.DB")
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if !ValidTable(cfg.Table) {
		return nil, fmt.Errorf("mysqlstore: table name %q is not a lower-case SQL identifier of at most %d characters", cfg.Table, maxTableLen)
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.SweepBatch <= 0 {
		cfg.SweepBatch = DefaultSweepBatch
	}
	server := "MySQL"
	if cfg.Server != "" {
		server += " " + cfg.Server
	}
	s := &Store{db: db, server: server, table: cfg.Table, batch: cfg.SweepBatch, onErr: cfg.SweepErrors,
		q: statements(cfg.Table), stmts: map[string]*sql.Stmt{}}
	if cfg.SweepInterval > 0 {
		// A sweep may take at most one interval.
		s.sweeper = sweeper.Start(cfg.SweepInterval, func(ctx context.Context) error {
			_, err := s.Sweep(ctx)
			return err
		}, s.onErr)
	}
	return s, nil
}

// Load returns the value and version stored under key, or an error
// wrapping sesame.ErrNotFound when there is no row or its expires_at has
// passed by the database's clock. One round trip.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := s.checkKey(ctx, "load", key); err != nil {
		return nil, 0, err
	}
	var value []byte
	var version uint64
	stmt, err := s.prepared(ctx, s.q.load)
	if err != nil {
		return nil, 0, s.fail(ctx, "load", err)
	}
	err = stmt.QueryRowContext(ctx, key).Scan(&value, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("mysqlstore: load from table %s: %w", s.table, sesame.ErrNotFound)
	}
	if err != nil {
		return nil, 0, s.fail(ctx, "load", err)
	}
	if value == nil {
		value = []byte{}
	}
	return value, version, nil
}

// Save stores value under key if the row's version is version (0: no
// live row), in one statement and one round trip, and returns the new
// version: 63 random bits, never 0 and never the old one (see the package
// documentation). A mismatch is an error wrapping sesame.ErrConflict.
func (s *Store) Save(ctx context.Context, key string, value []byte, version uint64, opts sesame.SaveOptions) (uint64, error) {
	if err := s.checkKey(ctx, "save", key); err != nil {
		return 0, err
	}
	if value == nil {
		value = []byte{} // NOT NULL: an empty value is a value
	}
	var user any // NULL for anonymous sessions
	if opts.User != "" {
		user = []byte(opts.User)
	}
	expires := datetime(opts.ExpiresAt)
	next, err := newVersion(version)
	if err != nil {
		return 0, err
	}
	query, args := s.q.create, []any{key, value, next, expires, user}
	if version != 0 {
		query, args = s.q.update, []any{value, next, expires, user, key, version}
	}
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return 0, s.fail(ctx, "save", err)
	}
	for attempt := 1; ; attempt++ {
		res, err := stmt.ExecContext(ctx, args...)
		if isDeadlock(err) && attempt < maxDeadlockRetries && ctx.Err() == nil {
			// InnoDB rolled the statement back: it changed nothing,
			// so running it again is safe.
			continue
		}
		if err != nil {
			return 0, s.fail(ctx, "save", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, s.fail(ctx, "save", err)
		}
		// Affected rows: 1 for an insert or update, 2 for an insert
		// that replaced an expired row, 0 when the guards kept the row.
		if n == 0 {
			return 0, fmt.Errorf("mysqlstore: save to table %s with version %d: %w", s.table, version, sesame.ErrConflict)
		}
		return next, nil
	}
}

// maxDeadlockRetries bounds how often Save runs a statement InnoDB chose
// as a deadlock victim; racing creates of one key can deadlock.
const maxDeadlockRetries = 5

// isDeadlock reports MySQL error 1213, ER_LOCK_DEADLOCK.
func isDeadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1213
}

// newVersion returns 63 random bits that are neither 0 nor old.
func newVersion(old uint64) (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("mysqlstore: new version: %w", err)
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

// Delete removes the row under key, if there is one.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey(ctx, "delete", key); err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.q.delete, key); err != nil {
		return s.fail(ctx, "delete", err)
	}
	return nil
}

// UserSessions returns the live rows saved with opts.User equal to user,
// found through the user_name index.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sesame.StoredRecord, error) {
	if err := s.check(ctx, "list user sessions"); err != nil {
		return nil, err
	}
	stmt, err := s.prepared(ctx, s.q.userSessions)
	if err != nil {
		return nil, s.fail(ctx, "list user sessions", err)
	}
	rows, err := stmt.QueryContext(ctx, []byte(user))
	if err != nil {
		return nil, s.fail(ctx, "list user sessions", err)
	}
	defer rows.Close()
	var records []sesame.StoredRecord
	for rows.Next() {
		var r sesame.StoredRecord
		if err := rows.Scan(&r.Key, &r.Value, &r.Version); err != nil {
			return nil, s.fail(ctx, "list user sessions", err)
		}
		if r.Value == nil {
			r.Value = []byte{}
		}
		records = append(records, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, "list user sessions", err)
	}
	return records, nil
}

// DeleteUser deletes every row saved with opts.User equal to user.
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	if err := s.check(ctx, "delete user"); err != nil {
		return err
	}
	if _, err := s.exec(ctx, s.q.deleteUser, []byte(user)); err != nil {
		return s.fail(ctx, "delete user", err)
	}
	return nil
}

// Sweep deletes expired rows in statements of at most Config.SweepBatch
// rows each, until a statement finds fewer than that, and returns how
// many it deleted. Each statement walks the expires_at index from its
// start, so the work is proportional to the rows that expired, not to the
// rows in the table. The background sweeper calls Sweep; it is exported
// for tests and for deployments that sweep from a job instead.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	if err := s.check(ctx, "sweep"); err != nil {
		return 0, err
	}
	var total int64
	for {
		res, err := s.exec(ctx, s.q.sweep, s.batch)
		if err != nil {
			return total, s.fail(ctx, "sweep", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, s.fail(ctx, "sweep", err)
		}
		total += n
		if n < int64(s.batch) {
			return total, nil
		}
	}
}

// Close stops the background sweeper and waits for it to finish, and
// closes the Store's prepared statements; later calls fail with
// ErrClosed. It does not close the *sql.DB. Close is idempotent and always
// returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.sweeper.Stop()
		s.stmtMu.Lock()
		defer s.stmtMu.Unlock()
		for _, stmt := range s.stmts {
			stmt.Close()
		}
		clear(s.stmts)
	})
	return nil
}

// prepared returns the Store's prepared statement for query, preparing
// it on first use. A prepared statement makes each call one round trip
// (database/sql re-prepares it on each new connection by itself); without
// one, the driver prepares and closes a statement around every call. A
// failed prepare is tried again by the next call.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	stmt := s.stmts[query]
	s.stmtMu.Unlock()
	if stmt != nil {
		return stmt, nil
	}
	// Prepare without the lock, so a slow server delays only this call.
	stmt, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if s.closed.Load() {
		stmt.Close()
		return nil, ErrClosed
	}
	if prev := s.stmts[query]; prev != nil {
		stmt.Close() // another call prepared it meanwhile
		return prev, nil
	}
	s.stmts[query] = stmt
	return stmt, nil
}

// exec runs query, prepared, with args.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(ctx, args...)
}

// check refuses calls on a closed store or with a done context before
// any round trip.
func (s *Store) check(ctx context.Context, what string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mysqlstore: %s on table %s: %w", what, s.table, err)
	}
	return nil
}

// checkKey is check for the calls that take a key, which must be one that
// sesame.ValidKey accepts.
func (s *Store) checkKey(ctx context.Context, what, key string) error {
	if !sesame.ValidKey(key) {
		return fmt.Errorf("mysqlstore: %s: %w", what, sesame.ErrInvalidKey)
	}
	return s.check(ctx, what)
}

// fail wraps an error from the server with what was being done, and with
// the context's error when the context ended meanwhile, so callers can
// test for context.DeadlineExceeded. Driver errors carry the server's
// message or the network error, never the DSN or the bound values.
func (s *Store) fail(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("mysqlstore: %s on %s, table %s: %w (%w)", what, s.server, s.table, err, cerr)
	}
	return fmt.Errorf("mysqlstore: %s on %s, table %s: %w", what, s.server, s.table, err)
}
