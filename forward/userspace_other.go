//go:build !linux

package forward

import (
	"fmt"
	"runtime"
)

// NewUserspace fails: the userspace backend needs Linux AF_PACKET sockets.
func NewUserspace(*Config) (*Userspace, error) {
	return nil, fmt.Errorf("%w: the userspace forwarder needs Linux, not %s", ErrUnavailable, runtime.GOOS)
}

// Close does nothing on this system.
func (u *Userspace) Close() error { return nil }
