//go:build unix

package dirsync

import "os"

// Sync flushes the entries of directory dir (renames, creations, unlinks)
// to disk.
func Sync(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
