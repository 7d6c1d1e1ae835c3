package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sesame-go/sesame/store/boltstore/internal/dirsync"
	"go.etcd.io/bbolt"
)

// Compaction.
//
// bbolt never shrinks its file: pages freed by deletes go to a free list
// and are reused, so a file keeps the size it had at its busiest. Compact
// copies what is live into a new file, in the same directory, and renames
// it over the old one. Writes wait while it copies (it holds writeMu), so
// the copy misses none; loads go on reading the old file, which stays
// valid until the swap. The new file is opened and fsynced before the
// rename, so at every moment the name holds a complete file, with or
// without the free pages, and the Store holds the lock of the file it
// uses. A failure before the rename removes the new file and leaves the
// Store on the old one.

// compactSuffix marks the temporary file of a compaction: the file's name,
// this, and a random number.
const compactSuffix = ".compact-"

// compactTxSize is how many bytes of keys and values Compact copies per
// transaction, to bound the memory the copy takes.
const compactTxSize = 32 << 20

// compactRetrySweeps is how many sweeps pass without automatic compaction
// after one failed, so that a failure that repeats (a full disk, say) does
// not cost a copy of the file at every sweep.
const compactRetrySweeps = 60

// Stats describes a Store's file.
type Stats struct {
	// FileSize is the size of the file, in bytes.
	FileSize int64

	// FreeSize is how many of those bytes hold nothing: pages on bbolt's
	// free list, and the tail of the file that bbolt has grown into ahead
	// of need but not yet used. bbolt uses both before it grows the file
	// again, and Compact gives them back to the file system.
	FreeSize int64

	// Compactions counts the files compacted since New, by the
	// background sweeper or by Compact.
	Compactions int64
}

// Stats returns the Store's file size, how much of it is free, and how
// many compactions it has done. It reads counters and begins one
// read-only transaction, which does not wait for writers.
func (s *Store) Stats() (Stats, error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.closed.Load() {
		return Stats{}, fmt.Errorf("boltstore: stats of %s: %w", s.path, ErrClosed)
	}
	return s.stats()
}

// stats is Stats for a caller that holds dbMu or writeMu.
func (s *Store) stats() (Stats, error) {
	st, _, _, err := s.usage()
	return st, err
}

// usage is stats, with the end of bbolt's last allocated page and the
// tail of the file beyond it, which FreeSize includes.
func (s *Store) usage() (st Stats, allocated, tail int64, err error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return Stats{}, 0, 0, s.wrap("stats", err)
	}
	// A read transaction sees the high-water mark: the end of the last
	// page bbolt has allocated. The file beyond it is free too.
	if err := s.db.View(func(tx *bbolt.Tx) error { allocated = tx.Size(); return nil }); err != nil {
		return Stats{}, 0, 0, s.wrap("stats", err)
	}
	db := s.db.Stats()
	tail = max(0, fi.Size()-allocated)
	return Stats{
		FileSize:    fi.Size(),
		FreeSize:    int64(db.FreePageN+db.PendingPageN)*int64(s.pageSize) + tail,
		Compactions: s.compactions.Load(),
	}, allocated, tail, nil
}

// Compact rewrites the file without its free pages: it copies every record
// and index entry into a new file beside it (named after it, with
// ".compact-" and a number), fsyncs it, and renames it over the old file.
// The background sweeper calls it by itself when the file is large and
// mostly free (see Config.CompactMinSize); call it yourself to give space
// back at once, after deleting many sessions, say.
//
// Loads go on during Compact, from the old file until the new one is in
// place. Writes (Save, Delete, DeleteUser, Sweep) wait until it is done,
// which takes about as long as reading and writing what is live. If ctx
// is done before Compact begins, it does nothing; once begun, it
// finishes. If it fails (the directory is not writable, the disk is full,
// the rename fails), it removes the new file, returns the error, and the
// Store goes on with the old file. A crash midway leaves the temporary
// file behind; the next New removes it.
func (s *Store) Compact(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("boltstore: compact %s: %w", s.path, err)
	}
	if s.readOnly {
		return fmt.Errorf("boltstore: compact %s: %w", s.path, ErrReadOnly)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return fmt.Errorf("boltstore: compact %s: %w", s.path, ErrClosed)
	}
	return s.compact()
}

// compactIfMostlyFree compacts the file when Config.CompactMinSize and
// Config.CompactFreeShare say that it is worth it. The background sweeper
// calls it after each sweep.
func (s *Store) compactIfMostlyFree(ctx context.Context) error {
	if s.cfg.CompactMinSize < 0 {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() || ctx.Err() != nil {
		return nil
	}
	if s.autoCompactPause > 0 {
		s.autoCompactPause--
		return nil
	}
	st, allocated, tail, err := s.usage()
	if err != nil {
		return err
	}
	// While bbolt allocates pages past the last check's, the store is
	// growing into its tail: that is room about to be filled, not room to
	// give back. Counted, it made a store that only grows compact after
	// every growth of the file, its writes waiting each time.
	free := st.FreeSize
	if allocated > s.sweptAllocated {
		free -= tail
	}
	s.sweptAllocated = allocated
	if st.FileSize < s.cfg.CompactMinSize || float64(free) < s.cfg.CompactFreeShare*float64(st.FileSize) {
		return nil
	}
	if err := s.compact(); err != nil {
		s.autoCompactPause = compactRetrySweeps
		return err
	}
	return nil
}

// compact is Compact for a caller that holds writeMu.
func (s *Store) compact() error {
	dir := filepath.Dir(s.path)
	f, err := os.CreateTemp(dir, filepath.Base(s.path)+compactSuffix+"*")
	if err != nil {
		return s.wrap("compact", err)
	}
	tmp := f.Name()
	dst, err := s.copyTo(f)
	if err == nil {
		err = os.Rename(tmp, s.path)
		if err != nil {
			err = errors.Join(err, dst.Close())
		}
	}
	if err != nil {
		return s.wrap("compact", errors.Join(err, os.Remove(tmp)))
	}

	s.dbMu.Lock()
	old := s.db
	s.db, s.pageSize = dst, dst.Info().PageSize
	s.dbMu.Unlock()
	s.compactions.Add(1)
	// The Store works on the new file from here on, whatever happens to
	// the old one; without the directory's fsync a crash could bring the
	// old name back, with the writes since this swap missing.
	if err := errors.Join(dirsync.Sync(dir), old.Close()); err != nil {
		return s.wrap("compact", fmt.Errorf("the compacted file is in use, but: %w", err))
	}
	return nil
}

// copyTo copies the current file into the empty file f, which it closes,
// and returns f opened again as a bbolt file, with everything on disk. On error
// it leaves the file for the caller to remove.
func (s *Store) copyTo(f *os.File) (*bbolt.DB, error) {
	// The copy keeps the mode the file has now, which may not be New's.
	fi, err := os.Stat(s.path)
	if err == nil {
		err = f.Chmod(fi.Mode().Perm())
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, err
	}
	opts := boltOptions(s.cfg)
	opts.NoSync = true // the copy is fsynced once, at its end
	dst, err := bbolt.Open(f.Name(), 0o600, opts)
	if err != nil {
		return nil, err
	}
	err = bbolt.Compact(dst, s.db, compactTxSize)
	var used int64
	if err == nil {
		err = dst.View(func(tx *bbolt.Tx) error { used = tx.Size(); return nil })
	}
	if err = errors.Join(err, dst.Close()); err != nil {
		return nil, err
	}
	// bbolt grew the copy ahead of need, in powers of two; cut it to what
	// it uses, so that right after a compaction nothing of the file is
	// free and the sweeper does not compact it again. bbolt grows it
	// again when it needs to.
	if err := truncateSync(f.Name(), used); err != nil {
		return nil, err
	}
	opts.NoSync = false
	return bbolt.Open(f.Name(), 0o600, opts)
}

// truncateSync cuts the file at path to size bytes and writes that to disk.
func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// removeCompactLeftovers removes the temporary files of compactions of
// path that a crash interrupted. The caller holds path's lock, so no
// compaction of it is running. Errors are ignored: a leftover costs only
// disk space, and the next New tries again.
func removeCompactLeftovers(path string) {
	dir, prefix := filepath.Dir(path), filepath.Base(path)+compactSuffix
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
