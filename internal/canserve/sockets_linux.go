package canserve

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Sockets is a probe that opens (and closes) a TCP socket, as a health
// checker must for every check: it fails while this process cannot, out
// of descriptors (EMFILE), or the system out of files or buffers.
func Sockets() Probe { return ProbeFunc{ProbeName: "sockets", Fn: checkSockets} }

func checkSockets() string {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		return ""
	}
	var lim unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	return fmt.Sprintf("cannot open a socket (%v; descriptor limit %d): the checkers cannot connect",
		os.NewSyscallError("socket", err), lim.Cur)
}
