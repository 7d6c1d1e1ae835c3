//go:build !unix || aix || (solaris && !illumos)

package filestore

import "context"

// crossProcess reports whether lock files exclude other processes here:
// this platform has no flock(2), so locking is in-process only and just
// one Store may use a directory at a time.
const crossProcess = false

// lockFile stands in for a lock file where there is no flock(2). It
// creates no file and excludes nothing beyond the Store's own mutexes.
type lockFile struct{}

func openLockFile(string) (lockFile, error) { return lockFile{}, nil }

func (lockFile) lock(context.Context) error { return nil }

func (lockFile) unlock() {}

func (*lockFile) close() error { return nil }
