//go:build !unix

package users

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// lockUsersFile takes an exclusive lock on the users file at path for a
// read-modify-write, so that two `sessiond user` commands run at once
// cannot lose each other's change. Without flock, the lock is the
// existence of path + ".lock", created exclusively; a command that dies
// holding it leaves it behind, and the next one says so after waiting.
func lockUsersFile(path string) (unlock func(), err error) {
	name := path + ".lock"
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(name) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s is locked by another sessiond user command; remove %s if none is running", path, name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
