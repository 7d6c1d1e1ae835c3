//go:build unix

package datadir

import (
	"os"
	"syscall"
)

// hasUnixModes reports whether file modes say who may read a file.
const hasUnixModes = true

// ownedByUs reports whether the file st describes belongs to the user the
// process runs as.
func ownedByUs(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Geteuid()
}
