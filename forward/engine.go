package forward

import (
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/frame"
	"github.com/ulvs/ulvs/forward/ring"
	"github.com/ulvs/ulvs/forward/syncmsg"
	"github.com/ulvs/ulvs/sched"
)

// txer is a worker's frame output: ring.Sender, or a recording fake in
// tests. head and body must stay unchanged until Flush.
type txer interface {
	Add(ifindex int, vh *ring.VnetHdr, head, body []byte) bool
	Full() bool
	Flush() error
}

// iface is one forwarding interface.
type iface struct {
	index int
	slot  uint8
	name  string
	mac   [6]byte
	mtu   int
}

// engine is the part of the userspace backend the workers share.
type engine struct {
	reg      registry
	conns    *conntab.Table
	tpls     *conntab.Table
	frags    fragTracker
	hold     fragHold
	timeouts atomic.Pointer[conntab.Timeouts]
	ifaces   []iface // by slot
	sloppy   bool
	log      *zap.Logger
	drops    dropCounters
	// resolve asks for a real server's next hop to be (re)resolved.
	resolve func(r *real)
	// inject is the local delivery (nil: none).
	inject injector
	// syncq is set while this director is a sync master (lvs_sync_daemon);
	// sync counts synchronisation both ways.
	syncq atomic.Pointer[syncQueue]
	sync  syncCounters
	// fast is the XDP fast path (nil: off).
	fast fastPath
}

// dropCounters count what the workers drop, by reason.
type dropCounters struct {
	malformed, badCsum, noConn, noDest, tableFull, noHop, tooBig, ttl, fragOrphan, txFull, local atomic.Uint64
	rxOverflow, txError                                                                          atomic.Uint64
}

// worker is one forwarding loop's state; only its goroutine touches it.
type worker struct {
	e       *engine
	id      int
	tx      txer
	p, q    frame.Packet
	now     uint32
	snap    *snapshot
	syncc   syncmsg.Conn
	scratch [][]byte
	used    int
	ipid    uint16
	seg     frame.Segmenter
	// flow is reused for every Pick: a local would escape through the
	// scheduler's interface call and cost an allocation per connection.
	flow sched.Flow
	// ICMP errors the worker may still send this second (token bucket).
	icmpTokens int
	icmpSecond uint32
	// vh is the offload header of a local delivery (a field, so that
	// passing it to the injector allocates nothing).
	vh ring.VnetHdr
	// outer holds the outer headers that every fragment of a tunnelled
	// packet copies.
	outer [frame.EthLen + frame.IPv6Len]byte
	// first is set when the frame being handled is a first fragment with
	// later fragments possibly held (fk names its datagram); heldFrame is
	// the held fragment being handled after it.
	first bool
	fk    struct {
		src, dst [16]byte
		id       uint32
		proto    uint8
	}
	heldFrame ring.Frame
	// complete is set for an AF_XDP worker on a veth: its frames may carry
	// partial checksums (the peer's TX offload) with nothing saying so,
	// and are completed before they are forwarded.
	complete bool
}

const (
	scratchSlots = 64
	scratchSize  = 9216 + 128
	icmpPerSec   = 100
)

func newWorker(e *engine, id int, tx txer) *worker {
	w := &worker{e: e, id: id, tx: tx, scratch: make([][]byte, scratchSlots)}
	for i := range w.scratch {
		w.scratch[i] = make([]byte, scratchSize)
	}
	return w
}

// begin starts a batch at tick now.
func (w *worker) begin(now uint32) {
	w.now = now
	w.snap = w.e.reg.load()
}

// flush sends what the batch queued.
func (w *worker) flush() {
	_ = w.tx.Flush()
	w.used = 0
}

// buf returns a scratch buffer for a frame built now; it flushes first when
// the batch has no room, so the frame and its buffer go in the same batch.
func (w *worker) buf() []byte {
	if w.used == len(w.scratch) || w.tx.Full() {
		w.flush()
	}
	b := w.scratch[w.used]
	w.used++
	return b
}

func (w *worker) send(ifindex int, vh *ring.VnetHdr, head, body []byte) {
	if w.tx.Full() {
		w.flush()
	}
	if !w.tx.Add(ifindex, vh, head, body) {
		w.e.drops.txFull.Add(1)
	}
}

func (e *engine) tick(now time.Time) uint32 {
	return uint32(now.UnixNano() / (int64(time.Second) / conntab.TicksPerSecond))
}

// handle forwards one received frame, or leaves it (it is not ours); after
// a datagram's first fragment, the later ones that came before it follow.
func (w *worker) handle(f *ring.Frame) {
	w.handleFrame(f)
	if w.first {
		w.first = false
		w.releaseHeld()
	}
}

// releaseHeld forwards the held later fragments of the first fragment just
// handled, each copied into a scratch buffer first.
func (w *worker) releaseHeld() {
	for {
		b := w.buf()
		n, ifindex := w.e.hold.take(&w.fk.src, &w.fk.dst, w.fk.id, w.fk.proto, b)
		if n == 0 {
			w.used--
			return
		}
		w.heldFrame = ring.Frame{Data: b[:n], Ifindex: ifindex}
		w.handleFrame(&w.heldFrame)
	}
}

func (w *worker) handleFrame(f *ring.Frame) {
	if f.PktType != 0 || f.VLANTagged { // PACKET_HOST only; bind VLAN devices
		return
	}
	p := &w.p
	p.Decode(f.Data)
	if !p.OK() {
		if p.Family != 0 {
			w.e.drops.malformed.Add(1)
		}
		return
	}
	if w.complete {
		p.CompletePartial()
	}
	partial := f.Vnet.Flags&ring.VnetNeedsCsum != 0 || f.CsumNotReady
	if p.Has(frame.FlagICMPError) {
		w.icmpError(f)
		return
	}
	sport, dport := p.SrcPort, p.DstPort
	if p.Has(frame.FlagLaterFragment) {
		var ok bool
		if sport, dport, ok = w.e.frags.lookup(p, w.now); !ok {
			// Its first fragment has not come yet: it waits for it.
			if w.isOurs(p) || w.fromNATReal(p) {
				if n := w.e.hold.hold(f, p, w.now); n > 0 {
					w.e.drops.fragOrphan.Add(n)
				}
			}
			return
		}
	} else if p.Has(frame.FlagFragment) {
		w.e.frags.record(p, w.now)
		if w.e.hold.held.Load() > 0 {
			w.first = true
			conntab.Put16(&w.fk.src, p.SrcIP())
			conntab.Put16(&w.fk.dst, p.DstIP())
			w.fk.id, w.fk.proto = p.FragID, p.Proto
		}
	}
	var k svcKey
	conntab.Put16(&k.addr, p.DstIP())
	k.proto, k.port = p.Proto, dport
	s := w.snap.svcs[k]
	if s == nil {
		k.port = 0
		s = w.snap.svcs[k]
	}
	if s != nil && w.snap.vips[k.addr] {
		if w.headerValid() {
			w.in(f, s, sport, dport, partial)
		}
		return
	}
	if len(w.snap.natReals) > 0 {
		conntab.Put16(&k.addr, p.SrcIP())
		k.port = sport
		nat := w.snap.natReals[k]
		if !nat {
			k.port = 0
			nat = w.snap.natReals[k]
		}
		if nat && w.headerValid() {
			w.out(f, sport, dport, partial)
		}
	}
}

// headerValid checks the IPv4 header checksum, which the kernel checks
// before IPVS sees a packet; a packet that fails is dropped and counted.
func (w *worker) headerValid() bool {
	if w.p.HeaderValid() {
		return true
	}
	w.e.drops.badCsum.Add(1)
	return false
}

// fromNATReal reports whether p comes from a NAT real server's address.
func (w *worker) fromNATReal(p *frame.Packet) bool {
	var a [16]byte
	conntab.Put16(&a, p.SrcIP())
	return w.snap.natAddrs[a]
}

// isOurs reports whether p is addressed to an enabled VIP.
func (w *worker) isOurs(p *frame.Packet) bool {
	var a [16]byte
	conntab.Put16(&a, p.DstIP())
	return w.snap.vips[a]
}

// in forwards a client's packet to a virtual service.
func (w *worker) in(f *ring.Frame, s *service, sport, dport uint16, partial bool) {
	p := &w.p
	var key conntab.Key
	key.Proto, key.CPort, key.Port, key.Direction = p.Proto, sport, dport, conntab.In
	conntab.Put16(&key.CAddr, p.SrcIP())
	conntab.Put16(&key.Addr, p.DstIP())
	h := w.e.conns.Hash(key.Proto, &key.CAddr, key.CPort)
	sh := w.e.conns.Shard(h)
	sh.Lock()
	e := sh.FindLocked(h, &key)
	if e != nil && w.reusable(e) {
		// conn_reuse_mode=1: a new connection on the tuple of one that has
		// ended is scheduled afresh (ip_vs_conn_expire_now).
		sh.RemoveLocked(e)
		e = nil
	}
	if e != nil {
		r := w.snap.real(e.Dest)
		if r == nil || !r.dest.Available() {
			// Its real server was removed: IPVS (expire_nodest_conn=0)
			// drops the packet silently and leaves the entry's timer; the
			// connection goes on if the real server comes back in time.
			sh.Unlock()
			w.e.drops.noDest.Add(1)
			return
		}
		old := e.State
		w.advance(e, r, inTable(e))
		if e.MAC == ([6]byte{}) {
			// Synced from another director: the client side's next hop
			// comes with its first packet here.
			copy(e.MAC[:], p.SrcMAC())
			e.Ifx = w.e.slotOf(f.Ifindex)
		}
		rport, method := e.DPort, Method(e.Method)
		q, ctl := w.syncLocked(e, old)
		if w.e.fast != nil {
			w.fastUpdate(e, r)
		}
		sh.Unlock()
		w.syncSend(q, ctl)
		w.count(s, r, true)
		w.xmit(f, r, method, rport, partial)
		return
	}
	sh.Unlock()

	// A new connection: TCP is scheduled on a SYN only (unless sloppy_tcp).
	if p.Proto == frame.ProtoTCP && (p.TCPFlags&(frame.TCPSyn|frame.TCPRst) != frame.TCPSyn) && !w.e.sloppy {
		w.e.drops.noConn.Add(1)
		return
	}
	if p.Has(frame.FlagLaterFragment) {
		w.e.drops.fragOrphan.Add(1)
		return
	}
	r, rport, ctl := w.schedule(s, sport, dport)
	if r == nil {
		w.e.drops.noDest.Add(1)
		w.sendICMP(f, frame.ICMPPortUnreachable, 0)
		return
	}
	if s.cfg.OnePacket {
		// IP_VS_CONN_F_ONE_PACKET: counted, forwarded, never hashed.
		r.dest.Bind(sched.ConnInactive)
		w.count(s, r, true)
		w.countConn(s, r)
		w.xmit(f, r, r.method, rport, partial)
		r.dest.Unbind(sched.ConnInactive)
		w.e.tpls.Release(ctl)
		return
	}
	sh.Lock()
	if e = sh.FindLocked(h, &key); e != nil {
		// Another worker created it meanwhile.
		w.e.tpls.Release(ctl)
		r = w.snap.real(e.Dest)
		if r == nil {
			sh.Unlock()
			return
		}
		w.advance(e, r, inTable(e))
		rport = e.DPort
	} else {
		e, _ = sh.InsertLocked(h, w.now+w.e.timeouts.Load().Ticks(p.Proto, 0))
		if e == nil {
			sh.Unlock()
			w.e.tpls.Release(ctl)
			w.e.drops.tableFull.Add(1)
			return
		}
		e.Proto, e.CAddr, e.CPort, e.VAddr, e.VPort = key.Proto, key.CAddr, key.CPort, key.Addr, key.Port
		m := r.method
		if r.local() {
			m = Local
		}
		e.DAddr, e.DPort, e.Dest, e.Svc, e.Method, e.Ctl = r.addr, rport, r.handle, s.id, uint8(m), ctl
		e.Flags = conntab.FlagInactive
		if m != NAT {
			// DR, TUN and Local: the replies do not come back this way.
			e.Flags |= conntab.FlagNoOutput
		}
		copy(e.MAC[:], p.SrcMAC())
		e.Ifx = w.e.slotOf(f.Ifindex)
		r.dest.Bind(sched.ConnInactive)
		w.countConn(s, r)
		w.advance(e, r, inTable(e))
	}
	method := Method(e.Method)
	q, ctlRef := w.syncLocked(e, conntab.TCPNone)
	sh.Unlock()
	w.syncSend(q, ctlRef)
	w.count(s, r, true)
	w.xmit(f, r, method, rport, partial)
}

// reusable is IPVS's conn_reuse_mode=1 test (is_new_conn and
// is_new_conn_expected): the current packet opens a new connection (a TCP
// SYN, an SCTP INIT, not a fragment) on the tuple of a connection that has
// ended (TIME_WAIT or CLOSE; SCTP CLOSED) and no template controls.
func (w *worker) reusable(e *conntab.Entry) bool {
	p := &w.p
	if e.Ctl != 0 || p.L4 == 0 || p.Has(frame.FlagFragment) {
		return false
	}
	switch e.Proto {
	case frame.ProtoTCP:
		return p.TCPFlags&frame.TCPSyn != 0 && (e.State == conntab.TCPTimeWait || e.State == conntab.TCPClose)
	case frame.ProtoSCTP:
		return p.End-p.L4 > 12 && p.B[p.L4+12] == 1 && e.State == conntab.SCTPClosed
	}
	return false
}

func inTable(e *conntab.Entry) conntab.TCPTable {
	if e.Flags&conntab.FlagNoOutput != 0 {
		return conntab.InputOnly
	}
	return conntab.Input
}

// advance moves the entry's state with the current packet and restarts its
// timer, keeping the real server's active/inactive counts.
func (w *worker) advance(e *conntab.Entry, r *real, table conntab.TCPTable) {
	p := &w.p
	old := e.State
	switch e.Proto {
	case frame.ProtoTCP:
		if p.L4 != 0 && !p.Has(frame.FlagLaterFragment) {
			e.State = conntab.TCPTransition(table, old, p.TCPFlags)
		}
	case frame.ProtoSCTP:
		if p.L4 != 0 && p.End-p.L4 > 12 && !p.Has(frame.FlagLaterFragment) {
			e.State = conntab.SCTPTransition(old, p.B[p.L4+12], table != conntab.Output)
		}
	}
	if was, is := conntab.Active(e.Proto, old), conntab.Active(e.Proto, e.State); was != is {
		if is {
			r.dest.Activate()
			e.Flags &^= conntab.FlagInactive
		} else {
			r.dest.Deactivate()
			e.Flags |= conntab.FlagInactive
		}
	}
	e.Expires = w.now + w.e.timeouts.Load().Ticks(e.Proto, e.State)
}

// schedule picks the real server of a new connection, through the
// persistence template when the service has one (ip_vs_sched_persist). It
// returns the destination port and the template the connection holds.
func (w *worker) schedule(s *service, sport, dport uint16) (*real, uint16, conntab.Ref) {
	p := &w.p
	flow := &w.flow
	*flow = sched.Flow{Src: p.SrcAddr(), Dst: p.DstAddr(), SrcPort: sport, DstPort: dport, Proto: p.Proto,
		Now: time.Duration(w.now) * time.Second / conntab.TicksPerSecond}
	svcPort := s.cfg.Key.Port
	if s.persist == 0 {
		r := w.pick(s, flow)
		if r == nil {
			return nil, 0, 0
		}
		rport := dport
		if r.cfg.Port != 0 {
			rport = r.cfg.Port
		}
		return r, rport, 0
	}
	var key conntab.Key
	conntab.Put16(&key.CAddr, p.SrcIP())
	for i := range key.CAddr {
		key.CAddr[i] &= s.mask[i]
	}
	key.Proto, key.Addr, key.Direction = p.Proto, s.vaddr, conntab.In
	// The template's port is the service port, except for port-0 services
	// and FTP (port 21), whose templates cover every port.
	samePort := dport == svcPort && svcPort != 21
	if samePort {
		key.Port = dport
	}
	h := w.e.tpls.Hash(key.Proto, &key.CAddr, 0)
	sh := w.e.tpls.Shard(h)
	sh.Lock()
	var r *real
	var ref conntab.Ref
	if t := sh.FindLocked(h, &key); t != nil {
		r = w.snap.real(t.Dest)
		if r != nil && r.dest.Available() {
			t.Expires = w.now + t.Timeout
			ref = sh.RefLocked(t)
		} else {
			// ip_vs_check_template: the dest left; invalidate the template.
			sh.UnhashLocked(t, h)
			r = nil
		}
	}
	if r == nil {
		if r = w.pick(s, flow); r == nil {
			sh.Unlock()
			return nil, 0, 0
		}
		t, tref := sh.InsertLocked(h, w.now+s.persist)
		if t != nil {
			t.Flags, t.Proto, t.CAddr, t.VAddr, t.VPort = conntab.FlagTemplate, key.Proto, key.CAddr, key.Addr, key.Port
			t.DAddr, t.Dest, t.Svc, t.Timeout = r.addr, r.handle, s.id, s.persist
			if samePort {
				t.DPort = r.cfg.Port
			}
			r.dest.Bind(sched.ConnTemplate)
			ref = tref
		}
	}
	if ref != 0 {
		w.e.tpls.Hold(ref)
	}
	sh.Unlock()
	rport := dport
	if dport == svcPort && r.cfg.Port != 0 {
		rport = r.cfg.Port
	}
	return r, rport, ref
}

// pick asks the scheduler, falling back to the sorry server.
func (w *worker) pick(s *service, f *sched.Flow) *real {
	if d := s.sched.Pick(f); d != nil {
		if r := w.snap.dests[d]; r != nil {
			return r
		}
	}
	if s.sorry != nil && s.sorry.dest.Weight() > 0 {
		return s.sorry
	}
	return nil
}

func (w *worker) count(s *service, r *real, in bool) {
	n := uint64(w.p.IPLen())
	s.stats[w.id].add(in, 1, n)
	r.stats[w.id].add(in, 1, n)
}

func (w *worker) countConn(s *service, r *real) {
	s.stats[w.id].conns.Add(1)
	r.stats[w.id].conns.Add(1)
}

func (e *engine) slotOf(ifindex int) uint8 {
	for i := range e.ifaces {
		if e.ifaces[i].index == ifindex {
			return uint8(i)
		}
	}
	return 0
}

func (e *engine) ifaceOf(ifindex int) *iface {
	for i := range e.ifaces {
		if e.ifaces[i].index == ifindex {
			return &e.ifaces[i]
		}
	}
	return nil
}

// sendICMP answers the current packet with an ICMP error from its
// destination (the VIP), back the way it came; rate limited.
func (w *worker) sendICMP(f *ring.Frame, kind int, mtu uint32) {
	sec := w.now / conntab.TicksPerSecond
	if sec != w.icmpSecond {
		w.icmpSecond, w.icmpTokens = sec, icmpPerSec
	}
	if w.icmpTokens == 0 {
		return
	}
	w.icmpTokens--
	in := w.e.ifaceOf(f.Ifindex)
	if in == nil {
		w.e.log.Debug("icmp error not sent: unknown interface", zap.Int("ifindex", f.Ifindex))
		return
	}
	p := &w.p
	b := w.buf()
	n := frame.PutICMPError(b, p, kind, mtu, p.DstIP(), p.SrcMAC(), in.mac[:])
	w.send(in.index, nil, b[:n], nil)
}

func (w *worker) nextID() uint16 {
	w.ipid++
	return w.ipid ^ uint16(w.id)<<12
}
