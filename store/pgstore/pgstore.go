package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
var ErrClosed = errors.New("pgstore: store is closed")

// Config tunes a Store. The zero Config is ready to use: table
// DefaultTable, a sweep every DefaultSweepInterval, DefaultSweepBatch rows
// per statement.
type Config struct {
	// Table is the name of the sessions table, as created by Migrate: a
	// lower-case SQL identifier (see ValidTable). Empty means DefaultTable.
	Table string

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
	// removes, so a sweep never holds many row locks or one long
	// transaction. Zero means DefaultSweepBatch.
	SweepBatch int

	// SweepErrors, if set, is called with each error of a background
	// sweep (a sweep that fails is simply tried again at the next tick).
	SweepErrors func(error)
}

// Store is a sesame.Store and sesame.UserIndex kept in one PostgreSQL
// table. It is safe for concurrent use. Make one with New.
type Store struct {
	pool   *pgxpool.Pool
	server string // host:port, for errors
	table  string
	batch  int
	onErr  func(error)
	closed atomic.Bool

	// SQL statements, built once from the validated table name.
	sqlLoad, sqlCreate, sqlUpdate, sqlDelete string
	sqlUserSessions, sqlDeleteUser, sqlSweep string

	sweeper   *sweeper.Sweeper // nil if turned off
	closeOnce sync.Once
}

var (
	_ sesame.Store     = (*Store)(nil)
	_ sesame.UserIndex = (*Store)(nil)
)

// New returns a Store that keeps sessions in cfg.Table through pool, and
// starts its background sweeper. The table must exist (see Migrate). The
// pool stays the caller's: Close stops the sweeper but does not close it.
func New(pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New with a nil pool")
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if !ValidTable(cfg.Table) {
		return nil, fmt.Errorf("pgstore: table name %q is not a lower-case SQL identifier of at most %d characters", cfg.Table, maxTableLen)
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.SweepBatch <= 0 {
		cfg.SweepBatch = DefaultSweepBatch
	}
	cc := pool.Config().ConnConfig
	server := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
	s := &Store{pool: pool, server: server, table: cfg.Table, batch: cfg.SweepBatch, onErr: cfg.SweepErrors}
	q := statements(cfg.Table)
	s.sqlLoad, s.sqlCreate, s.sqlUpdate, s.sqlDelete = q.load, q.create, q.update, q.delete
	s.sqlUserSessions, s.sqlDeleteUser, s.sqlSweep = q.userSessions, q.deleteUser, q.sweep

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
	var version int64
	err := s.pool.QueryRow(ctx, s.sqlLoad, key).Scan(&value, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, fmt.Errorf("pgstore: load from table %s: %w", s.table, sesame.ErrNotFound)
	}
	if err != nil {
		return nil, 0, s.fail(ctx, "load", err)
	}
	return value, uint64(version), nil
}

// Save stores value under key if the row's version is version (0: no
// live row), in one statement and one round trip. The new version comes
// from the table's sequence, so it is never 0, never the old one, and
// never one that key, or any key, had before. A mismatch is an error
// wrapping sesame.ErrConflict.
func (s *Store) Save(ctx context.Context, key string, value []byte, version uint64, opts sesame.SaveOptions) (uint64, error) {
	if err := s.checkKey(ctx, "save", key); err != nil {
		return 0, err
	}
	if version > math.MaxInt64 {
		// No row holds it: the sequence is a bigint.
		return 0, s.conflict(version)
	}
	if value == nil {
		value = []byte{} // bytea NOT NULL: an empty value is a value
	}
	var user []byte
	if opts.User != "" {
		user = []byte(opts.User)
	}
	var row pgx.Row
	if version == 0 {
		row = s.pool.QueryRow(ctx, s.sqlCreate, key, value, opts.ExpiresAt, user)
	} else {
		row = s.pool.QueryRow(ctx, s.sqlUpdate, key, value, opts.ExpiresAt, user, int64(version))
	}
	var newVersion int64
	err := row.Scan(&newVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, s.conflict(version)
	}
	if err != nil {
		return 0, s.fail(ctx, "save", err)
	}
	return uint64(newVersion), nil
}

// Delete removes the row under key, if there is one.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey(ctx, "delete", key); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, s.sqlDelete, key); err != nil {
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
	rows, err := s.pool.Query(ctx, s.sqlUserSessions, []byte(user))
	if err != nil {
		return nil, s.fail(ctx, "list user sessions", err)
	}
	var records []sesame.StoredRecord
	for rows.Next() {
		var r sesame.StoredRecord
		var version int64
		if err := rows.Scan(&r.Key, &r.Value, &version); err != nil {
			rows.Close()
			return nil, s.fail(ctx, "list user sessions", err)
		}
		r.Version = uint64(version)
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
	if _, err := s.pool.Exec(ctx, s.sqlDeleteUser, []byte(user)); err != nil {
		return s.fail(ctx, "delete user", err)
	}
	return nil
}

// Sweep deletes expired rows in statements of at most Config.SweepBatch
// rows each, until a statement finds fewer than that, and returns how
// many it deleted. Each statement walks the expires_at index from its
// start, so the work is proportional to the rows that expired, not to the
// rows in the table. Rows another sweeper has locked are skipped, so
// several processes may sweep one table. The background sweeper calls
// Sweep; it is exported for tests and for deployments that sweep from a
// job instead.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	if err := s.check(ctx, "sweep"); err != nil {
		return 0, err
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, s.sqlSweep, s.batch)
		if err != nil {
			return total, s.fail(ctx, "sweep", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(s.batch) {
			return total, nil
		}
	}
}

// Close stops the background sweeper and waits for it to finish; later
// calls fail with ErrClosed. It does not close the pool. Close is
// idempotent and always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.sweeper.Stop()
	})
	return nil
}

// check refuses calls on a closed store or with a done context before
// any round trip.
func (s *Store) check(ctx context.Context, what string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pgstore: %s on table %s: %w", what, s.table, err)
	}
	return nil
}

// checkKey is check for the calls that take a key, which must be one that
// sesame.ValidKey accepts.
func (s *Store) checkKey(ctx context.Context, what, key string) error {
	if !sesame.ValidKey(key) {
		return fmt.Errorf("pgstore: %s: %w", what, sesame.ErrInvalidKey)
	}
	return s.check(ctx, what)
}

// conflict is the error of a Save whose version the table does not hold.
func (s *Store) conflict(version uint64) error {
	return fmt.Errorf("pgstore: save to table %s with version %d: %w", s.table, version, sesame.ErrConflict)
}

// fail wraps an error from PostgreSQL with what was being done, and with
// the context's error when the context ended meanwhile, so callers can
// test for context.DeadlineExceeded. pgx errors name the host and the
// server's message, never the password or the bound values.
func (s *Store) fail(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("pgstore: %s on PostgreSQL %s, table %s: %w (%w)", what, s.server, s.table, err, cerr)
	}
	return fmt.Errorf("pgstore: %s on PostgreSQL %s, table %s: %w", what, s.server, s.table, err)
}
