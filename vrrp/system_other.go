//go:build !linux

package vrrp

import (
	"fmt"
	"runtime"

	"go.uber.org/zap"
)

func systemDefaults(*zap.Logger) (Network, System, error) {
	return nil, nil, fmt.Errorf("vrrp: raw sockets and netlink are not supported on %s; give Config.Network and Config.System", runtime.GOOS)
}
