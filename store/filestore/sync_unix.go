//go:build unix

package filestore

import "os"

// syncDir flushes a directory's entries (renames and unlinks) to disk.
func syncDir(dir string) error {
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
