package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/ulvs/ulvs/forward/syncmsg"
)

// SyncConfig is keepalived's lvs_sync_daemon: the interface the sync
// datagrams use, the sync ID, and the optional maxlen, port, ttl and group.
type SyncConfig struct {
	Interface string
	// SyncID tags sent messages; a backup with a non-zero SyncID takes only
	// messages with the same.
	SyncID uint8
	// MaxLen bounds a datagram's payload (default: the interface's MTU
	// less the IP and UDP headers).
	MaxLen int
	// Port (default 8848), TTL (default 1) and Group (default 224.0.0.81).
	Port  int
	TTL   int
	Group netip.Addr
}

// SyncRole says which side of synchronisation a director takes.
type SyncRole int

// Sync roles: keepalived makes the director that is master of the sync
// daemon's VRRP instance the sync master, and the others backups. SyncBoth
// is the kernel's two daemons at once (ipvsadm --start-daemon master and
// backup): every director sends its connections and takes the others', as
// N active directors behind ECMP do.
const (
	SyncOff SyncRole = iota
	SyncMaster
	SyncBackup
	SyncBoth
)

func (r SyncRole) String() string {
	if r < 0 || r > SyncBoth {
		return fmt.Sprintf("SyncRole(%d)", int(r))
	}
	return [...]string{"", "master", "backup", "both"}[r]
}

// Sends and Receives report whether the role sends its connections and
// whether it takes other directors'.
func (r SyncRole) Sends() bool    { return r == SyncMaster || r == SyncBoth }
func (r SyncRole) Receives() bool { return r == SyncBackup || r == SyncBoth }

// syncFlushDelay is how long a partly filled message waits for more
// connections before it is sent (the kernel waits up to 2 s; a shorter wait
// loses fewer new connections in a failover, at a few more datagrams).
const syncFlushDelay = 100 * time.Millisecond

// syncDaemon is the running side of synchronisation.
type syncDaemon struct {
	role   SyncRole
	cfg    SyncConfig // as SetSync was given it
	cancel context.CancelFunc
	wg     sync.WaitGroup
	conns  []net.PacketConn
}

// SetSync starts (or stops, with SyncOff) connection synchronisation in
// the given role, replacing the current one. A master multicasts the
// connections its workers set up; a backup puts the ones it receives into
// its tables; both does both (its own datagrams are not looped back to it).
func (u *Userspace) SetSync(role SyncRole, cfg SyncConfig) error {
	u.syncMu.Lock()
	defer u.syncMu.Unlock()
	if d := u.syncD; d != nil {
		if d.role == role && d.cfg == cfg {
			return nil
		}
		u.stopSyncLocked()
	}
	if role == SyncOff {
		return nil
	}
	given := cfg
	if cfg.Port == 0 {
		cfg.Port = syncmsg.Port
	}
	if cfg.TTL == 0 {
		cfg.TTL = 1
	}
	if !cfg.Group.IsValid() {
		cfg.Group = syncmsg.Group4
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return fmt.Errorf("forward: lvs_sync_daemon: interface %s: %w", cfg.Interface, err)
	}
	if cfg.MaxLen == 0 {
		cfg.MaxLen = ifi.MTU - 28
		if cfg.Group.Is6() {
			cfg.MaxLen = ifi.MTU - 48
		}
	}
	if cfg.MaxLen < syncmsg.HeaderLen+syncmsg.ConnLen6 {
		return fmt.Errorf("forward: lvs_sync_daemon: maxlen %d holds no connection", cfg.MaxLen)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &syncDaemon{role: role, cfg: given, cancel: cancel}
	log := u.e.log.With(zap.String("sync", role.String()), zap.String("interface", cfg.Interface),
		zap.Stringer("group", cfg.Group), zap.Int("port", cfg.Port))
	fail := func(err error) error {
		cancel()
		for _, c := range d.conns {
			c.Close()
		}
		return err
	}
	if role.Receives() {
		c, err := net.ListenMulticastUDP(network(cfg.Group), ifi, &net.UDPAddr{IP: cfg.Group.AsSlice(), Port: cfg.Port})
		if err != nil {
			return fail(fmt.Errorf("forward: lvs_sync_daemon: %w", err))
		}
		d.conns = append(d.conns, c)
		d.wg.Go(func() { u.receiveSync(ctx, c, cfg, log) })
	}
	if role.Sends() {
		c, err := syncSender(ifi, cfg)
		if err != nil {
			return fail(err)
		}
		d.conns = append(d.conns, c)
		q := u.e.newSyncQueue(syncQueueLen)
		u.e.syncq.Store(q)
		d.wg.Go(func() { u.sendSync(ctx, c, q, cfg, log) })
	}
	u.syncD = d
	log.Info("connection synchronisation started", zap.Uint8("sync_id", cfg.SyncID), zap.Int("maxlen", cfg.MaxLen))
	return nil
}

func (u *Userspace) stopSyncLocked() {
	d := u.syncD
	if d == nil {
		return
	}
	u.e.syncq.Store(nil)
	d.cancel()
	for _, c := range d.conns {
		c.Close()
	}
	d.wg.Wait()
	u.syncD = nil
	u.e.log.Info("connection synchronisation stopped", zap.String("sync", d.role.String()))
}

// SyncStats reports synchronisation's counters and current role.
func (u *Userspace) SyncStats() SyncStats {
	u.syncMu.Lock()
	role := ""
	if u.syncD != nil {
		role = u.syncD.role.String()
	}
	u.syncMu.Unlock()
	c := &u.e.sync
	return SyncStats{Role: role, Sent: c.sent.Load(), Messages: c.messages.Load(), Dropped: c.dropped.Load(),
		Received: c.received.Load(), Unknown: c.unknown.Load(), BadMessages: c.bad.Load()}
}

func network(group netip.Addr) string {
	if group.Is6() {
		return "udp6"
	}
	return "udp4"
}

// syncSender opens the master's socket: multicast out of the interface,
// with the configured TTL, not looped back.
func syncSender(ifi *net.Interface, cfg SyncConfig) (net.PacketConn, error) {
	c, err := net.ListenPacket(network(cfg.Group), ":0")
	if err != nil {
		return nil, fmt.Errorf("forward: lvs_sync_daemon: %w", err)
	}
	if cfg.Group.Is6() {
		p := ipv6.NewPacketConn(c)
		err = errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastHopLimit(cfg.TTL), p.SetMulticastLoopback(false))
	} else {
		p := ipv4.NewPacketConn(c)
		err = errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastTTL(cfg.TTL), p.SetMulticastLoopback(false))
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("forward: lvs_sync_daemon: %s: %w", ifi.Name, err)
	}
	return c, nil
}

// sendSync packs queued connections into messages of at most MaxLen bytes
// and sends each when full, or syncFlushDelay after its first connection.
func (u *Userspace) sendSync(ctx context.Context, c net.PacketConn, q *syncQueue, cfg SyncConfig, log *zap.Logger) {
	dst := &net.UDPAddr{IP: cfg.Group.AsSlice(), Port: cfg.Port}
	msg := syncmsg.NewMessage(make([]byte, 0, cfg.MaxLen), cfg.SyncID)
	flush := time.NewTimer(syncFlushDelay)
	flush.Stop()
	send := func() {
		n := syncmsg.Count(msg)
		if n == 0 {
			return
		}
		if _, err := c.WriteTo(msg, dst); err != nil {
			log.Warn("sync message not sent", zap.Int("connections", n), zap.Error(err))
			u.e.sync.dropped.Add(uint64(n))
		} else {
			u.e.sync.sent.Add(uint64(n))
			u.e.sync.messages.Add(1)
		}
		msg = syncmsg.NewMessage(msg, cfg.SyncID)
	}
	for {
		select {
		case <-ctx.Done():
			send()
			return
		case <-flush.C:
			send()
		case sc := <-q.ch:
			if len(msg)+sc.Len() > cfg.MaxLen || syncmsg.Count(msg) == 255 {
				send()
			}
			if syncmsg.Count(msg) == 0 {
				flush.Reset(syncFlushDelay)
			}
			var err error
			if msg, err = syncmsg.Append(msg, &sc); err != nil {
				log.Warn("connection not synced", zap.Error(err))
			}
		}
	}
}

// receiveSync applies the messages a master sends.
func (u *Userspace) receiveSync(ctx context.Context, c net.PacketConn, cfg SyncConfig, log *zap.Logger) {
	buf := make([]byte, 65536)
	var m syncmsg.Message
	var once sync.Once
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("sync receive failed; connections are no longer synchronised", zap.Error(err))
			}
			return
		}
		if err := syncmsg.Parse(buf[:n], &m); err != nil {
			u.e.sync.bad.Add(1)
			log.Debug("bad sync message", zap.Stringer("from", from), zap.Error(err))
			continue
		}
		if cfg.SyncID != 0 && m.SyncID != cfg.SyncID {
			u.e.sync.bad.Add(1)
			continue
		}
		once.Do(func() { log.Info("receiving synchronised connections", zap.Stringer("from", from)) })
		u.applySync(m.Conns, u.e.tick(time.Now()))
	}
}
