package main

import (
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/internal/netcap"
)

// newBudget divides the descriptor limit between ulvsd's listeners
// (netcap.BudgetFor) and logs it. (The Go runtime has already raised the
// soft limit to the hard one.)
func newBudget(log *zap.Logger) netcap.Budget {
	limit := uint64(1024)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err == nil {
		limit = lim.Cur
	}
	b := netcap.BudgetFor(limit)
	fields := []zap.Field{zap.Uint64("limit", b.Limit), zap.Int("metrics_connections", b.Metrics),
		zap.Int("control_connections", b.Control)}
	if b.Limit < netcap.LowLimit {
		log.Warn("descriptors: the limit is low for a director (each checker needs one while it checks)", fields...)
	} else {
		log.Info("descriptors", fields...)
	}
	return b
}
