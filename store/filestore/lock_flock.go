//go:build unix && !aix && (!solaris || illumos)

package filestore

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// crossProcess reports whether lock files exclude other processes here.
const crossProcess = true

// lockFile is an open lock file, locked with flock(2). flock locks belong
// to the open file description, so two Stores in one process exclude each
// other as two processes do.
type lockFile struct {
	fd   int
	path string
}

// openLockFile opens (creating if needed, mode 0600) the lock file at path.
func openLockFile(path string) (lockFile, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return lockFile{fd: -1}, fmt.Errorf("filestore: opening lock file %s: %w", path, err)
		}
		return lockFile{fd: fd, path: path}, nil
	}
}

// lock takes an exclusive flock, polling with backoff so that ctx can end
// the wait.
func (l lockFile) lock(ctx context.Context) error {
	if l.fd < 0 {
		return ErrClosed
	}
	wait := minLockWait
	for {
		err := syscall.Flock(l.fd, syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return fmt.Errorf("filestore: locking %s: %w", l.path, err)
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return err
		}
		wait = min(2*wait, maxLockWait)
	}
}

// unlock releases the flock. LOCK_UN on an open descriptor can only be
// interrupted, so that is the one error it retries.
func (l lockFile) unlock() {
	for errors.Is(syscall.Flock(l.fd, syscall.LOCK_UN), syscall.EINTR) {
	}
}

// close closes the lock file, which also releases any lock on it.
func (l *lockFile) close() error {
	if l.fd < 0 {
		return nil
	}
	err := syscall.Close(l.fd)
	l.fd = -1
	if err != nil {
		return fmt.Errorf("filestore: closing lock file %s: %w", l.path, err)
	}
	return nil
}
