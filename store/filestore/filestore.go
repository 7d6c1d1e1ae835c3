package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesame-go/sesame"
	"github.com/sesame-go/sesame/internal/dirsync"
	"github.com/sesame-go/sesame/store/sweeper"
)

// ErrClosed reports a call on a Store after Close.
var ErrClosed = errors.New("filestore: store is closed")

// DefaultSweepInterval is how often a Store reclaims expired records when
// Config.SweepInterval is zero.
const DefaultSweepInterval = 5 * time.Minute

// Durability says what a Save or Delete waits to reach the disk before it
// returns. Every level keeps writes atomic: other readers, and a process
// that crashes, see the old record or the new one, never a mixture.
type Durability int

const (
	// SyncFull fsyncs each record file before renaming it into place and
	// fsyncs the data directory after each rename and delete, so that a
	// Save or Delete that returned survives a power failure. This is the
	// default. Index markers (expiry and user) are not fsynced: after a
	// power failure an expired record may stay on disk until it is saved
	// or deleted again, but Load never returns it.
	SyncFull Durability = iota

	// SyncFile fsyncs record files but not the directory. After a power
	// failure a record is whole, but the latest Saves and Deletes may be
	// undone: a deleted record may come back (until it expires).
	SyncFile

	// SyncNone never fsyncs. After a power failure records may be
	// truncated (Load reports ErrCorrupt) or lost, and deletes undone. It
	// suits tests, tmpfs, and caches that can lose their contents.
	SyncNone
)

// String returns the constant's name.
func (d Durability) String() string {
	switch d {
	case SyncFull:
		return "SyncFull"
	case SyncFile:
		return "SyncFile"
	case SyncNone:
		return "SyncNone"
	}
	return "Durability(" + strconv.Itoa(int(d)) + ")"
}

// Config configures a Store. Dir is required; for every other field the
// zero value is the usual choice.
type Config struct {
	// Dir is the directory the Store keeps its files below (see the
	// package documentation for what it holds). New creates it and its
	// subdirectories with mode 0700 if they are missing; an existing Dir
	// keeps its mode.
	Dir string

	// SweepInterval is how often the background sweeper runs Sweep; it
	// also sweeps once as soon as New returns. Zero means
	// DefaultSweepInterval; a negative interval starts no sweeper, and
	// expired records are then reclaimed only when Sweep is called.
	SweepInterval time.Duration

	// Durability says what Save and Delete wait for. The zero value is
	// SyncFull.
	Durability Durability

	// SweepErrors, if set, is called with each error of a background
	// sweep, for logging, on the sweeper's goroutine. Without it those
	// errors are dropped; the next sweep retries what failed.
	SweepErrors func(error)
}

// Store is a sesame.Store and sesame.UserIndex that keeps one file per
// record below a directory. Create it with New and call Close when done.
// Its methods are safe for concurrent use.
type Store struct {
	durability Durability
	now        func() time.Time // the clock; tests replace it
	dataDir    string
	tmpDir     string
	expiryDir  string
	usersDir   string
	stripes    [numLocks]stripe

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	sweeper   *sweeper.Sweeper // nil if none runs

	sweepMu sync.Mutex // serializes sweeps and guards the fields below
	cursor  int64      // first expiry bucket not yet swept; 0 if unknown
	relist  bool       // the next sweep must list every bucket
	listed  time.Time  // when a sweep last listed every bucket
}

var (
	_ sesame.Store     = (*Store)(nil)
	_ sesame.UserIndex = (*Store)(nil)
)

// New opens a Store that keeps its files below cfg.Dir, creating the
// directory and its subdirectories if they are missing. Unless
// cfg.SweepInterval is negative, New starts a goroutine that sweeps
// expired records now and every interval; Close stops it.
func New(cfg Config) (*Store, error) {
	return newStore(cfg, time.Now)
}

// newStore is New with the clock the Store reads.
func newStore(cfg Config, now func() time.Time) (*Store, error) {
	if cfg.Durability < SyncFull || cfg.Durability > SyncNone {
		return nil, fmt.Errorf("filestore: unknown durability %d", int(cfg.Durability))
	}
	if cfg.Dir == "" {
		return nil, errors.New("filestore: Config.Dir is empty")
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	dir := cfg.Dir
	s := &Store{
		durability: cfg.Durability,
		now:        now,
		dataDir:    filepath.Join(dir, "data"),
		tmpDir:     filepath.Join(dir, "tmp"),
		expiryDir:  filepath.Join(dir, "expiry"),
		usersDir:   filepath.Join(dir, "users"),
	}
	lockDir := filepath.Join(dir, "locks")
	for _, d := range []string{dir, s.dataDir, s.tmpDir, s.expiryDir, s.usersDir, lockDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("filestore: creating directory: %w", err)
		}
	}
	for i := range s.stripes {
		st := &s.stripes[i]
		st.mu = make(chan struct{}, 1)
		var err error
		st.file, err = openLockFile(filepath.Join(lockDir, fmt.Sprintf("%02d", i)))
		if err != nil {
			s.closeFiles()
			return nil, err
		}
	}
	if cfg.SweepInterval > 0 {
		// Sweep now and every interval. A sweep is not cut short at the
		// next tick: one that stops early only leaves its buckets to the
		// next.
		s.sweeper = sweeper.Start(cfg.SweepInterval, func(ctx context.Context) error {
			_, err := s.Sweep(ctx)
			return err
		}, cfg.SweepErrors, sweeper.Immediately(), sweeper.WithoutTimeout())
	}
	return s, nil
}

// Close stops the background sweeper, waiting for it to return, and
// closes the Store's files. Calls that start after Close return ErrClosed;
// calls in progress finish first. Close may be called more than once; the
// later calls return what the first returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.sweeper.Stop()
		s.closeErr = s.closeFiles()
	})
	return s.closeErr
}

// closeFiles closes the lock files, waiting for each stripe's holder.
func (s *Store) closeFiles() error {
	var errs []error
	for i := range s.stripes {
		st := &s.stripes[i]
		if st.mu == nil {
			break // New failed before this stripe
		}
		st.mu <- struct{}{}
		errs = append(errs, st.file.close())
		<-st.mu
	}
	return errors.Join(errs...)
}

// keyEnc names files after keys: lower-case base32hex sorts like the keys'
// bytes and is safe on case-insensitive file systems.
var keyEnc = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// fileName returns the file name for a key that ValidKey accepted.
func fileName(key string) string {
	return keyEnc.EncodeToString([]byte(key))
}

// keyOf returns the key a file name stands for, if it is a name fileName
// makes for a valid key.
func keyOf(name string) (string, bool) {
	b, err := keyEnc.DecodeString(name)
	if err != nil {
		return "", false
	}
	key := string(b)
	if !sesame.ValidKey(key) || fileName(key) != name {
		return "", false
	}
	return key, true
}

// checkKey is the first thing every keyed method does: no path is built
// from a key it has not accepted.
func (s *Store) checkKey(ctx context.Context, op, key string) error {
	if !sesame.ValidKey(key) {
		// The key itself is not quoted: it is caller input.
		return fmt.Errorf("filestore: %s: key of %d bytes: %w", op, len(key), sesame.ErrInvalidKey)
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

func (s *Store) dataPath(name string) string {
	return filepath.Join(s.dataDir, name)
}

func (s *Store) bucketDir(minute int64) string {
	return filepath.Join(s.expiryDir, strconv.FormatInt(minute, 10))
}

// userDir returns the index directory of a user, named by a hash so that
// no user name reaches the file system.
func (s *Store) userDir(user string) string {
	sum := sha256.Sum256([]byte(user))
	return filepath.Join(s.usersDir, hex.EncodeToString(sum[:]))
}

// readRecord reads and parses a record file. It returns an error wrapping
// fs.ErrNotExist if there is none, and one wrapping ErrCorrupt if it
// cannot be parsed.
func readRecord(path string) (header, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return header{}, nil, err
	}
	h, v, err := decodeRecord(b)
	if err != nil {
		return header{}, nil, fmt.Errorf("%w %s: %v", ErrCorrupt, path, err)
	}
	return h, v, nil
}

// Load returns the value and version stored under key. It returns an
// error wrapping sesame.ErrNotFound if there is no record or the record
// has expired, and one wrapping ErrCorrupt if the record file is damaged.
// The value is the caller's; the Store keeps no reference to it.
func (s *Store) Load(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := s.checkKey(ctx, "load", key); err != nil {
		return nil, 0, err
	}
	path := s.dataPath(fileName(key))
	h, v, err := readRecord(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, 0, fmt.Errorf("filestore: load %s: %w", path, sesame.ErrNotFound)
	case err != nil:
		return nil, 0, fmt.Errorf("filestore: load: %w", err)
	case h.expired(s.now().UnixNano()):
		return nil, 0, fmt.Errorf("filestore: load %s: expired: %w", path, sesame.ErrNotFound)
	}
	return v, h.version, nil
}

// Save stores value under key if the live record there has the given
// version, version 0 meaning that there must be none (an expired record
// counts as none). It returns the new version, or an error wrapping
// sesame.ErrConflict and changes nothing. A damaged record file is not
// overwritten: Save returns an error wrapping ErrCorrupt, and Delete
// removes the file.
//
// opts.ExpiresAt is checked by Load and used by Sweep; the zero time means
// the record never expires. The record is filed under opts.User, if not
// empty, for UserSessions and DeleteUser.
func (s *Store) Save(ctx context.Context, key string, value []byte, version uint64, opts sesame.SaveOptions) (uint64, error) {
	if err := s.checkKey(ctx, "save", key); err != nil {
		return 0, err
	}
	st, err := s.lock(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("filestore: save: %w", err)
	}
	defer st.unlock()

	name := fileName(key)
	path := s.dataPath(name)
	old, _, err := readRecord(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("filestore: save: %w", err)
	}
	now := s.now().UnixNano()
	var current uint64
	if exists && !old.expired(now) {
		current = old.version
	}
	if current != version {
		return 0, fmt.Errorf("filestore: save %s: %w", path, sesame.ErrConflict)
	}

	newVersion := rand.Uint64() >> 1
	for newVersion == 0 || newVersion == version || newVersion == old.version {
		newVersion = rand.Uint64() >> 1
	}
	expires := unixNano(opts.ExpiresAt)
	rec, err := encodeRecord(newVersion, expires, opts.User, value)
	if err != nil {
		return 0, fmt.Errorf("filestore: save %s: %w", path, err)
	}

	// Markers go in before the record, so that a crash never leaves a
	// record that Sweep cannot find; markers without their record are
	// harmless and removed when met.
	bucket := int64(-1)
	if expires != 0 {
		// A record that is already expired goes in the current minute:
		// Sweep may have done the past ones.
		bucket = max(minuteOf(expires), minuteOf(now))
	}
	oldBucket := int64(-1)
	if exists && old.expires != 0 {
		oldBucket = minuteOf(old.expires)
	}
	if bucket >= 0 && bucket != oldBucket {
		if err := createMarker(s.bucketDir(bucket), name); err != nil {
			return 0, err
		}
	}
	sameUser := exists && string(old.user) == opts.User
	if opts.User != "" && !sameUser {
		if err := createMarker(s.userDir(opts.User), name); err != nil {
			return 0, err
		}
	}
	if err := s.writeRecord(name, rec); err != nil {
		return 0, err
	}
	// The old markers are no longer true. Failing to remove one is not a
	// failed Save: Sweep and the user index drop stale markers.
	if oldBucket >= 0 && oldBucket != bucket {
		_ = os.Remove(filepath.Join(s.bucketDir(oldBucket), name))
	}
	if exists && len(old.user) > 0 && !sameUser {
		s.removeUserMarker(string(old.user), name)
	}
	return newVersion, nil
}

// writeRecord writes rec to tmp/, fsyncs it (unless SyncNone), renames it
// to data/name and fsyncs data/ (if SyncFull).
func (s *Store) writeRecord(name string, rec []byte) error {
	f, err := os.CreateTemp(s.tmpDir, name+".*")
	if err != nil {
		return fmt.Errorf("filestore: save: creating temporary file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(rec)
	if err == nil && s.durability != SyncNone {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.dataPath(name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("filestore: save: writing record: %w", err)
	}
	return s.syncData("save")
}

// syncData fsyncs the data directory if the durability asks for it.
func (s *Store) syncData(op string) error {
	if s.durability != SyncFull {
		return nil
	}
	// Where a directory cannot be fsynced, dirsync.Sync does nothing and
	// SyncFull gives the guarantees of SyncFile.
	if err := dirsync.Sync(s.dataDir); err != nil {
		return fmt.Errorf("filestore: %s: syncing directory %s: %w", op, s.dataDir, err)
	}
	return nil
}

// Delete removes the record under key and its index markers. Deleting a
// key that has no record is not an error. A damaged record file is
// removed too.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey(ctx, "delete", key); err != nil {
		return err
	}
	st, err := s.lock(ctx, key)
	if err != nil {
		return fmt.Errorf("filestore: delete: %w", err)
	}
	defer st.unlock()
	removed, err := s.removeRecord(fileName(key))
	if err != nil || !removed {
		return err
	}
	return s.syncData("delete")
}

// removeRecord removes data/name and, as far as the file tells, its
// markers. It reports whether there was a file. The caller holds the
// key's lock.
func (s *Store) removeRecord(name string) (bool, error) {
	path := s.dataPath(name)
	h, _, err := readRecord(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return false, fmt.Errorf("filestore: delete: %w", err)
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("filestore: delete: %w", err)
	}
	// Markers of a corrupt file are unknown; they are stale now and get
	// dropped when met.
	if h.expires != 0 {
		_ = os.Remove(filepath.Join(s.bucketDir(minuteOf(h.expires)), name))
	}
	if len(h.user) > 0 {
		s.removeUserMarker(string(h.user), name)
	}
	return true, nil
}

// createMarker creates the empty file dir/name, creating dir if needed.
// It retries if dir vanishes in between: another goroutine or
// process removes index directories when they become empty.
func createMarker(dir, name string) error {
	var err error
	for range 3 {
		if err = os.MkdirAll(dir, 0o700); err != nil {
			break
		}
		var f *os.File
		f, err = os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE, 0o600)
		if err == nil {
			err = f.Close()
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("filestore: save: writing index marker: %w", err)
	}
	return nil
}

// removeUserMarker removes a record's marker from a user's index, and the
// index directory if that leaves it empty. Failures leave a stale marker,
// which UserSessions and DeleteUser drop.
func (s *Store) removeUserMarker(user, name string) {
	dir := s.userDir(user)
	if os.Remove(filepath.Join(dir, name)) == nil {
		_ = os.Remove(dir) // fails harmlessly if other markers remain
	}
}

// readNames returns the names in dir, or none if dir does not exist.
func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return names, err
}
