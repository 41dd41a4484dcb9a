//go:build !linux

package vrrp

import (
	"fmt"
	"runtime"
)

func openProcConnector() (procEvents, error) {
	return nil, fmt.Errorf("vrrp: process events are not supported on %s", runtime.GOOS)
}
