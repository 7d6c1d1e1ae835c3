package sessiondproc

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes the kernel kill the child (sessiond, or any server a
// harness starts) if the harness dies without stopping it (a crash,
// SIGKILL), so no server outlives a run.
func DieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
