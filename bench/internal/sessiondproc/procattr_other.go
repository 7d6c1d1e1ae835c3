//go:build !linux

package sessiondproc

import "os/exec"

// DieWithParent does nothing here: only Linux can tie a child's life to
// its parent's. The harness still stops sessiond on every path it
// controls.
func DieWithParent(*exec.Cmd) {}
