//go:build unix

package filestore

import "os"

// syncDir flushes a directory's entries (renames and unlinks) to disk.
func syncDir(d *os.File) error { return d.Sync() }
