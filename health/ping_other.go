//go:build !linux

package health

import (
	"context"
	"fmt"
	"net"
	"runtime"
)

func listenICMP(ctx context.Context, v6 bool, c Conn) (net.PacketConn, bool, error) {
	return nil, false, fmt.Errorf("health: PING_CHECK is not supported on %s", runtime.GOOS)
}
