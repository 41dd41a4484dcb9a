//go:build !linux

package ipvs

import (
	"fmt"
	"runtime"

	"github.com/ulvs/ulvs/forward"
)

// New fails: kernel IPVS exists only on Linux.
func New(cfg *Config) (*Backend, error) {
	return nil, fmt.Errorf("forward/ipvs: kernel IPVS is not supported on %s: %w", runtime.GOOS, forward.ErrUnavailable)
}
