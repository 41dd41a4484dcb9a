package lvs

import (
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/vrrp"
)

// Syncer is a backend that synchronises connections between directors:
// the userspace one itself, the IPVS one through the kernel's sync daemon.
type Syncer interface {
	SetSync(forward.SyncRole, forward.SyncConfig) error
	SyncStats() forward.SyncStats
}

// SyncSpec is lvs_sync_daemon: where connections are synchronised, and the
// VRRP instance whose master sends them.
type SyncSpec struct {
	Config   forward.SyncConfig
	Instance string
}

// Sync runs lvs_sync_daemon as keepalived does: a backup from start-up,
// the master while its VRRP instance is master, a backup again when it is
// not, off when VRRP stops. A nil *Sync does nothing.
type Sync struct {
	mu       sync.Mutex
	s        Syncer
	log      *zap.Logger
	cfg      forward.SyncConfig
	instance string
	role     forward.SyncRole
}

// NewSync returns a Sync for spec on s, started as a backup.
func NewSync(s Syncer, spec SyncSpec, log *zap.Logger) *Sync {
	if log == nil {
		log = zap.NewNop()
	}
	ls := &Sync{s: s, log: log, cfg: spec.Config, instance: spec.Instance}
	ls.Set(forward.SyncBackup)
	return ls
}

// Set changes the role; a failure is logged (the interface may come later:
// the next VRRP transition tries again).
func (l *Sync) Set(role forward.SyncRole) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.s.SetSync(role, l.cfg); err != nil {
		l.log.Error("lvs_sync_daemon", zap.String("role", role.String()), zap.Error(err))
		return
	}
	l.role = role
}

// Instance is the VRRP instance the daemon follows.
func (l *Sync) Instance() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.instance
}

// Follow takes the role the instance's new state gives.
func (l *Sync) Follow(ev vrrp.Event) {
	if l == nil || ev.Group {
		return
	}
	l.mu.Lock()
	mine := ev.Name == l.instance
	l.mu.Unlock()
	if !mine {
		return
	}
	switch ev.State {
	case vrrp.StateMaster:
		l.Set(forward.SyncMaster)
	case vrrp.StateStop, vrrp.StateDeleted:
		l.Set(forward.SyncOff)
	default:
		l.Set(forward.SyncBackup)
	}
}

// Reload takes a reloaded lvs_sync_daemon's settings: the backend
// restarts its side in the current role when they changed.
func (l *Sync) Reload(spec SyncSpec) {
	l.mu.Lock()
	l.cfg, l.instance = spec.Config, spec.Instance
	role := l.role
	l.mu.Unlock()
	l.Set(role)
}

// Stats are the backend's sync counters.
func (l *Sync) Stats() forward.SyncStats { return l.s.SyncStats() }

// Status is the line ulvsadm status shows ("" for a nil Sync).
func (l *Sync) Status() string {
	if l == nil {
		return ""
	}
	st := l.s.SyncStats()
	l.mu.Lock()
	iface, instance := l.cfg.Interface, l.instance
	l.mu.Unlock()
	role := st.Role
	if role == "" {
		role = "off"
	}
	if st.Kernel {
		return fmt.Sprintf("%s on %s (instance %s), the kernel's sync daemon", role, iface, instance)
	}
	return fmt.Sprintf("%s on %s (instance %s): %d connections sent in %d messages, %d dropped; %d received, %d unknown, %d bad messages",
		role, iface, instance, st.Sent, st.Messages, st.Dropped, st.Received, st.Unknown, st.BadMessages)
}
