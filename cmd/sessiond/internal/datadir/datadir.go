// Package datadir keeps sessiond's data directory private and the files
// in it safe: secrets generated once, and files replaced atomically.
package datadir

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Mkdir creates dir (mode 0700) if it is missing.
func Mkdir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}

// Prepare creates the data directory (mode 0700), or makes an
// existing one private again: it holds the password hashes, the sessions
// and the keys. A directory open to others is made 0700 if it belongs to
// the user sessiond runs as, and refused if it belongs to someone else.
// It returns the mode it replaced, or 0 if it changed nothing.
func Prepare(dir string) (os.FileMode, error) {
	if err := Mkdir(dir); err != nil {
		return 0, err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("data directory: %w", err)
	}
	perm := st.Mode().Perm()
	if perm&0o077 == 0 || !hasUnixModes {
		return 0, nil
	}
	if !ownedByUs(st) {
		return 0, fmt.Errorf("data directory %s has mode %04o and belongs to another user: "+
			"make it private to the user sessiond runs as (chown, then chmod 700) or choose another --data-dir", dir, perm)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return 0, fmt.Errorf("data directory %s has mode %04o and could not be made 0700: %w", dir, perm, err)
	}
	return perm, nil
}

// RandomSecret is a generator for LoadOrCreateSecret: 32 random bytes.
func RandomSecret() (string, error) { return RandomString(32), nil }

// RandomString returns n random bytes, base64url-encoded without padding.
func RandomString(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error; it crashes the program
	// irrecoverably when the system's generator fails.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// LoadOrCreateSecret returns the secret kept in path, generating a random
// one (mode 0600) the first time. A secret file readable by others is made
// private again. created reports a new secret.
func LoadOrCreateSecret(path string, generate func() (string, error)) (secret string, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if err := tightenMode(path); err != nil {
			return "", false, err
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", false, fmt.Errorf("%s is empty: remove it to generate a new secret", path)
		}
		return s, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}
	s, err := generate()
	if err != nil {
		return "", false, err
	}
	if err := WriteFileAtomic(path, []byte(s+"\n"), true); err != nil {
		return "", false, err
	}
	return s, true, nil
}

// tightenMode makes path readable and writable by its owner only.
func tightenMode(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return os.Chmod(path, 0o600)
	}
	return nil
}

// WriteFileAtomic writes data to path (mode 0600) through a temporary file
// and a rename, so a reader sees the old file or the new one. With
// exclusive, an existing path is an error instead of being replaced.
func WriteFileAtomic(path string, data []byte, exclusive bool) error {
	tmp := path + ".tmp-" + RandomString(6)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if exclusive {
			// Link fails if path exists: two first runs racing keep one secret.
			if err = os.Link(tmp, path); err == nil {
				err = os.Remove(tmp)
				return err
			}
		} else {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
