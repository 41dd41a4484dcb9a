package main

import (
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// budget caps what clients of ulvsd's listeners may hold, from the
// descriptor limit: whatever local users do to the metrics port or the
// control socket, the checkers, VRRP and the data path keep the rest. (The
// Go runtime has already raised the soft limit to the hard one.)
type budget struct {
	limit            uint64
	metrics, control int
}

func newBudget(log *zap.Logger) budget {
	b := budget{limit: 1024}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil {
		b.limit = lim.Cur
	}
	b.metrics = int(min(max(b.limit/16, 4), 64))
	b.control = int(min(max(b.limit/64, 2), 16))
	fields := []zap.Field{zap.Uint64("limit", b.limit), zap.Int("metrics_connections", b.metrics),
		zap.Int("control_connections", b.control)}
	if b.limit < 256 {
		log.Warn("descriptors: the limit is low for a director (each checker needs one while it checks)", fields...)
	} else {
		log.Info("descriptors", fields...)
	}
	return b
}
