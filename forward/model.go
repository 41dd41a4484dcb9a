package forward

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/ulvs/ulvs/sched"
)

// hop is how to reach a real server: the interface, the Ethernet addresses
// and the MTU, and the director's source address on that interface (the
// outer source of TUN packets); or, with local set, nothing of that: the
// real server is the director itself and its packets go to its own stack.
type hop struct {
	local   bool
	ifindex int
	srcMAC  [6]byte
	dstMAC  [6]byte
	mtu     int
	src     []byte
}

// real is one real server of one service (or a sorry server).
type real struct {
	cfg    RealConfig
	method Method
	dest   *sched.Dest
	handle uint32
	svc    *service
	addr   [16]byte
	ab     []byte // wire bytes of addr
	hop    atomic.Pointer[hop]
	// asked is set while a resolution of hop is queued, so that a flood
	// of packets to an unresolved real server queues it once.
	asked atomic.Bool
	stats counterSet
	est   estimator
	// removed is set (under the control lock) when the real server left
	// its service; its handle is recycled once no entry refers to it.
	removed bool
}

// service is one virtual service.
type service struct {
	cfg     ServiceConfig
	id      uint16
	sched   *sched.Service
	reals   map[netip.AddrPort]*real
	sorry   *real
	sorryS  *sched.Service
	vaddr   [16]byte
	vb      []byte
	mask    [16]byte
	persist uint32 // ticks
	stats   counterSet
	est     estimator
}

// svcKey is the packed key of the service map.
type svcKey struct {
	addr  [16]byte
	port  uint16
	proto uint8
}

// snapshot is what workers read, published whole on every change.
type snapshot struct {
	svcs     map[svcKey]*service
	natReals map[svcKey]bool
	natAddrs map[[16]byte]bool // addresses of natReals
	vips     map[[16]byte]bool // enabled VIPs
	dests    map[*sched.Dest]*real
	reals    []*real // by handle
	svcByID  []*service
}

func (s *snapshot) real(h uint32) *real {
	if int(h) < len(s.reals) {
		return s.reals[h]
	}
	return nil
}

// registry hands out real-server handles (conntab entries store them) and
// publishes snapshots.
type registry struct {
	mu       sync.Mutex
	svcs     map[ServiceKey]*service
	disabled map[netip.Addr]bool
	reals    []*real
	freeIDs  []uint16
	nextID   uint16
	cur      atomic.Pointer[snapshot]
}

func (g *registry) load() *snapshot { return g.cur.Load() }

// serviceLocked finds the service k names (normalised) or says it is not
// there.
func (g *registry) serviceLocked(k ServiceKey) (ServiceKey, *service, error) {
	k = normKey(k)
	s := g.svcs[k]
	if s == nil {
		return k, nil, fmt.Errorf("%w: service %v", ErrNotFound, k)
	}
	return k, s, nil
}

// publishLocked rebuilds the snapshot from the registry.
func (g *registry) publishLocked() {
	s := &snapshot{svcs: map[svcKey]*service{}, natReals: map[svcKey]bool{}, natAddrs: map[[16]byte]bool{}, vips: map[[16]byte]bool{},
		dests: map[*sched.Dest]*real{}, reals: append([]*real(nil), g.reals...)}
	for _, sv := range g.svcs {
		k := svcKey{addr: sv.vaddr, port: sv.cfg.Key.Port, proto: sv.cfg.Key.Proto}
		s.svcs[k] = sv
		if !g.disabled[sv.cfg.Key.Addr.Unmap()] {
			s.vips[sv.vaddr] = true
		}
		for int(sv.id) >= len(s.svcByID) {
			s.svcByID = append(s.svcByID, nil)
		}
		s.svcByID[sv.id] = sv
		add := func(r *real) {
			s.dests[r.dest] = r
			if r.method == NAT && !r.local() {
				s.natReals[svcKey{addr: r.addr, port: r.cfg.Port, proto: sv.cfg.Key.Proto}] = true
				s.natAddrs[r.addr] = true
			}
		}
		for _, r := range sv.reals {
			add(r)
		}
		if sv.sorry != nil {
			add(sv.sorry)
		}
	}
	// Removed real servers keep their handles (and stay reachable) while
	// connections use them.
	for _, r := range g.reals {
		if r != nil && r.removed {
			s.dests[r.dest] = r
			if r.method == NAT && !r.local() {
				s.natReals[svcKey{addr: r.addr, port: r.cfg.Port, proto: r.svc.cfg.Key.Proto}] = true
				s.natAddrs[r.addr] = true
			}
		}
	}
	g.cur.Store(s)
}

func (g *registry) newRealLocked(r *real) {
	for i, x := range g.reals {
		if x == nil && i > 0 {
			r.handle = uint32(i)
			g.reals[i] = r
			return
		}
	}
	if len(g.reals) == 0 {
		g.reals = append(g.reals, nil) // handle 0 is none
	}
	r.handle = uint32(len(g.reals))
	g.reals = append(g.reals, r)
}

// recycleLocked frees the handles of removed real servers that no entry
// refers to any more.
func (g *registry) recycleLocked() bool {
	changed := false
	for i, r := range g.reals {
		if r != nil && r.removed && r.dest.ActiveConns() == 0 && r.dest.InactiveConns() == 0 && r.dest.PersistConns() == 0 {
			g.reals[i] = nil
			changed = true
		}
	}
	return changed
}

func put16(a netip.Addr) [16]byte { return a.As16() }

func wire(a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return b[:]
	}
	b := a.As16()
	return b[:]
}

// maskFor returns a persistence mask in the 16-byte form: granularity bits
// of the address (IPv4 counted inside its IPv4-mapped form).
func maskFor(a netip.Addr, bits int) [16]byte {
	if bits == 0 {
		bits = a.BitLen()
	}
	if a.Is4() {
		bits += 96
	}
	var m [16]byte
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
			bits -= 8
		case bits > 0:
			m[i] = ^byte(0xff >> bits)
			bits = 0
		}
	}
	return m
}
