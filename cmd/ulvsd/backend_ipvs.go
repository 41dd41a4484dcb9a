package main

import (
	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/forward/ipvs"
)

// newIPVSBackend opens the kernel IPVS backend (moby/ipvs over netlink). On
// a kernel without ip_vs it fails at once with a message saying so, never
// forwarding nothing in silence.
func newIPVSBackend(o *options, flush bool, log *zap.Logger) (forward.Backend, error) {
	return ipvs.New(&ipvs.Config{Flush: flush, KeepOnClose: o.dontRelIPVS, Logger: log})
}
