package health

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// sockopts returns a net.Dialer Control function that sets SO_BINDTODEVICE
// and SO_MARK, as keepalived's bind_if and fwmark do.
func sockopts(iface string, mark uint32) (func(network, address string, c syscall.RawConn) error, error) {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if iface != "" {
				if e := unix.BindToDevice(int(fd), iface); e != nil {
					serr = fmt.Errorf("health: bind to device %s: %w", iface, e)
					return
				}
			}
			if mark != 0 {
				if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark)); e != nil {
					serr = fmt.Errorf("health: set SO_MARK %d: %w", mark, e)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}, nil
}
