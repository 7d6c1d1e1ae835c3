//go:build unix

package users

import (
	"errors"
	"os"
	"syscall"
)

// lockUsersFile takes an exclusive lock on the users file at path for a
// read-modify-write, so that two `sessiond user` commands run at once
// cannot lose each other's change. The lock is an advisory flock on
// path + ".lock", which the kernel releases if the process dies.
func lockUsersFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}
