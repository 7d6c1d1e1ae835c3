package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/store/sweeper"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Defaults for the zero values in Config.
const (
	// DefaultSweepInterval is how often the background sweeper looks for
	// expired records when Config.SweepInterval is zero.
	DefaultSweepInterval = time.Minute

	// DefaultMaxBatch is the most writes one transaction commits when
	// Config.MaxBatch is zero.
	DefaultMaxBatch = 128

	// DefaultOpenTimeout is how long New waits for the file lock when
	// Config.OpenTimeout is zero.
	DefaultOpenTimeout = time.Second

	// DefaultCompactMinSize is the smallest file the sweeper compacts when
	// Config.CompactMinSize is zero: 16 MiB, the step in which bbolt grows
	// a file once it is that large. A smaller file grows in powers of two,
	// so up to half of it may lie unused past its last page anyway.
	DefaultCompactMinSize = 16 << 20

	// DefaultCompactFreeShare is the share of the file that must be free
	// before the sweeper compacts it, when Config.CompactFreeShare is zero.
	DefaultCompactFreeShare = 0.5
)

// MaxUserLen is the longest user name, in bytes, that Save accepts: the
// user index keys a record by its user and key, and bbolt keys are at most
// 32 KiB.
const MaxUserLen = bbolt.MaxKeySize - 1 - sesame.MaxKeyLen

// sweepBatch is the most expiry index entries one sweep transaction visits,
// so that a sweep never holds the write lock for long.
const sweepBatch = 1000

// Errors of this package, wrapped with the file name and the operation
// that failed. Test them with errors.Is.
var (
	// ErrClosed reports a call on a Store after Close.
	ErrClosed = errors.New("boltstore: store is closed")

	// ErrReadOnly reports a write to a Store opened with Config.ReadOnly.
	ErrReadOnly = errors.New("boltstore: store is read-only")

	// ErrCorrupt reports a stored record that cannot be decoded.
	ErrCorrupt = errors.New("boltstore: corrupt record")

	// ErrTooLarge reports a user name longer than MaxUserLen or a value
	// too large for one bbolt value.
	ErrTooLarge = errors.New("boltstore: too large")
)

// Config holds the options of a Store. Path is required; for every other
// field the zero value is the usual choice.
type Config struct {
	// Path names the bbolt file. New creates it (mode 0600) if it does not
	// exist.
	Path string

	// SweepInterval is how often a background goroutine removes expired
	// records. Zero means DefaultSweepInterval; a negative interval turns
	// the sweeper off (call Store.Sweep yourself, or never).
	SweepInterval time.Duration

	// MaxBatch is the most writes that one transaction, and so one fsync,
	// commits. Zero means DefaultMaxBatch.
	MaxBatch int

	// OpenTimeout is how long New waits for the file's lock, which another
	// Store (in this process or another) may hold. Zero means
	// DefaultOpenTimeout.
	OpenTimeout time.Duration

	// ReadOnly opens the file for reading only, sharing it with other
	// read-only Stores. Every write fails with ErrReadOnly and no sweeper
	// runs. The file must exist and have been created by this package.
	ReadOnly bool

	// CompactMinSize and CompactFreeShare decide when the background
	// sweeper compacts the file (see Store.Compact): after a sweep, if the
	// file has at least CompactMinSize bytes and at least CompactFreeShare
	// of them (between 0 and 1) are free (see Stats.FreeSize): free pages
	// and the part bbolt grew the file by ahead of need, the latter only
	// once bbolt has allocated no new page since the last sweep (a store
	// still growing is about to fill it). A compacted file
	// keeps only the pages it uses. bbolt reuses free pages
	// but never gives them back, so without compaction a file keeps the
	// size of its busiest hour. Zero means DefaultCompactMinSize and
	// DefaultCompactFreeShare; a negative CompactMinSize turns automatic
	// compaction off (Store.Compact still works).
	CompactMinSize   int64
	CompactFreeShare float64

	// Now is the clock the store reads to decide what has expired (Load,
	// Save, UserSessions and the sweeper). Nil means time.Now. A test that
	// saves records with expiries from a clock of its own gives the store
	// the same one, so that both agree on whether a record has expired.
	Now func() time.Time
}

// Store is a sesame.Store and sesame.UserIndex kept in one bbolt file.
// It is safe for concurrent use. New makes one; Close releases it.
type Store struct {
	path     string
	cfg      Config
	readOnly bool

	// db is the open file, and pageSize its page size. Compact replaces
	// both; it holds writeMu throughout and dbMu's write lock while it
	// swaps them. Every read transaction holds dbMu's read lock (see view),
	// every write transaction holds writeMu (see update), so every
	// transaction runs on the file that is current and none is lost.
	dbMu     sync.RWMutex
	writeMu  sync.Mutex
	db       *bbolt.DB
	pageSize int

	compactions atomic.Int64 // files compacted since New, for Stats
	// autoCompactPause is how many more sweeps pass without automatic
	// compaction, after one failed. Guarded by writeMu.
	autoCompactPause int
	// sweptAllocated is the end of bbolt's last allocated page at the
	// last automatic compaction check. Guarded by writeMu.
	sweptAllocated int64

	// mu guards sending on reqs against Close closing it.
	mu     sync.RWMutex
	closed atomic.Bool
	reqs   chan *request // to the committer; nil when read-only

	commits atomic.Int64 // transactions the committer ran, for tests

	sweeper   *sweeper.Sweeper // nil if none runs
	wg        sync.WaitGroup   // the committer
	closeOnce sync.Once
	closeErr  error
}

var (
	_ sesame.Store     = (*Store)(nil)
	_ sesame.UserIndex = (*Store)(nil)
)

// New opens the bbolt file at cfg.Path, creating it (mode 0600) and its
// buckets if it does not exist, and starts the store's committer and
// sweeper. A file stays locked until Close: a second New on the same path,
// in this process or another, fails after Config.OpenTimeout (unless both
// are read-only).
func New(cfg Config) (*Store, error) {
	path := cfg.Path
	if path == "" {
		return nil, errors.New("boltstore: Config.Path is empty")
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.OpenTimeout <= 0 {
		cfg.OpenTimeout = DefaultOpenTimeout
	}
	if cfg.CompactMinSize == 0 {
		cfg.CompactMinSize = DefaultCompactMinSize
	}
	if cfg.CompactFreeShare == 0 {
		cfg.CompactFreeShare = DefaultCompactFreeShare
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if !(cfg.CompactFreeShare > 0 && cfg.CompactFreeShare <= 1) {
		return nil, fmt.Errorf("boltstore: open %s: Config.CompactFreeShare is %v; want a share between 0 and 1", path, cfg.CompactFreeShare)
	}
	db, err := openLocked(path, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.ReadOnly {
		err = db.View(func(tx *bbolt.Tx) error {
			for _, name := range [][]byte{recordsBucket, expiryBucket, usersBucket} {
				if tx.Bucket(name) == nil {
					return fmt.Errorf("bucket %q is missing: not a file this package created", name)
				}
			}
			return nil
		})
	} else {
		err = db.Update(func(tx *bbolt.Tx) error {
			for _, name := range [][]byte{recordsBucket, expiryBucket, usersBucket} {
				if _, err := tx.CreateBucketIfNotExists(name); err != nil {
					return fmt.Errorf("create bucket %q: %w", name, err)
				}
			}
			return nil
		})
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}

	s := &Store{db: db, pageSize: db.Info().PageSize, path: path, cfg: cfg, readOnly: cfg.ReadOnly}
	if !cfg.ReadOnly {
		removeCompactLeftovers(path)
		s.reqs = make(chan *request, cfg.MaxBatch)
		s.wg.Add(1)
		go s.commitLoop()
		if cfg.SweepInterval > 0 {
			// Errors are not fatal, and not reported: the next tick
			// tries again. A sweep is not cut short at the next tick.
			s.sweeper = sweeper.Start(cfg.SweepInterval, func(ctx context.Context) error {
				if _, err := s.Sweep(ctx); err != nil {
					return err
				}
				return s.compactIfMostlyFree(ctx)
			}, nil, sweeper.WithoutTimeout())
		}
	}
	return s, nil
}

// openLocked opens the bbolt file at path once it holds the file's lock.
// It also makes sure that the file it locked is still the one at path:
// while it waited for the lock, the Store holding it may have compacted
// the file, which puts a new file in its place and then lets go of the
// old one's lock. Then it opens the new file instead.
func openLocked(path string, cfg Config) (*bbolt.DB, error) {
	for {
		before, statErr := os.Stat(path)
		db, err := bbolt.Open(path, 0o600, boltOptions(cfg))
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("boltstore: open %s: the file is locked by another Store or process (waited %v): %w", path, cfg.OpenTimeout, err)
		}
		if err != nil {
			return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
		}
		// db is the file at path, unless the name held a file before
		// New and holds another one now: a compaction replaced it while
		// New waited. (A file that did not exist before, New created.)
		after, err := os.Stat(path)
		if statErr != nil || (err == nil && os.SameFile(before, after)) {
			return db, nil
		}
		if err := db.Close(); err != nil {
			return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
		}
	}
}

// boltOptions are the options of every bbolt file a Store opens.
func boltOptions(cfg Config) *bbolt.Options {
	return &bbolt.Options{
		Timeout:  cfg.OpenTimeout,
		ReadOnly: cfg.ReadOnly,
		// As etcd does: commits do not write the free page list, which
		// makes each fsync cover fewer pages; New rebuilds the list by
		// scanning the file instead.
		NoFreelistSync: true,
		FreelistType:   bbolt.FreelistMapType,
	}
}

// view runs fn in a read transaction of the current file.
func (s *Store) view(fn func(*bbolt.Tx) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.db.View(fn)
}

// update runs fn in a write transaction of the current file.
func (s *Store) update(fn func(*bbolt.Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.db.Update(fn)
}

// Path returns the file name the Store was opened with.
func (s *Store) Path() string { return s.path }

// Load returns the value and version stored under key. An expired record
// is reported as sesame.ErrNotFound even before the sweeper removes it.
// Loads read a consistent snapshot without waiting for writers.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := s.check(ctx, "load", key); err != nil {
		return nil, 0, err
	}
	var (
		value   []byte
		version uint64
		found   bool
	)
	err := s.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(recordsBucket).Get([]byte(key))
		if b == nil {
			return nil
		}
		h, v, err := decodeRecord(b)
		if err != nil {
			return err
		}
		if h.expired(uint64(s.cfg.Now().UnixNano())) {
			return nil
		}
		value = make([]byte, len(v)) // bbolt's memory lives only as long as the transaction
		copy(value, v)
		version, found = h.version, true
		return nil
	})
	if err != nil {
		return nil, 0, s.wrap("load", err)
	}
	if !found {
		return nil, 0, fmt.Errorf("boltstore: load from %s: %w", s.path, sesame.ErrNotFound)
	}
	return value, version, nil
}

// Save stores value under key if the stored version equals version (0: no
// live record), and returns the new version. The write is durable (fsynced)
// when Save returns; concurrent writes share one transaction and one fsync.
// New versions come from a counter kept in the file, so they only grow,
// even across Delete and restarts.
func (s *Store) Save(ctx context.Context, key string, value []byte, version uint64, opts sesame.SaveOptions) (uint64, error) {
	if err := s.checkWrite(ctx, "save", key); err != nil {
		return 0, err
	}
	if len(opts.User) > MaxUserLen {
		return 0, fmt.Errorf("boltstore: save to %s: user name of %d bytes: %w (limit %d)", s.path, len(opts.User), ErrTooLarge, MaxUserLen)
	}
	if int64(headerSize)+int64(len(opts.User))+int64(len(value)) > bbolt.MaxValueSize {
		return 0, fmt.Errorf("boltstore: save to %s: value of %d bytes: %w", s.path, len(value), ErrTooLarge)
	}
	expires := unixNano(opts.ExpiresAt)
	rec := encodeRecord(0, expires, opts.User, value) // copies value; the version is set in the transaction
	k := []byte(key)
	return s.submit(ctx, "save", func(tx *bbolt.Tx) (uint64, error) {
		return saveTx(tx, k, rec, version, expires, opts.User, uint64(s.cfg.Now().UnixNano()))
	})
}

// saveTx is Save inside a write transaction. It changes nothing unless the
// condition holds, and returns a refusal when it does not. A stored record
// that expired by now counts as none.
func saveTx(tx *bbolt.Tx, key, rec []byte, version, expires uint64, user string, now uint64) (uint64, error) {
	recs := tx.Bucket(recordsBucket)
	var current uint64
	var oldExpiry, oldUser []byte
	var oldUserName string
	if old := recs.Get(key); old != nil {
		h, _, err := decodeRecord(old)
		if err != nil {
			return 0, refusal{err}
		}
		if !h.expired(now) {
			current = h.version
		}
		if h.expires != 0 {
			oldExpiry = expiryKey(h.expires, string(key))
		}
		if len(h.user) > 0 {
			oldUserName = string(h.user)
			oldUser = userKey(oldUserName, string(key))
		}
	}
	if current != version {
		if current == 0 {
			return 0, refusal{fmt.Errorf("%w: no live record, but the caller read version %d", sesame.ErrConflict, version)}
		}
		return 0, refusal{fmt.Errorf("%w: stored version %d, the caller read %d", sesame.ErrConflict, current, version)}
	}
	nv, err := recs.NextSequence()
	if err != nil {
		return 0, err
	}
	binary.BigEndian.PutUint64(rec[1:], nv)
	if oldExpiry != nil {
		if err := tx.Bucket(expiryBucket).Delete(oldExpiry); err != nil {
			return 0, err
		}
	}
	if oldUser != nil && user != oldUserName {
		if err := tx.Bucket(usersBucket).Delete(oldUser); err != nil {
			return 0, err
		}
	}
	if err := recs.Put(key, rec); err != nil {
		return 0, err
	}
	if expires != 0 {
		if err := tx.Bucket(expiryBucket).Put(expiryKey(expires, string(key)), nil); err != nil {
			return 0, err
		}
	}
	if user != "" && user != oldUserName {
		if err := tx.Bucket(usersBucket).Put(userKey(user, string(key)), nil); err != nil {
			return 0, err
		}
	}
	return nv, nil
}

// Delete removes the record under key and its index entries. Like Save, it
// is durable when it returns and shares transactions with concurrent
// writes.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkWrite(ctx, "delete", key); err != nil {
		return err
	}
	k := []byte(key)
	_, err := s.submit(ctx, "delete", func(tx *bbolt.Tx) (uint64, error) {
		return 0, deleteTx(tx, k)
	})
	return err
}

// deleteTx removes a record and whatever index entries its header names.
func deleteTx(tx *bbolt.Tx, key []byte) error {
	recs := tx.Bucket(recordsBucket)
	old := recs.Get(key)
	if old == nil {
		return nil
	}
	if h, _, err := decodeRecord(old); err == nil {
		// A corrupt record is deleted all the same; the sweeper drops its
		// expiry entry, and UserSessions skips a user entry without record.
		if h.expires != 0 {
			if err := tx.Bucket(expiryBucket).Delete(expiryKey(h.expires, string(key))); err != nil {
				return err
			}
		}
		if len(h.user) > 0 {
			if err := tx.Bucket(usersBucket).Delete(userKey(string(h.user), string(key))); err != nil {
				return err
			}
		}
	}
	return recs.Delete(key)
}

// Close stops the committer (after it has committed every write already
// handed to it) and the sweeper, and closes the file. Calls after Close
// fail with ErrClosed; Close itself may be called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		if s.reqs != nil {
			close(s.reqs)
		}
		s.mu.Unlock()
		s.sweeper.Stop()
		s.wg.Wait()
		s.writeMu.Lock() // waits for a Compact in progress
		defer s.writeMu.Unlock()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltstore: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// check validates the arguments every call shares.
func (s *Store) check(ctx context.Context, op, key string) error {
	if !sesame.ValidKey(key) {
		return fmt.Errorf("boltstore: %s in %s: %w", op, s.path, sesame.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: %s in %s: %w", op, s.path, err)
	}
	if s.closed.Load() {
		return fmt.Errorf("boltstore: %s in %s: %w", op, s.path, ErrClosed)
	}
	return nil
}

// checkWrite is check for calls that write.
func (s *Store) checkWrite(ctx context.Context, op, key string) error {
	if err := s.check(ctx, op, key); err != nil {
		return err
	}
	if s.readOnly {
		return fmt.Errorf("boltstore: %s in %s: %w", op, s.path, ErrReadOnly)
	}
	return nil
}

// wrap says which file and operation an error from bbolt comes from,
// naming a closed database ErrClosed.
func (s *Store) wrap(op string, err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	if errors.Is(err, bolterrors.ErrDatabaseReadOnly) {
		err = ErrReadOnly
	}
	return fmt.Errorf("boltstore: %s in %s: %w", op, s.path, err)
}
