package forward

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/guard"
	"github.com/ulvs/ulvs/forward/ring"
	"github.com/ulvs/ulvs/forward/xsk"
)

// NewUserspace starts the userspace backend on cfg.Interfaces: one receive
// ring per worker in a fanout group per interface, the kernel guard, the
// next-hop resolver and the housekeeping timer. It needs CAP_NET_RAW and
// CAP_NET_ADMIN.
func NewUserspace(cfg *Config) (*Userspace, error) {
	if cfg == nil || len(cfg.Interfaces) == 0 {
		return nil, errors.New("forward: userspace backend: no interfaces configured")
	}
	c := *cfg
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	switch c.RingVersion {
	case 0:
		c.RingVersion = 2
	case 2, 3:
	default:
		return nil, fmt.Errorf("forward: ring version %d (2 or 3)", c.RingVersion)
	}
	switch c.IO {
	case "":
		c.IO = IOAFPacket
	case IOAFPacket, IOXDP, IOAuto:
	default:
		return nil, fmt.Errorf("forward: I/O %q (%s, %s or %s)", c.IO, IOAFPacket, IOXDP, IOAuto)
	}
	var ifaces []iface
	for i, name := range c.Interfaces {
		ifc, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("forward: interface %s: %w", name, err)
		}
		if len(ifc.HardwareAddr) != 6 {
			return nil, fmt.Errorf("forward: interface %s: not Ethernet", name)
		}
		x := iface{index: ifc.Index, slot: uint8(i), name: name, mtu: ifc.MTU}
		copy(x.mac[:], ifc.HardwareAddr)
		ifaces = append(ifaces, x)
	}
	// AF_XDP where asked for and possible: one worker per receive queue;
	// AF_PACKET elsewhere: c.Workers per interface.
	type plan struct {
		prog   *xsk.Program
		queues int
		status IOStatus
	}
	plans := make([]plan, len(ifaces))
	nw := 0
	closePlans := func() {
		for _, p := range plans {
			if p.prog != nil {
				p.prog.Close()
			}
		}
	}
	for i, x := range ifaces {
		p := &plans[i]
		p.status = IOStatus{Interface: x.name, IO: IOAFPacket, Mode: fmt.Sprintf("TPACKET_V%d", c.RingVersion)}
		if c.IO != IOAFPacket {
			flows := 0
			if c.XDPFastPath {
				flows = fastFlows
			}
			prog, queues, err := planXDP(x, flows)
			if err == nil {
				p.prog, p.queues = prog, queues
				p.status.IO, p.status.Mode = IOXDP, ""
				nw += queues
				continue
			}
			if c.IO == IOXDP {
				closePlans()
				return nil, fmt.Errorf("forward: interface %s: AF_XDP: %w", x.name, err)
			}
			p.status.Reason = err.Error()
		}
		nw += c.Workers
	}
	e := newEngine(&c, nw)
	e.ifaces = ifaces
	u := &Userspace{e: e, workers: nw}
	io := &uio{u: u, stop: make(chan struct{}), kick: make(chan struct{}, 1), pending: map[*real]bool{}}
	g, err := guard.New(guard.Config{Table: c.GuardTable, Interfaces: c.Interfaces, Logger: e.log})
	if err != nil {
		closePlans()
		return nil, fmt.Errorf("forward: %w", err)
	}
	io.guard = g
	e.resolve = io.requestResolve
	if c.LocalDevice == "" {
		c.LocalDevice = defaultLocalDevice
	}
	inj := &localInjector{}
	e.inject = inj
	io.local = localState{name: c.LocalDevice, inj: inj, seen: map[uint32]netip.Addr{}, why: map[uint32]string{}}
	for i := range plans {
		if plans[i].prog != nil {
			io.xdp = append(io.xdp, &xdpIface{prog: plans[i].prog})
		}
	}
	if c.XDPFastPath {
		f := &xdpFast{e: e, progs: make([]*xsk.Program, len(ifaces)), reals: map[uint32]*fastReal{}}
		for i := range plans {
			f.progs[i] = plans[i].prog
		}
		e.fast, io.fast = f, f
		u.fastStats = f.stats
	}
	fail := func(err error) (*Userspace, error) {
		io.close()
		return nil, err
	}
	// The guard starts empty: remove what a crashed run may have left.
	if err := g.Sync(nil, nil); err != nil {
		return fail(err)
	}
	filter := buildFilter(e.reg.load())
	fanout := uint16(os.Getpid())
	xi := 0
	for i, x := range e.ifaces {
		p := &plans[i]
		if p.prog != nil {
			xd := io.xdp[xi]
			xi++
			frameSize := 2048
			if x.mtu+18 > 2048-256 {
				frameSize = 4096
			}
			veth := isVeth(x.index)
			for q := range p.queues {
				s, err := xsk.Open(xsk.Config{Ifindex: x.index, Queue: q, FrameSize: frameSize})
				if err != nil {
					return fail(fmt.Errorf("forward: interface %s: %w", x.name, err))
				}
				xd.sockets = append(xd.sockets, s)
				xd.last = append(xd.last, xsk.Stats{})
				io.sources = append(io.sources, &xskRx{s: s, bufs: make([][]byte, 64), ifindex: x.index})
				other, err := ring.NewSender(ring.SenderConfig{Batch: 64, VnetHdr: true, QdiscBypass: !c.NoQdiscBypass})
				if err != nil {
					return fail(fmt.Errorf("forward: interface %s: %w", x.name, err))
				}
				io.senders = append(io.senders, other)
				tx := &xskTx{s: s, ifindex: x.index, other: other}
				io.fails = append(io.fails, tx.failures)
				w := newWorker(e, len(io.workers), tx)
				w.complete = veth
				io.workers = append(io.workers, w)
				if err := xd.prog.Register(q, s); err != nil {
					return fail(fmt.Errorf("forward: interface %s: %w", x.name, err))
				}
				if s.ZeroCopy {
					p.status.Mode = "zero-copy"
				} else {
					p.status.Mode = "copy"
				}
				if xd.prog.Fast() {
					p.status.Mode += ", fast path"
				}
			}
			p.status.Workers = p.queues
			e.log.Info("AF_XDP", zap.String("interface", x.name), zap.Int("queues", p.queues), zap.String("mode", p.status.Mode),
				zap.Bool("complete_partial_checksums", veth))
			if veth {
				e.log.Info("veth: partial checksums from the peer (TX checksum offload) are completed in user space, since XDP cannot see them",
					zap.String("interface", x.name))
			}
			io.status = append(io.status, p.status)
			continue
		}
		if p.status.Reason != "" {
			e.log.Warn("AF_XDP not available: AF_PACKET instead", zap.String("interface", x.name), zap.String("reason", p.status.Reason))
		}
		for range c.Workers {
			r, err := ring.Open(ring.Config{Ifindex: x.index, Version: c.RingVersion, VnetHdr: true,
				BlockSize: v3BlockSize, Blocks: v3Blocks,
				FanoutGroup: fanout + uint16(x.index)<<8, Filter: filter, FrameSize: ring.FrameSizeFor(x.mtu),
				Frames: c.RingFrames})
			if err != nil {
				return fail(fmt.Errorf("forward: interface %s: %w", x.name, err))
			}
			s, err := ring.NewSender(ring.SenderConfig{Batch: 64, VnetHdr: true, QdiscBypass: !c.NoQdiscBypass})
			if err != nil {
				r.Close()
				return fail(fmt.Errorf("forward: interface %s: %w", x.name, err))
			}
			io.rings = append(io.rings, r)
			io.sources = append(io.sources, ringRx{r})
			io.senders = append(io.senders, s)
			io.fails = append(io.fails, func() (uint64, error) { return s.Failed, s.LastErr })
			io.workers = append(io.workers, newWorker(e, len(io.workers), s))
		}
		p.status.Workers = c.Workers
		io.status = append(io.status, p.status)
	}
	u.ioStatus = io.status
	u.changed = io.sync
	u.closeFn = io.close
	u.pollIO = io.pollStats
	if io.fast != nil {
		io.fast.queues = make([]fastQueue, len(io.workers))
	}
	for i := range io.workers {
		io.wg.Add(1)
		go io.run(i)
	}
	io.wg.Add(2)
	go io.housekeeping()
	go io.resolver()
	e.log.Info("userspace forwarder started", zap.Strings("interfaces", c.Interfaces), zap.Int("workers", nw),
		zap.String("io", c.IO))
	return u, nil
}

// Close stops the workers, removes the kernel guard and forgets every
// connection.
func (u *Userspace) Close() error {
	var err error
	u.closeOnce.Do(func() {
		u.syncMu.Lock()
		u.stopSyncLocked()
		u.syncMu.Unlock()
		if u.closeFn != nil {
			err = u.closeFn()
		}
		u.e.conns.Flush()
		u.e.tpls.Flush()
	})
	return err
}

// A TPACKET_V3 ring: 128 blocks of 128 KiB (16 MiB, as much as a V2 ring
// of 8192 frames at an MTU of 1500). A block is retired when full or after
// 1 ms, so at low rates a ring holds blocks × 1 ms of traffic: 128 ms that
// a busy or descheduled worker can fall behind (8 blocks overflowed on the
// loaded 2-CPU test machine, TestUDPBurstNoLoss). A block holds a 64 KiB
// GSO super-frame whole.
const (
	v3BlockSize = 128 << 10
	v3Blocks    = 128
)

// uio is the Linux I/O side of the userspace backend.
type uio struct {
	u     *Userspace
	guard *guard.Guard
	// sources, fails and workers are per worker; rings are the AF_PACKET
	// ones among the sources, xdp the interfaces on AF_XDP.
	sources []rxSource
	fails   []func() (uint64, error)
	rings   []*ring.Ring
	senders []*ring.Sender
	workers []*worker
	xdp     []*xdpIface
	status  []IOStatus
	stop    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	pending map[*real]bool
	// kick wakes the resolver when something is pending.
	kick chan struct{}

	// statsMu serialises pollStats: PACKET_STATISTICS resets on read.
	statsMu sync.Mutex

	// xdpMu guards the XDP programs' last tuples, which the resolver
	// re-applies every second with the director's current addresses.
	xdpMu           sync.Mutex
	xdpSvcs, xdpNAT []xsk.Tuple

	local localState
	// fast is the XDP fast path (nil: off).
	fast *xdpFast
}

func (io *uio) run(i int) {
	defer io.wg.Done()
	w, r, fails := io.workers[i], io.sources[i], io.fails[i]
	frames := make([]ring.Frame, 64)
	var failed uint64
	for {
		// No timeout: close wakes the source.
		n, err := r.recv(frames)
		if err != nil {
			if !errors.Is(err, ring.ErrClosed) {
				io.u.e.log.Error("receive failed; worker stops", zap.Int("worker", i), zap.Error(err))
				io.u.fail(fmt.Errorf("worker %d stopped: receive failed: %w", i, err))
			}
			return
		}
		if n == 0 {
			continue
		}
		w.begin(io.u.e.tick(time.Now()))
		for k := range frames[:n] {
			w.handle(&frames[k])
		}
		// Frames alias the ring: send them before Recv gives them back.
		w.flush()
		if io.fast != nil {
			io.fast.commit(w.id)
		}
		if f, lastErr := fails(); f != failed {
			io.u.e.drops.txError.Add(f - failed)
			failed = f
			io.u.e.log.Debug("transmit refused", zap.Uint64("failed", failed), zap.Error(lastErr))
		}
	}
}

// pollStats adds the receive rings' kernel drop counts (frames that found
// the ring full) to the drop counters.
func (io *uio) pollStats() {
	io.statsMu.Lock()
	defer io.statsMu.Unlock()
	for _, r := range io.rings {
		if st, err := r.Stats(); err == nil && st.Drops+st.CopyLost > 0 {
			io.u.e.drops.rxOverflow.Add(st.Drops + st.CopyLost)
		}
	}
	io.pollXDP()
}

// sync re-applies the guard and the filters after a change (control lock
// held).
func (io *uio) sync() {
	snap := io.u.e.reg.load()
	var svcs, nat []guard.Tuple
	var xs, xn []xsk.Tuple
	for k, s := range snap.svcs {
		if snap.vips[k.addr] {
			svcs = append(svcs, guard.Tuple{Addr: s.cfg.Key.Addr, Proto: k.proto, Port: k.port})
			xs = append(xs, xsk.Tuple{Addr: s.cfg.Key.Addr, Proto: k.proto, Port: k.port})
		}
	}
	for k := range snap.natReals {
		a := netip.AddrFrom16(k.addr).Unmap()
		nat = append(nat, guard.Tuple{Addr: a, Proto: k.proto, Port: k.port})
		xn = append(xn, xsk.Tuple{Addr: a, Proto: k.proto, Port: k.port})
	}
	log := io.u.e.log
	// XDP first: what it steers the guard may then drop in the kernel.
	io.xdpMu.Lock()
	io.xdpSvcs, io.xdpNAT = xs, xn
	io.syncXDP(xs, xn)
	io.xdpMu.Unlock()
	if err := io.guard.Sync(svcs, nat); err != nil {
		log.Error("kernel guard not applied: the director's kernel may answer forwarded traffic", zap.Error(err))
	}
	f := buildFilter(snap)
	for _, r := range io.rings {
		if err := r.SetFilter(f); err != nil {
			log.Error("filter not applied", zap.Error(err))
		}
	}
}

func (io *uio) housekeeping() {
	defer io.wg.Done()
	t := time.NewTicker(time.Second / conntab.TicksPerSecond)
	defer t.Stop()
	var n uint64
	for {
		select {
		case <-io.stop:
			return
		case now := <-t.C:
			n++
			io.u.housekeep(now, n)
			if io.fast != nil {
				io.fast.housekeep()
			}
		}
	}
}

// requestResolve queues a real server's next hop for resolution and wakes
// the resolver. Workers call it for every packet they cannot send for want
// of a next hop; only the first of them takes the lock.
func (io *uio) requestResolve(r *real) {
	if r.asked.Swap(true) {
		return
	}
	io.mu.Lock()
	io.pending[r] = true
	io.mu.Unlock()
	select {
	case io.kick <- struct{}{}:
	default:
	}
}

// Resolver timing: every real server's next hop is re-read each
// resolverRefresh; one that is still being resolved (its neighbour
// solicited) is looked at again after resolverRetry, then after twice as
// long each time, up to resolverRefresh (a real server that is down must
// not get a solicitation storm).
const (
	resolverRefresh = time.Second
	resolverRetry   = 5 * time.Millisecond
)

// resolver keeps every real server's next hop current: the route to it,
// the neighbour entry of the next hop (asking the kernel to resolve it when
// missing), the interface's MTU and the director's source address. A real
// server added, or one a worker found without a next hop, is resolved at
// once, not at the next refresh: until then its packets are dropped.
func (io *uio) resolver() {
	defer io.wg.Done()
	t := time.NewTicker(resolverRefresh)
	defer t.Stop()
	retry := time.NewTimer(resolverRetry)
	defer retry.Stop()
	delay := resolverRetry
	for {
		all := false
		select {
		case <-io.stop:
			return
		case <-t.C:
			all = true
		case <-io.kick:
			delay = resolverRetry
		case <-retry.C:
		}
		io.mu.Lock()
		var todo []*real
		for r := range io.pending {
			todo = append(todo, r)
		}
		clear(io.pending)
		io.mu.Unlock()
		if all {
			g := &io.u.e.reg
			g.mu.Lock()
			for _, r := range g.reals {
				if r != nil {
					todo = append(todo, r)
				}
			}
			g.mu.Unlock()
		}
		changed, again := false, false
		for _, r := range todo {
			h, err := io.resolve(r.cfg.Addr)
			// A local real server's hop is set by syncLocal, once delivery
			// to it can work; one that stopped being local loses it.
			local := err == nil && h.local
			if io.noteLocal(r, local) {
				changed = true
				if !local && r.local() {
					r.hop.Store(nil)
				}
			}
			if err != nil && r.hop.Load() == nil {
				// Still pending (asked stays set, so packets do not
				// hurry it): look again after the back-off.
				io.u.e.log.Debug("next hop unresolved", zap.Stringer("real", r.cfg.Addr), zap.Error(err))
				r.asked.Store(true)
				io.mu.Lock()
				io.pending[r] = true
				io.mu.Unlock()
				again = true
				continue
			}
			r.asked.Store(false)
			if err != nil || local {
				continue
			}
			if old := r.hop.Load(); old == nil || !sameHop(old, h) {
				r.hop.Store(h)
			}
		}
		if again {
			retry.Reset(delay)
			delay = min(2*delay, resolverRefresh)
		} else {
			delay = resolverRetry
		}
		if changed || all {
			io.syncLocal(changed)
		}
		if all {
			io.xdpMu.Lock()
			io.syncXDP(io.xdpSvcs, io.xdpNAT)
			io.xdpMu.Unlock()
		}
	}
}

func sameHop(a, b *hop) bool {
	return a.local == b.local && a.ifindex == b.ifindex && a.dstMAC == b.dstMAC && a.srcMAC == b.srcMAC && a.mtu == b.mtu &&
		string(a.src) == string(b.src)
}

var errResolving = errors.New("forward: neighbour resolution in progress")

func (io *uio) resolve(a netip.Addr) (*hop, error) {
	routes, err := netlink.RouteGet(net.IP(a.AsSlice()))
	if err != nil || len(routes) == 0 {
		return nil, fmt.Errorf("forward: no route to %v: %w", a, err)
	}
	rt := routes[0]
	if rt.Type == unix.RTN_LOCAL {
		// The director's own address, or loopback: IPVS's LOCALNODE.
		return &hop{local: true}, nil
	}
	ifc := io.u.e.ifaceOf(rt.LinkIndex)
	if ifc == nil {
		return nil, fmt.Errorf("forward: route to %v leaves through ifindex %d, not a forwarding interface", a, rt.LinkIndex)
	}
	nh := a
	if rt.Gw != nil {
		if g, ok := netip.AddrFromSlice(rt.Gw); ok {
			nh = g.Unmap()
		}
	}
	h := &hop{ifindex: ifc.index, srcMAC: ifc.mac, mtu: ifc.mtu}
	if s, ok := netip.AddrFromSlice(rt.Src); ok && s.IsValid() {
		h.src = wire(s.Unmap())
	} else if s := io.ifaceAddr(ifc.index, a.Is4()); s.IsValid() {
		h.src = wire(s)
	}
	if l, err := netlink.LinkByIndex(ifc.index); err == nil {
		h.mtu = l.Attrs().MTU
	}
	fam := netlink.FAMILY_V4
	if nh.Is6() {
		fam = netlink.FAMILY_V6
	}
	neighs, err := netlink.NeighList(ifc.index, fam)
	if err != nil {
		return nil, fmt.Errorf("forward: neighbours of %s: %w", ifc.name, err)
	}
	for _, n := range neighs {
		if na, ok := netip.AddrFromSlice(n.IP); ok && na.Unmap() == nh && len(n.HardwareAddr) == 6 &&
			n.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY|netlink.NUD_PROBE|netlink.NUD_PERMANENT|netlink.NUD_NOARP) != 0 {
			copy(h.dstMAC[:], n.HardwareAddr)
			return h, nil
		}
	}
	// NTF_USE asks the kernel to resolve the neighbour as if it had a packet
	// to send there (neigh_event_send).
	_ = netlink.NeighSet(&netlink.Neigh{LinkIndex: ifc.index, Family: fam, IP: net.IP(nh.AsSlice()),
		State: netlink.NUD_NONE, Flags: unix.NTF_USE})
	return nil, errResolving
}

func (io *uio) ifaceAddr(index int, v4 bool) netip.Addr {
	l, err := netlink.LinkByIndex(index)
	if err != nil {
		return netip.Addr{}
	}
	fam := netlink.FAMILY_V6
	if v4 {
		fam = netlink.FAMILY_V4
	}
	addrs, err := netlink.AddrList(l, fam)
	if err != nil {
		return netip.Addr{}
	}
	for _, x := range addrs {
		if a, ok := netip.AddrFromSlice(x.IP); ok && !a.IsLinkLocalUnicast() {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// close stops everything and removes the guard.
func (io *uio) close() error {
	select {
	case <-io.stop:
	default:
		close(io.stop)
	}
	for _, r := range io.sources {
		r.wake()
	}
	io.wg.Wait()
	// The last counts, then no more reads of the sockets.
	io.pollStats()
	io.statsMu.Lock()
	var errs []error
	// Detach XDP first: covered frames then reach the kernel, whose guard
	// drops them until it goes too.
	for _, x := range io.xdp {
		errs = append(errs, x.prog.Close())
	}
	io.xdp = nil
	for _, r := range io.sources {
		errs = append(errs, r.close())
	}
	io.sources = nil
	for _, s := range io.senders {
		errs = append(errs, s.Close())
	}
	io.rings, io.senders = nil, nil
	io.statsMu.Unlock()
	if io.guard != nil {
		errs = append(errs, io.guard.Close())
	}
	errs = append(errs, io.closeLocal())
	return errors.Join(errs...)
}
