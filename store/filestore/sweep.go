package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// tempMaxAge is how old a file in tmp/ must be before Sweep removes it. A
// Save keeps its temporary file for milliseconds; an old one was left by
// a crash.
const tempMaxAge = time.Hour

// relistInterval is how often Sweep lists the whole expiry directory
// even when it knows which minutes passed, to find markers that a Save
// stalled for over a minute put in a bucket already swept, or that other
// programs put there. The listing costs one entry per minute in which
// records expire, however many records there are.
const relistInterval = time.Hour

// maxBucketSteps bounds how many minutes Sweep steps through one by one;
// after a longer gap it lists the expiry directory instead.
const maxBucketSteps = 24 * 60

// SweepStats says what one Sweep did.
type SweepStats struct {
	Buckets   int // expiry buckets visited (past minutes that had a bucket)
	Examined  int // markers in those buckets, each one record looked at
	Expired   int // expired records removed
	Stale     int // markers removed whose record had gone or been renewed
	Corrupt   int // unreadable record files removed
	TempFiles int // temporary files removed that a crash left behind
}

// Sweep removes the records that have expired, the index markers that no
// longer match a record, and temporary files older than an hour. Its work
// is proportional to the records that expired since the last sweep, not
// to the records that exist: it visits only the expiry buckets of minutes
// that ended at least a minute ago, so a record is reclaimed one to two
// minutes after it expires. The first sweep of a Store, one after the
// clock jumped, and one an hour also list the expiry directory, which
// holds one bucket per minute in which records expire, however many
// records there are. Each record is checked again under its lock before it
// is removed, so a record renewed meanwhile survives.
//
// Sweep runs in the background (see Config.SweepInterval); it is exported so
// that tests and operators can run it when they like. Sweeps of one Store
// run one at a time; sweeps by several processes on one directory are
// safe. If ctx ends, Sweep stops early and the next one carries on.
func (s *Store) Sweep(ctx context.Context) (SweepStats, error) {
	var stats SweepStats
	if s.closed.Load() {
		return stats, ErrClosed
	}
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()

	now := s.now()
	// Buckets before current are due. The minute just ended is not: a
	// Save that read the clock in it may still be adding its marker.
	current := minuteOf(now.UnixNano()) - 1
	buckets, err := s.dueBuckets(current, now)
	if err != nil {
		return stats, err
	}
	var errs []error
	for _, m := range buckets {
		if err := ctx.Err(); err != nil {
			s.cursor = m // the next sweep starts here
			return stats, err
		}
		if err := s.sweepBucket(ctx, m, now.UnixNano(), &stats); err != nil {
			errs = append(errs, err)
			s.relist = true // come back to this bucket
		}
	}
	s.cursor = current
	if err := s.sweepTemp(now, &stats); err != nil {
		errs = append(errs, err)
	}
	if stats.Expired+stats.Corrupt > 0 {
		if err := s.syncData("sweep"); err != nil {
			errs = append(errs, err)
		}
	}
	return stats, errors.Join(errs...)
}

// dueBuckets returns the expiry buckets before current that may hold
// markers: the minutes since the last sweep or, when that is unknown or
// too long, or once every relistInterval as a safety net, the due buckets
// that the expiry directory lists.
func (s *Store) dueBuckets(current int64, now time.Time) ([]int64, error) {
	if s.cursor != 0 && !s.relist && s.cursor <= current && current-s.cursor <= maxBucketSteps &&
		now.Sub(s.listed) < relistInterval {
		buckets := make([]int64, 0, current-s.cursor)
		for m := s.cursor; m < current; m++ {
			buckets = append(buckets, m)
		}
		return buckets, nil
	}
	names, err := readNames(s.expiryDir)
	if err != nil {
		return nil, fmt.Errorf("filestore: sweep: listing %s: %w", s.expiryDir, err)
	}
	var buckets []int64
	for _, n := range names {
		if m, err := strconv.ParseInt(n, 10, 64); err == nil && m < current && n == strconv.FormatInt(m, 10) {
			buckets = append(buckets, m)
		}
	}
	slices.Sort(buckets)
	s.relist, s.listed = false, now
	return buckets, nil
}

// sweepBucket handles every marker in one due bucket, then removes the
// bucket if it is empty.
func (s *Store) sweepBucket(ctx context.Context, minute, now int64, stats *SweepStats) error {
	dir := s.bucketDir(minute)
	names, err := readNames(dir)
	if err != nil {
		return fmt.Errorf("filestore: sweep: listing %s: %w", dir, err)
	}
	if names == nil {
		return nil
	}
	stats.Buckets++
	var errs []error
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		marker := filepath.Join(dir, name)
		key, ok := keyOf(name)
		if !ok {
			_ = os.Remove(marker) // not ours; the bucket is going anyway
			continue
		}
		stats.Examined++
		if err := s.sweepRecord(ctx, key, name, marker, now, stats); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("filestore: sweep: removing bucket: %w", err))
	}
	return errors.Join(errs...)
}

// sweepRecord handles one marker of a due bucket: it removes the record
// if it has expired or cannot be read, and the marker in any case, unless
// something fails.
func (s *Store) sweepRecord(ctx context.Context, key, name, marker string, now int64, stats *SweepStats) error {
	st, err := s.lock(ctx, key)
	if err != nil {
		return fmt.Errorf("filestore: sweep: %w", err)
	}
	defer st.unlock()
	h, _, err := readRecord(s.dataPath(name))
	corrupt := errors.Is(err, ErrCorrupt)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		stats.Stale++
	case corrupt || err == nil && h.expired(now):
		// An unreadable record is removed too: nothing can load it, and
		// its marker says it should have expired by now.
		removed, err := s.removeRecord(name)
		switch {
		case err != nil:
			return fmt.Errorf("filestore: sweep: %w", err)
		case removed && corrupt:
			stats.Corrupt++
		case removed:
			stats.Expired++
		}
	case err != nil:
		return fmt.Errorf("filestore: sweep: %w", err)
	default:
		// Renewed: its marker is in a later bucket.
		stats.Stale++
	}
	if err := os.Remove(marker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("filestore: sweep: removing marker: %w", err)
	}
	return nil
}

// sweepTemp removes temporary files older than tempMaxAge. tmp/ holds
// only writes in progress and what crashes left, so listing it is cheap.
func (s *Store) sweepTemp(now time.Time, stats *SweepStats) error {
	entries, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return fmt.Errorf("filestore: sweep: listing %s: %w", s.tmpDir, err)
	}
	var errs []error
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < tempMaxAge {
			continue // gone already, or maybe a write in progress
		}
		err = os.Remove(filepath.Join(s.tmpDir, e.Name()))
		switch {
		case err == nil:
			stats.TempFiles++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, fmt.Errorf("filestore: sweep: removing temporary file: %w", err))
		}
	}
	return errors.Join(errs...)
}
