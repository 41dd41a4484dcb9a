//go:build !unix

package notify

import (
	"fmt"
	"runtime"
)

// FIFO is a notify FIFO; this system has none.
type FIFO struct{ path string }

// OpenFIFO refuses: notify FIFOs need a Unix system.
func OpenFIFO(spec FIFOSpec) (*FIFO, error) {
	return nil, fmt.Errorf("notify fifo %s: not supported on %s", spec.Path, runtime.GOOS)
}

// Path is the FIFO's path.
func (w *FIFO) Path() string { return w.path }

// Write never succeeds here.
func (w *FIFO) Write([]byte) error {
	return fmt.Errorf("notify fifo: not supported on %s", runtime.GOOS)
}

// Close does nothing here.
func (w *FIFO) Close() error { return nil }
