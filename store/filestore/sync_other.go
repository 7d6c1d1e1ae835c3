//go:build !unix

package filestore

import "os"

// syncDir does nothing here: this platform cannot fsync a directory, so
// SyncFull gives the guarantees of SyncFile.
func syncDir(*os.File) error { return nil }
