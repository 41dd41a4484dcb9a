//go:build !linux

package tunnel

import (
	"context"
	"errors"
	"net/netip"
	"runtime"

	"go.uber.org/zap"
)

// Config configures a decapsulator.
type Config struct {
	Device string
	Addrs  []netip.Prefix
	Logger *zap.Logger
}

// Run fails: the decapsulator needs Linux TUN devices.
func Run(context.Context, Config) error {
	return errors.New("tunnel: the decapsulator needs Linux, not " + runtime.GOOS)
}
