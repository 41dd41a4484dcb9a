package ctl

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// checkPeer lets root and the daemon's own user in. The socket's mode
// (0600) already keeps others out; this holds even where the mode was
// loosened by hand or the socket sits in a directory others can reach.
func checkPeer(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("ctl: peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("ctl: peer credentials: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("ctl: peer credentials: %w", serr)
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Geteuid() {
		return fmt.Errorf("ctl: permission denied: uid %d is not root (pid %d)", cred.Uid, cred.Pid)
	}
	return nil
}
