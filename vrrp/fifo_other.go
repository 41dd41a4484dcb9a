//go:build !unix

package vrrp

import (
	"fmt"
	"runtime"

	"go.uber.org/zap"
)

type fifoWriter struct{}

func openFIFO(cfg FIFO, _ *zap.Logger) (*fifoWriter, error) {
	return nil, fmt.Errorf("vrrp: notify fifo %s: not supported on %s", cfg.Path, runtime.GOOS)
}

func (w *fifoWriter) write(string) {}
func (w *fifoWriter) close()       {}
