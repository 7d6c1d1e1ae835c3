//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing here: only Linux can tie a child's life to
// its parent's. The load test still stops sessiond on every path it
// controls.
func dieWithParent(*exec.Cmd) {}
