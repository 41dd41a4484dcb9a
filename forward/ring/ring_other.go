//go:build !linux

package ring

import (
	"errors"
	"runtime"
	"time"
)

var errUnsupported = errors.New("ring: AF_PACKET rings need Linux, not " + runtime.GOOS)

// ErrClosed is returned by Recv after Wake.
var ErrClosed = errors.New("ring: closed")

// Ring is unavailable on this system.
type Ring struct{}

// Open fails on this system.
func Open(Config) (*Ring, error) { return nil, errUnsupported }

// SetFilter fails on this system.
func (*Ring) SetFilter([]Instruction) error { return errUnsupported }

// Recv fails on this system.
func (*Ring) Recv([]Frame, time.Duration) (int, error) { return 0, errUnsupported }

// Release does nothing on this system.
func (*Ring) Release() {}

// Wake does nothing on this system.
func (*Ring) Wake() {}

// Stats fails on this system.
func (*Ring) Stats() (Stats, error) { return Stats{}, errUnsupported }

// Close does nothing on this system.
func (*Ring) Close() error { return nil }

// SenderConfig describes a Sender.
type SenderConfig struct {
	Batch                int
	VnetHdr, QdiscBypass bool
}

// Sender is unavailable on this system.
type Sender struct {
	Sent, Failed uint64
	LastErr      error
}

// NewSender fails on this system.
func NewSender(SenderConfig) (*Sender, error) { return nil, errUnsupported }

// Full reports true on this system.
func (*Sender) Full() bool { return true }

// Len returns 0 on this system.
func (*Sender) Len() int { return 0 }

// Add fails on this system.
func (*Sender) Add(int, *VnetHdr, []byte, []byte) bool { return false }

// Flush fails on this system.
func (*Sender) Flush() error { return errUnsupported }

// Close does nothing on this system.
func (*Sender) Close() error { return nil }
