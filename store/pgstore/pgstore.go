package pgstore

import (
	"context"
	"errors"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
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

// Config says which pool a Store uses and tunes it. Pool is required; for
// every other field the zero value is ready to use: table DefaultTable, a
// sweep every DefaultSweepInterval, DefaultSweepBatch rows per statement.
type Config struct {
	// Pool is the connection pool to the database that holds the table.
	// It stays the caller's: Close does not close it.
	Pool *pgxpool.Pool

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

// Store is a sesame.Store, sesame.UserIndex and sesame.Renewer kept in
// one PostgreSQL table: a sqlstore.Store running PostgreSQL's statements.
// It is safe for concurrent use. Make one with New.
//
// Save takes each new version from the table's sequence (see the package
// documentation). Sweep skips rows another sweeper has locked, so several
// processes may sweep one table. Close stops the sweeper but leaves the
// pool open.
type Store = sqlstore.Store

// New returns a Store that keeps sessions in cfg.Table through cfg.Pool,
// and starts its background sweeper. The table must exist (see Migrate).
func New(cfg Config) (*Store, error) {
	if cfg.Pool == nil {
		return nil, errors.New("pgstore: Config.Pool is nil")
	}
	cc := cfg.Pool.Config().ConnConfig
	return sqlstore.New(dialect, sqlstore.Config{
		Table:         cfg.Table,
		Server:        net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port))),
		SweepInterval: cfg.SweepInterval,
		SweepBatch:    cfg.SweepBatch,
		SweepErrors:   cfg.SweepErrors,
	}, func(name string) sqlstore.Table { return &table{pool: cfg.Pool, q: statements(name)} })
}

// table runs the statements of one table on a pool: it is the
// sqlstore.Table of a Store, whose methods it implements.
type table struct {
	pool *pgxpool.Pool
	q    queries
}

func (t *table) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	var value []byte
	var version int64
	err := t.pool.QueryRow(ctx, t.q.load, key).Scan(&value, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, nil
	}
	return value, uint64(version), err
}

// Save takes the new version from the table's sequence, so it is never 0,
// never the old one, and never one that key, or any key, had before.
func (t *table) Save(ctx context.Context, key string, value []byte, version uint64, expiresAt time.Time, user []byte) (uint64, error) {
	if version > math.MaxInt64 {
		return 0, nil // no row holds it: the sequence is a bigint
	}
	var row pgx.Row
	if version == 0 {
		row = t.pool.QueryRow(ctx, t.q.create, key, value, expiresAt, user)
	} else {
		row = t.pool.QueryRow(ctx, t.q.update, key, value, expiresAt, user, int64(version))
	}
	var next int64
	err := row.Scan(&next)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint64(next), err
}

// Move updates the row's key, taking the new version from the table's
// sequence as Save does. A row under newKey fails the statement on the
// primary key (unique_violation), and PostgreSQL rolls the whole
// statement back.
func (t *table) Move(ctx context.Context, oldKey string, oldVersion uint64, newKey string, value []byte, expiresAt time.Time, user []byte) (uint64, error) {
	if oldVersion > math.MaxInt64 {
		return 0, nil // no row holds it: the sequence is a bigint
	}
	var next int64
	err := t.pool.QueryRow(ctx, t.q.move, oldKey, newKey, value, expiresAt, user, int64(oldVersion)).Scan(&next)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case errors.As(err, &pgErr) && pgErr.Code == uniqueViolation:
		return 0, sqlstore.ErrKeyTaken
	}
	return uint64(next), err
}

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key: the only
// unique index of the table is its primary key.
const uniqueViolation = "23505"

func (t *table) Delete(ctx context.Context, key string) error {
	_, err := t.pool.Exec(ctx, t.q.delete, key)
	return err
}

func (t *table) DeleteExpired(ctx context.Context, key string) (bool, error) {
	tag, err := t.pool.Exec(ctx, t.q.deleteExpired, key)
	return tag.RowsAffected() == 1, err
}

func (t *table) UserSessions(ctx context.Context, user []byte) ([]sesame.StoredRecord, error) {
	rows, err := t.pool.Query(ctx, t.q.userSessions, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlstore.ScanRecords(rows)
}

func (t *table) DeleteUser(ctx context.Context, user []byte) error {
	_, err := t.pool.Exec(ctx, t.q.deleteUser, user)
	return err
}

func (t *table) Sweep(ctx context.Context, limit int) (int64, error) {
	tag, err := t.pool.Exec(ctx, t.q.sweep, limit)
	return tag.RowsAffected(), err
}
