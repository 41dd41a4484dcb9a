package main

import (
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/vrrp"
)

// syncer is a backend that synchronises connections between directors:
// the userspace one itself, the IPVS one through the kernel's sync daemon.
type syncer interface {
	SetSync(forward.SyncRole, forward.SyncConfig) error
	SyncStats() forward.SyncStats
}

// lvsSync runs lvs_sync_daemon as keepalived does: a backup from start-up,
// the master while its VRRP instance is master, a backup again when it is
// not, off when VRRP stops.
type lvsSync struct {
	mu       sync.Mutex
	s        syncer
	log      *zap.Logger
	cfg      forward.SyncConfig
	instance string
	role     forward.SyncRole
}

func syncConfigOf(sd *conf.LVSSyncDaemon) forward.SyncConfig {
	return forward.SyncConfig{Interface: sd.Interface, SyncID: uint8(sd.SyncID), MaxLen: sd.MaxLen, Port: sd.Port,
		TTL: sd.TTL, Group: sd.Group}
}

// startSync sets up lvs_sync_daemon when the configuration has one, VRRP
// runs, and the backend can synchronise; otherwise it says why not.
func (d *daemon) startSync(cfg *conf.Config) {
	sd := cfg.Global.LVSSyncDaemon
	if sd == nil || d.be == nil {
		return
	}
	s, ok := d.be.(syncer)
	switch {
	case !ok:
		d.log.Warn("lvs_sync_daemon: not supported with this backend; after a failover, established connections are scheduled afresh",
			zap.String("backend", d.o.backend), zap.String("at", sd.Pos.String()))
		return
	case !d.o.runVRRP():
		d.log.Warn("lvs_sync_daemon: follows a VRRP instance, and VRRP does not run here (-C)", zap.String("at", sd.Pos.String()))
		return
	case sd.Instance == "":
		d.log.Warn("lvs_sync_daemon: no VRRP instance named; not started", zap.String("at", sd.Pos.String()))
		return
	}
	ls := &lvsSync{s: s, log: d.log.Named("sync"), cfg: syncConfigOf(sd), instance: sd.Instance}
	ls.set(forward.SyncBackup)
	d.sync.Store(ls)
}

// set changes the role; a failure is logged (the interface may come later:
// the next VRRP transition tries again).
func (l *lvsSync) set(role forward.SyncRole) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.s.SetSync(role, l.cfg); err != nil {
		l.log.Error("lvs_sync_daemon", zap.String("role", role.String()), zap.Error(err))
		return
	}
	l.role = role
}

// follow takes the role the instance's new state gives.
func (l *lvsSync) follow(ev vrrp.Event) {
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
		l.set(forward.SyncMaster)
	case vrrp.StateStop, vrrp.StateDeleted:
		l.set(forward.SyncOff)
	default:
		l.set(forward.SyncBackup)
	}
}

// reload takes a reloaded lvs_sync_daemon's settings: the backend
// restarts its side in the current role when they changed.
func (l *lvsSync) reload(sd *conf.LVSSyncDaemon) {
	l.mu.Lock()
	l.cfg, l.instance = syncConfigOf(sd), sd.Instance
	role := l.role
	l.mu.Unlock()
	l.set(role)
}

// status is the line ulvsadm status shows.
func (l *lvsSync) status() string {
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
