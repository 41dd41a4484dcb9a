//go:build !linux

package health

import (
	"fmt"
	"runtime"
	"syscall"
)

func sockopts(iface string, mark uint32) (func(network, address string, c syscall.RawConn) error, error) {
	return nil, fmt.Errorf("health: bind_if and fwmark are not supported on %s", runtime.GOOS)
}
