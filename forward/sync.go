package forward

import (
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/syncmsg"
	"github.com/ulvs/ulvs/sched"
)

// Connection synchronisation (lvs_sync_daemon), the table side: a master's
// workers queue the connections IPVS would sync; a backup puts what it
// receives into its own tables, so that after a failover a connection's
// next packet finds its real server. The sockets are in syncio.go.

// Sync rule constants: the kernel's defaults (sysctl sync_threshold "3 50":
// a connection is synced at its 3rd client packet and every 50 after).
const (
	syncThreshold = 3
	syncPeriod    = 50
	// syncQueueLen bounds the connections waiting for the sender; beyond
	// it they are dropped and counted, never waited for.
	syncQueueLen = 8192
)

// syncQueue carries connections from the workers to the sender.
type syncQueue struct {
	ch      chan syncmsg.Conn
	dropped *atomic.Uint64 // the engine's count
}

// newSyncQueue makes a queue of n connections whose drops count in the
// engine's counters.
func (e *engine) newSyncQueue(n int) *syncQueue {
	return &syncQueue{ch: make(chan syncmsg.Conn, n), dropped: &e.sync.dropped}
}

func (q *syncQueue) push(c *syncmsg.Conn) {
	select {
	case q.ch <- *c:
	default:
		q.dropped.Add(1)
	}
}

// SyncStats counts connection synchronisation since the backend started.
type SyncStats struct {
	// Role is "master", "backup", "both" or "" (off).
	Role string
	// Kernel is set when the kernel's own sync daemon does the work (the
	// IPVS backend): it keeps no counters.
	Kernel bool
	// Sent and Messages: connections (and templates) sent, in how many
	// datagrams; Dropped: those the sender's queue had no room for.
	Sent, Messages, Dropped uint64
	// Received: connections received and applied; Unknown: received for a
	// service or real server this director does not have; BadMessages:
	// datagrams that did not parse, or carried another sync ID.
	Received, Unknown, BadMessages uint64
}

type syncCounters struct {
	sent, messages, dropped, received, unknown, bad atomic.Uint64
}

// syncNeeded is ip_vs_sync_conn_needed with the kernel's default sysctls
// (sync_threshold 3 50, sync_refresh_period 0): TCP and SCTP connections
// are synced when they enter a closing state, and in an established or
// closing state at the 3rd client packet and every 50th after; other
// protocols at the same packets.
func syncNeeded(e *conntab.Entry, old uint8) bool {
	switch e.Proto {
	case TCP:
		switch e.State {
		case conntab.TCPEstablished, conntab.TCPFinWait, conntab.TCPClose, conntab.TCPCloseWait, conntab.TCPTimeWait:
		default:
			return false
		}
		if e.State != old && e.State != conntab.TCPEstablished {
			return true
		}
	case SCTP:
		switch e.State {
		case conntab.SCTPEstablished, conntab.SCTPShutdownSent, conntab.SCTPShutdownReceived,
			conntab.SCTPShutdownAckSent, conntab.SCTPClosed:
		default:
			return false
		}
		if e.State != old && e.State != conntab.SCTPEstablished {
			return true
		}
	}
	return e.Pkts%syncPeriod == syncThreshold
}

// describeConn describes an entry for the wire.
func (eng *engine) describeConn(c *syncmsg.Conn, e *conntab.Entry, template bool) {
	*c = syncmsg.Conn{Proto: e.Proto, State: uint16(e.State), CPort: e.CPort, VPort: e.VPort, DPort: e.DPort,
		CAddr: netip.AddrFrom16(e.CAddr).Unmap(), VAddr: netip.AddrFrom16(e.VAddr).Unmap(), DAddr: netip.AddrFrom16(e.DAddr).Unmap()}
	c.Flags = uint32(e.Method) & syncmsg.FwdMask
	if template {
		c.Flags |= syncmsg.Template | syncmsg.NoCPort
		c.Timeout = e.Timeout / conntab.TicksPerSecond
		return
	}
	if e.Flags&conntab.FlagNoOutput != 0 {
		c.Flags |= syncmsg.NoOutput
	}
	if e.Flags&conntab.FlagInactive != 0 {
		c.Flags |= syncmsg.Inactive
	}
	c.Timeout = eng.timeouts.Load().Ticks(e.Proto, e.State) / conntab.TicksPerSecond
}

// syncTemplate sends the template controlling a synced connection, held by
// the caller (its Ref stays valid until released).
func (w *worker) syncTemplate(q *syncQueue, ref conntab.Ref) {
	sh, t := w.e.tpls.Get(ref) // locked
	if sh == nil {
		return
	}
	var c syncmsg.Conn
	ok := t.Flags&conntab.FlagTemplate != 0 && t.Flags&conntab.FlagUnhashed == 0 && t.Proto != 0
	if ok {
		w.e.describeConn(&c, t, true)
		// A template stores no method; the kernel's carries its real
		// server's.
		if r := w.snap.real(t.Dest); r != nil {
			c.Flags = c.Flags&^syncmsg.FwdMask | uint32(r.method)&syncmsg.FwdMask
		}
	}
	sh.Unlock()
	if ok {
		q.push(&c)
	}
}

// applySync puts received connections into the tables: a new entry bound
// to the named real server, or an existing one's state and timer updated.
// Connections of services or real servers this director does not have,
// and firewall-mark ones, are counted and skipped.
func (u *Userspace) applySync(conns []syncmsg.Conn, now uint32) {
	g := &u.e.reg
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range conns {
		c := &conns[i]
		s, r := g.syncTargetLocked(c)
		if r == nil {
			u.e.sync.unknown.Add(1)
			if s != nil {
				u.holdSyncLocked(c)
			}
			continue
		}
		u.applySyncedLocked(c, s, r, now)
	}
}

func (u *Userspace) applySyncedLocked(c *syncmsg.Conn, s *service, r *real, now uint32) {
	if c.Flags&syncmsg.Template != 0 {
		u.applyTemplate(c, s, r, now)
	} else {
		u.applyConn(c, s, r, now)
	}
	u.e.sync.received.Add(1)
}

// A synced connection of a known service whose real server this director
// does not have at that moment (its checker took it out, as while this
// director's link was down) waits for it: kernel IPVS creates such a
// connection unbound and binds it once the real server exists
// (ip_vs_try_bind_dest); without that, a connection the master synced
// once was lost to a backup that took over a moment later. At most
// syncHeldMax wait, each at most syncHeldFor (or its own timeout).
const (
	syncHeldMax = 16384
	syncHeldFor = time.Minute
)

type heldSync struct {
	c     syncmsg.Conn
	until time.Time
}

// holdSyncLocked keeps c until its real server is added (registry lock
// held).
func (u *Userspace) holdSyncLocked(c *syncmsg.Conn) {
	now := time.Now()
	u.syncHeld = slices.DeleteFunc(u.syncHeld, func(h heldSync) bool { return now.After(h.until) })
	if len(u.syncHeld) >= syncHeldMax {
		u.syncHeld = u.syncHeld[1:]
	}
	ttl := min(time.Duration(c.Timeout)*time.Second, syncHeldFor)
	if ttl <= 0 {
		ttl = syncHeldFor
	}
	u.syncHeld = append(u.syncHeld, heldSync{c: *c, until: now.Add(ttl)})
}

// applyHeldSyncLocked applies the held connections whose real server now
// exists (registry lock held; after a real server is added).
func (u *Userspace) applyHeldSyncLocked() {
	if len(u.syncHeld) == 0 {
		return
	}
	now := time.Now()
	tick := u.e.tick(now)
	g := &u.e.reg
	u.syncHeld = slices.DeleteFunc(u.syncHeld, func(h heldSync) bool {
		if now.After(h.until) {
			return true
		}
		s, r := g.syncTargetLocked(&h.c)
		if r == nil {
			return false
		}
		u.applySyncedLocked(&h.c, s, r, tick)
		return true
	})
}

// syncTargetLocked finds a synced connection's service and real server
// (or sorry server). A template of a service whose templates cover every
// port names no port: any service on its address and protocol with that
// real server is it.
func (g *registry) syncTargetLocked(c *syncmsg.Conn) (*service, *real) {
	if c.FWMark != 0 {
		return nil, nil
	}
	rap := netip.AddrPortFrom(c.DAddr, c.DPort)
	find := func(s *service) *real {
		if r := s.reals[rap]; r != nil {
			return r
		}
		// A template of a service whose templates cover every port names
		// no port; a real server configured without one takes the
		// connection's.
		for ap, r := range s.reals {
			if ap.Addr() == c.DAddr && (c.DPort == 0 || ap.Port() == 0) {
				return r
			}
		}
		if s.sorry != nil && s.sorry.cfg.Addr == c.DAddr {
			return s.sorry
		}
		return nil
	}
	if s := g.svcs[ServiceKey{Addr: c.VAddr, Port: c.VPort, Proto: c.Proto}]; s != nil {
		return s, find(s)
	}
	if c.Flags&syncmsg.Template != 0 && c.VPort == 0 {
		for k, s := range g.svcs {
			if k.Addr == c.VAddr && k.Proto == c.Proto && s.persist != 0 {
				if r := find(s); r != nil {
					return s, r
				}
			}
		}
	}
	return nil, nil
}

func (u *Userspace) applyConn(c *syncmsg.Conn, s *service, r *real, now uint32) {
	var key conntab.Key
	key.Proto, key.CPort, key.Port, key.Direction = c.Proto, c.CPort, c.VPort, conntab.In
	ca, va, da := c.CAddr.As16(), c.VAddr.As16(), c.DAddr.As16()
	key.CAddr, key.Addr = ca, va
	t := u.e.conns
	h := t.Hash(key.Proto, &key.CAddr, key.CPort)
	sh := t.Shard(h)
	sh.Lock()
	defer sh.Unlock()
	state := uint8(c.State)
	expires := now + c.Timeout*conntab.TicksPerSecond
	e := sh.FindLocked(h, &key)
	if e == nil {
		if e, _ = sh.InsertLocked(h, expires); e == nil {
			u.e.drops.tableFull.Add(1)
			return
		}
		e.Proto, e.CAddr, e.CPort, e.VAddr, e.VPort = key.Proto, ca, c.CPort, va, c.VPort
		m := r.method
		if r.local() {
			m = Local
		}
		e.DAddr, e.DPort, e.Dest, e.Svc, e.Method = da, c.DPort, r.handle, s.id, uint8(m)
		e.Flags = conntab.FlagInactive
		if m != NAT {
			e.Flags |= conntab.FlagNoOutput
		}
		// The client side's next hop is learned from the client's first
		// packet through this director (MAC stays zero until then).
		r.dest.Bind(sched.ConnInactive)
	}
	if e.Dest != r.handle {
		// This director scheduled the client elsewhere meanwhile: its own
		// entry stands (the state counts belong to its real server).
		return
	}
	was, is := conntab.Active(e.Proto, e.State), conntab.Active(e.Proto, state)
	switch {
	case is && !was:
		r.dest.Activate()
		e.Flags &^= conntab.FlagInactive
	case was && !is:
		r.dest.Deactivate()
		e.Flags |= conntab.FlagInactive
	}
	e.State = state
	e.Expires = expires
}

func (u *Userspace) applyTemplate(c *syncmsg.Conn, s *service, r *real, now uint32) {
	var key conntab.Key
	key.Proto, key.Port, key.Direction = c.Proto, c.VPort, conntab.In
	key.CAddr, key.Addr = c.CAddr.As16(), c.VAddr.As16()
	t := u.e.tpls
	h := t.Hash(key.Proto, &key.CAddr, 0)
	sh := t.Shard(h)
	sh.Lock()
	defer sh.Unlock()
	timeout := c.Timeout * conntab.TicksPerSecond
	e := sh.FindLocked(h, &key)
	if e == nil {
		if e, _ = sh.InsertLocked(h, now+timeout); e == nil {
			return
		}
		e.Flags, e.Proto, e.CAddr, e.VAddr, e.VPort = conntab.FlagTemplate, key.Proto, key.CAddr, key.Addr, key.Port
		e.DAddr, e.DPort, e.Dest, e.Svc = c.DAddr.As16(), c.DPort, r.handle, s.id
		r.dest.Bind(sched.ConnTemplate)
	}
	e.Timeout = timeout
	e.Expires = now + timeout
}

// syncLocked counts the client's packet on e and, on a sync master,
// decides whether e is synced now: it describes e in w.syncc and returns
// the queue, and the template to send with it (held), for syncSend once
// the shard is unlocked.
func (w *worker) syncLocked(e *conntab.Entry, old uint8) (*syncQueue, conntab.Ref) {
	e.Pkts++
	q := w.e.syncq.Load()
	if q == nil || !syncNeeded(e, old) {
		return nil, 0
	}
	w.e.describeConn(&w.syncc, e, false)
	if e.Ctl != 0 {
		w.e.tpls.Hold(e.Ctl)
		return q, e.Ctl
	}
	return q, 0
}

// syncSend queues what syncLocked described, and the template after it.
func (w *worker) syncSend(q *syncQueue, ctl conntab.Ref) {
	if q == nil {
		return
	}
	q.push(&w.syncc)
	if ctl != 0 {
		w.syncTemplate(q, ctl)
		w.e.tpls.Release(ctl)
	}
}
