package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill sessiond if the load test dies
// without stopping it (a crash, SIGKILL), so no server outlives a run.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
