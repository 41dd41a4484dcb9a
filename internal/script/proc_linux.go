package script

import "syscall"

// sysProcAttr puts a script in its own process group and has the kernel
// send it SIGTERM if ulvsd dies, as keepalived's PR_SET_PDEATHSIG does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
