//go:build !unix

package filestore

// syncDir does nothing here: this platform cannot fsync a directory, so
// SyncFull gives the guarantees of SyncFile.
func syncDir(string) error { return nil }
