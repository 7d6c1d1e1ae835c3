//go:build !unix

package dirsync

// Sync does nothing here: this platform cannot fsync a directory.
func Sync(string) error { return nil }
