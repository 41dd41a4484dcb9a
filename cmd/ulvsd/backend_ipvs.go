package main

import (
	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
)

// newIPVSBackend opens the kernel IPVS backend.
func newIPVSBackend(log *zap.Logger) (forward.Backend, error) {
	return forward.New(forward.BackendIPVS, &forward.Config{Logger: log})
}
