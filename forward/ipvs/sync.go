package ipvs

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
)

// daemonSettle is how long a kernel sync daemon runs before it is stopped.
const daemonSettle = time.Second

// daemoner is a kernel that runs IPVS's own sync daemon (netlink; the
// in-memory model of the tests has none).
type daemoner interface {
	startDaemon(forward.SyncRole, forward.SyncConfig) error
	stopDaemon(forward.SyncRole) error
}

// SetSync runs the kernel's own sync daemon (lvs_sync_daemon) in the given
// role, replacing the one this backend started; SyncOff stops it. A daemon
// started less than daemonSettle ago is given the rest of that time before
// it is stopped; the backend's table stays usable meanwhile.
func (b *Backend) SetSync(role forward.SyncRole, cfg forward.SyncConfig) error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.Lock()
	err := b.checkLocked()
	b.mu.Unlock()
	if err != nil {
		return err
	}
	return b.setSync(role, cfg)
}

// setSync changes the daemon; the caller holds syncMu, not mu.
func (b *Backend) setSync(role forward.SyncRole, cfg forward.SyncConfig) error {
	b.mu.Lock()
	cur, curCfg, at := b.syncRole, b.syncCfg, b.syncAt
	b.mu.Unlock()
	if role == cur && (role == forward.SyncOff || cfg == curCfg) {
		return nil
	}
	d, ok := b.k.(daemoner)
	if !ok {
		return fmt.Errorf("forward/ipvs: this kernel model has no sync daemon: %w", forward.ErrUnsupported)
	}
	if cur != forward.SyncOff {
		// A Linux 6.1 kernel asked to stop a master sync daemon within
		// moments of starting it kept the request waiting 60 s (netlink's
		// receive timeout then gave EAGAIN); a second later it stops at
		// once. Let a new daemon settle first. To see it: daemonSettle = 0,
		// then ULVS_VM=1 go test -run 'TestVMIPVS/lvs_sync_daemon_through'
		// ./forward/ipvs (after make ipvs-vm-test fetched the VM): the
		// subtest fails after 60 s in Close.
		if wait := daemonSettle - b.clock.Now().Sub(at); wait > 0 {
			b.clock.Sleep(wait)
		}
		if err := d.stopDaemon(cur); err != nil && !errors.Is(err, forward.ErrNotFound) {
			return err
		}
		b.mu.Lock()
		b.syncRole = forward.SyncOff
		b.mu.Unlock()
	}
	if role == forward.SyncOff {
		return nil
	}
	if err := d.startDaemon(role, cfg); err != nil {
		return err
	}
	b.mu.Lock()
	b.syncRole, b.syncCfg, b.syncAt = role, cfg, b.clock.Now()
	b.mu.Unlock()
	b.log.Info("kernel sync daemon started", zap.Stringer("role", role), zap.String("interface", cfg.Interface))
	return nil
}

// SyncStats says which role the kernel's sync daemon has; the kernel keeps
// no counters of it.
func (b *Backend) SyncStats() forward.SyncStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return forward.SyncStats{Role: b.syncRole.String(), Kernel: true}
}
