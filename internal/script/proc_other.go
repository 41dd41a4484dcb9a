//go:build !linux

package script

import "syscall"

// sysProcAttr puts a script in its own process group. Systems other than
// Linux have no parent-death signal; scripts are still killed by group at
// their timeout.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
