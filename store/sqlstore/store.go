package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/sweeper"
)

// ErrClosed is returned, wrapped, by calls on a Store after Close.
var ErrClosed = errors.New("store is closed")

// ErrKeyTaken is what a Table's Move returns, wrapped or not, when a row,
// live or expired, exists under the key it would move a row to.
var ErrKeyTaken = errors.New("a row exists under the new key")

// A Table runs a store's statements on its table, through the database's
// driver: each method is one statement, in one round trip. A Store checks
// the key, the context and whether it is closed before it calls a method,
// and wraps the error a method returns with what failed, where. A Table
// that is also an io.Closer is closed by the Store's Close.
type Table interface {
	// Load returns the value and version of the row under key if its
	// expiry is still ahead by the database's clock, or version 0 if
	// there is no such row.
	Load(ctx context.Context, key string) (value []byte, version uint64, err error)

	// Save writes the row under key if the row's version is version, and
	// returns the row's new version, which is never 0, never version, and
	// never one the key had before. Version 0 stands for no live row: Save
	// then creates the row, or replaces one that has expired. Any other
	// version must be the version of a row that has not expired. When the
	// row is not as version says, Save changes nothing and returns 0. user
	// is nil for an anonymous session.
	Save(ctx context.Context, key string, value []byte, version uint64, expiresAt time.Time, user []byte) (uint64, error)

	// Move gives the row under oldKey, if its version is oldVersion and it
	// has not expired, the key newKey and value, expiresAt and user, with
	// a new version made as Save makes one, and returns that version. It
	// is one statement: the row is under one key or the other, never both
	// or neither. When the row is not as oldVersion says, Move changes
	// nothing and returns 0. When a row exists under newKey, live or
	// expired, the statement fails, changes nothing, and Move returns an
	// error wrapping ErrKeyTaken.
	Move(ctx context.Context, oldKey string, oldVersion uint64, newKey string, value []byte, expiresAt time.Time, user []byte) (uint64, error)

	// Delete deletes the row under key, if there is one.
	Delete(ctx context.Context, key string) error

	// DeleteExpired deletes the row under key if its expiry has passed by
	// the database's clock, and reports whether it deleted one.
	DeleteExpired(ctx context.Context, key string) (bool, error)

	// UserSessions returns the rows saved with user whose expiry is still
	// ahead.
	UserSessions(ctx context.Context, user []byte) ([]sesame.StoredRecord, error)

	// DeleteUser deletes every row saved with user.
	DeleteUser(ctx context.Context, user []byte) error

	// Sweep deletes at most limit rows whose expiry has passed, the
	// earliest first, found through the expiry index, and returns how many
	// it deleted. A row that a Save renews meanwhile must survive.
	Sweep(ctx context.Context, limit int) (int64, error)
}

// Rows are the rows of a result, as database/sql and pgx give them.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanRecords reads rows of a key, a value and a version into records,
// for a Table's UserSessions. The caller closes rows.
func ScanRecords(rows Rows) ([]sesame.StoredRecord, error) {
	var records []sesame.StoredRecord
	for rows.Next() {
		var r sesame.StoredRecord
		if err := rows.Scan(&r.Key, &r.Value, &r.Version); err != nil {
			return nil, err
		}
		records = append(records, r)
	}
	return records, rows.Err()
}

// Config holds the settings every SQL store has. The zero Config is ready
// to use: table DefaultTable, a sweep every DefaultSweepInterval,
// DefaultSweepBatch rows per statement.
type Config struct {
	// Table is the name of the sessions table (see Dialect.ValidTable).
	// Empty means DefaultTable.
	Table string

	// Server names the server in errors, after the Dialect's Database:
	// its host:port, say. Never put a DSN with a password here. Empty
	// means the Database alone.
	Server string

	// SweepInterval is how often the background sweeper deletes expired
	// rows. Zero means DefaultSweepInterval; a negative value turns the
	// sweeper off.
	SweepInterval time.Duration

	// SweepBatch bounds how many rows one statement of a sweep deletes.
	// Zero means DefaultSweepBatch.
	SweepBatch int

	// SweepErrors, if set, is called with each error of a background
	// sweep.
	SweepErrors func(error)
}

// Store is a sesame.Store, sesame.UserIndex and sesame.Renewer kept in one
// SQL table, whose statements a Table runs. It is safe for concurrent use.
// Make one with New.
type Store struct {
	table   Table
	pkg     string // the store's package, for errors
	server  string // the database and where it is, for errors
	name    string // the table's name
	batch   int
	closed  atomic.Bool
	sweeper *sweeper.Sweeper // nil if turned off

	closeOnce sync.Once
	closeErr  error
}

var (
	_ sesame.Store     = (*Store)(nil)
	_ sesame.UserIndex = (*Store)(nil)
	_ sesame.Renewer   = (*Store)(nil)
)

// New returns a Store on the table cfg names, whose statements the Table
// that table returns for that name runs, and starts its background
// sweeper. It fails if d.ValidTable refuses the name. The table must
// exist (see Dialect.Migrate).
func New(d Dialect, cfg Config, table func(name string) Table) (*Store, error) {
	name, err := d.tableName(cfg.Table)
	if err != nil {
		return nil, err
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.SweepBatch <= 0 {
		cfg.SweepBatch = DefaultSweepBatch
	}
	server := d.Database
	if cfg.Server != "" {
		server += " " + cfg.Server
	}
	s := &Store{table: table(name), pkg: d.Package, server: server, name: name, batch: cfg.SweepBatch}
	if cfg.SweepInterval > 0 {
		// A sweep may take at most one interval.
		s.sweeper = sweeper.Start(cfg.SweepInterval, func(ctx context.Context) error {
			_, err := s.Sweep(ctx)
			return err
		}, cfg.SweepErrors)
	}
	return s, nil
}

// Load returns the value and version stored under key, or an error
// wrapping sesame.ErrNotFound when there is no row or its expiry has
// passed by the database's clock. One round trip.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := s.checkKey(ctx, "load", key); err != nil {
		return nil, 0, err
	}
	value, version, err := s.table.Load(ctx, key)
	if err != nil {
		return nil, 0, s.fail(ctx, "load", err)
	}
	if version == 0 {
		return nil, 0, fmt.Errorf("%s: load from table %s: %w", s.pkg, s.name, sesame.ErrNotFound)
	}
	if value == nil {
		value = []byte{}
	}
	return value, version, nil
}

// Save stores value under key if the row's version is version (0: no
// live row), in one statement and one round trip, and returns the new
// version, which the store's package documentation describes. A mismatch
// is an error wrapping sesame.ErrConflict.
func (s *Store) Save(ctx context.Context, key string, value []byte, version uint64, opts sesame.SaveOptions) (uint64, error) {
	if err := s.checkKey(ctx, "save", key); err != nil {
		return 0, err
	}
	value, user := columns(value, opts)
	next, err := s.table.Save(ctx, key, value, version, opts.ExpiresAt, user)
	if err != nil {
		return 0, s.fail(ctx, "save", err)
	}
	if next == 0 {
		return 0, fmt.Errorf("%s: save to table %s with version %d: %w", s.pkg, s.name, version, sesame.ErrConflict)
	}
	return next, nil
}

// columns returns value and opts.User as the table's columns hold them:
// value NOT NULL, the user NULL for an anonymous session.
func columns(value []byte, opts sesame.SaveOptions) ([]byte, []byte) {
	if value == nil {
		value = []byte{} // NOT NULL: an empty value is a value
	}
	var user []byte
	if opts.User != "" {
		user = []byte(opts.User)
	}
	return value, user
}

// Renew moves the row under oldKey, if its version is oldVersion and it
// has not expired, to newKey with value (see sesame.Renewer): one UPDATE
// that changes the row's key along with its value, version, expiry and
// user, in one round trip. The row is under one key or the other, never
// both or neither, and a conflict on either key leaves it where it was.
//
// A row under newKey makes the UPDATE fail on the primary key and change
// nothing. If that row is live, Renew reports a conflict; if it has
// expired, Renew deletes it and updates again, replacing it as Save with
// version 0 would (three round trips; new keys are random, so this does
// not happen outside tests).
func (s *Store) Renew(ctx context.Context, oldKey string, oldVersion uint64, newKey string, value []byte, opts sesame.SaveOptions) (uint64, error) {
	if !sesame.ValidKey(newKey) {
		return 0, fmt.Errorf("%s: renew: %w", s.pkg, sesame.ErrInvalidKey)
	}
	if err := s.checkKey(ctx, "renew", oldKey); err != nil {
		return 0, err
	}
	if newKey == oldKey {
		// Either the row is as oldVersion says, and a live row exists
		// under newKey, or it is not: a conflict both ways.
		return 0, fmt.Errorf("%s: renew in table %s to the same key: %w", s.pkg, s.name, sesame.ErrConflict)
	}
	value, user := columns(value, opts)
	for attempt := 1; ; attempt++ {
		next, err := s.table.Move(ctx, oldKey, oldVersion, newKey, value, opts.ExpiresAt, user)
		switch {
		case errors.Is(err, ErrKeyTaken):
			gone := false
			if attempt < maxMoves {
				if gone, err = s.table.DeleteExpired(ctx, newKey); err != nil {
					return 0, s.fail(ctx, "renew", err)
				}
			}
			if !gone {
				return 0, fmt.Errorf("%s: renew in table %s: a live row exists under the new key: %w", s.pkg, s.name, sesame.ErrConflict)
			}
		case err != nil:
			return 0, s.fail(ctx, "renew", err)
		case next == 0:
			return 0, fmt.Errorf("%s: renew in table %s from version %d: %w", s.pkg, s.name, oldVersion, sesame.ErrConflict)
		default:
			return next, nil
		}
	}
}

// maxMoves bounds how often Renew tries to move a row onto a key that
// holds one, deleting it in between if it has expired: an expired row
// that comes back each time is treated as a live one.
const maxMoves = 3

// Delete removes the row under key, if there is one.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey(ctx, "delete", key); err != nil {
		return err
	}
	if err := s.table.Delete(ctx, key); err != nil {
		return s.fail(ctx, "delete", err)
	}
	return nil
}

// UserSessions returns the live rows saved with opts.User equal to user,
// found through the user index.
func (s *Store) UserSessions(ctx context.Context, user string) ([]sesame.StoredRecord, error) {
	if err := s.check(ctx, "list user sessions"); err != nil {
		return nil, err
	}
	records, err := s.table.UserSessions(ctx, []byte(user))
	if err != nil {
		return nil, s.fail(ctx, "list user sessions", err)
	}
	for i := range records {
		if records[i].Value == nil {
			records[i].Value = []byte{}
		}
	}
	return records, nil
}

// DeleteUser deletes every row saved with opts.User equal to user.
func (s *Store) DeleteUser(ctx context.Context, user string) error {
	if err := s.check(ctx, "delete user"); err != nil {
		return err
	}
	if err := s.table.DeleteUser(ctx, []byte(user)); err != nil {
		return s.fail(ctx, "delete user", err)
	}
	return nil
}

// Sweep deletes expired rows in statements of at most Config.SweepBatch
// rows each, until a statement finds fewer than that, and returns how
// many it deleted. Each statement walks the expiry index from its start,
// so the work is proportional to the rows that expired, not to the rows
// in the table. The background sweeper calls Sweep; it is exported for
// tests and for deployments that sweep from a job instead.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	if err := s.check(ctx, "sweep"); err != nil {
		return 0, err
	}
	var total int64
	for {
		n, err := s.table.Sweep(ctx, s.batch)
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
// closes the Table if it is an io.Closer; later calls fail with
// ErrClosed. It does not close the connection pool, which stays the
// caller's. Close may be called more than once; the later calls return
// what the first returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.sweeper.Stop()
		if c, ok := s.table.(io.Closer); ok {
			if err := c.Close(); err != nil {
				s.closeErr = fmt.Errorf("%s: close table %s: %w", s.pkg, s.name, err)
			}
		}
	})
	return s.closeErr
}

// check refuses calls on a closed store or with a done context before
// any round trip.
func (s *Store) check(ctx context.Context, what string) error {
	if s.closed.Load() {
		return fmt.Errorf("%s: %s on table %s: %w", s.pkg, what, s.name, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s on table %s: %w", s.pkg, what, s.name, err)
	}
	return nil
}

// checkKey is check for the calls that take a key, which must be one that
// sesame.ValidKey accepts.
func (s *Store) checkKey(ctx context.Context, what, key string) error {
	if !sesame.ValidKey(key) {
		return fmt.Errorf("%s: %s: %w", s.pkg, what, sesame.ErrInvalidKey)
	}
	return s.check(ctx, what)
}

// fail wraps an error from the database with what was being done, and
// with the context's error when the context ended meanwhile, so callers
// can test for context.DeadlineExceeded. Drivers' errors name the server
// and its message, never a password or the bound values.
func (s *Store) fail(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s: %s on %s, table %s: %w (%w)", s.pkg, what, s.server, s.name, err, cerr)
	}
	return fmt.Errorf("%s: %s on %s, table %s: %w", s.pkg, what, s.server, s.name, err)
}
