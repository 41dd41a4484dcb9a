package forward

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ulvs/ulvs/forward/guard"
	"github.com/ulvs/ulvs/forward/ring"
)

// injector hands packets to the director's own network stack: the local
// delivery of a real server that is the director itself (IPVS's
// LOCALNODE). pkt is an IP packet from its IP header on, vh its offload
// header with offsets counted from there. Inject must not retain pkt, and
// is called by every worker at once; worker is the caller's id.
type injector interface {
	Inject(worker int, vh *ring.VnetHdr, pkt []byte) bool
}

// local reports whether the real server's packets go to the director's own
// stack.
func (r *real) local() bool {
	h := r.hop.Load()
	return h != nil && h.local
}

// deliverLocal hands the current packet, unchanged, to the director's own
// stack, as kernel IPVS lets a packet for a local real server continue to
// its sockets (ip_vs_send_or_cont with local set). The packet keeps the
// VIP as its destination, so the VIP must be an address of the director
// (the resolver sees to that); a real server port other than the service's
// is mapped by the guard's connection-tracking DNAT on the local device,
// which also maps the replies back. The replies leave by the director's
// normal routing, not through the forwarder.
func (w *worker) deliverLocal(f *ring.Frame) {
	inj := w.e.inject
	if inj == nil {
		w.e.drops.local.Add(1)
		return
	}
	p := &w.p
	vh := &w.vh
	*vh = f.Vnet
	// DATA_VALID means nothing on transmit; the stack verifies the checksum.
	vh.Flags &^= ring.VnetDataValid
	if vh.Flags&ring.VnetNeedsCsum != 0 {
		// Offsets in the ring's header count from the Ethernet header.
		vh.CsumStart -= uint16(p.L3)
	} else if f.CsumNotReady {
		p.FixChecksums()
	}
	if vh.HdrLen > uint16(p.L3) {
		vh.HdrLen -= uint16(p.L3)
	} else {
		vh.HdrLen = 0
	}
	if vh.GSOType != ring.GSONone && vh.Flags&ring.VnetNeedsCsum == 0 {
		// A GSO frame always carries a partial checksum; one without is not
		// something to hand the kernel.
		w.e.drops.malformed.Add(1)
		return
	}
	if !inj.Inject(w.id, vh, p.B[p.L3:p.End]) {
		w.e.drops.local.Add(1)
	}
}

// localICMP hands an ICMP error that concerns a locally delivered
// connection to the director's stack (its connection tracking relates it).
func (w *worker) localICMP() {
	inj := w.e.inject
	if inj == nil {
		w.e.drops.local.Add(1)
		return
	}
	p := &w.p
	w.vh = ring.VnetHdr{}
	if !inj.Inject(w.id, &w.vh, p.B[p.L3:p.End]) {
		w.e.drops.local.Add(1)
	}
}

// localCandidate is a local real server and its service.
type localCandidate struct {
	r     *real
	vip   netip.Addr
	proto uint8
	vport uint16
	// to is the port the guard maps the service port to (0: none).
	to uint16
	// removed: it left its service and only serves its connections.
	removed bool
}

// planLocal decides which local real servers can be delivered to, and the
// port maps the guard needs for them: the service's VIP must be an address
// of the director (vipLocal), since the packet keeps it as destination, and
// the local real servers of one service must agree on the port they take
// its traffic on, since the guard maps one port per service. problem says
// why each refused one is refused. The maps come sorted.
func planLocal(cands []localCandidate, vipLocal func(netip.Addr) bool) (ok []localCandidate, maps []guard.PortMap, problem map[uint32]string) {
	type svcID struct {
		vip   netip.Addr
		proto uint8
		vport uint16
	}
	ports := map[svcID]map[uint16]bool{}
	for _, c := range cands {
		id := svcID{c.vip, c.proto, c.vport}
		if ports[id] == nil {
			ports[id] = map[uint16]bool{}
		}
		ports[id][c.to] = true
	}
	isLocal := map[netip.Addr]bool{}
	problem = map[uint32]string{}
	for _, c := range cands {
		if _, known := isLocal[c.vip]; !known {
			isLocal[c.vip] = vipLocal(c.vip)
		}
		switch {
		case !isLocal[c.vip]:
			problem[c.r.handle] = fmt.Sprintf("the VIP %v is not an address of this director: a local real server gets the packet with the VIP as its destination", c.vip)
		case len(ports[svcID{c.vip, c.proto, c.vport}]) > 1:
			problem[c.r.handle] = "the local real servers of this service listen on different ports; local delivery maps one port per service"
		default:
			ok = append(ok, c)
			if c.to != 0 {
				maps = append(maps, guard.PortMap{Addr: c.vip, Proto: c.proto, Port: c.vport, ToPort: c.to})
			}
		}
	}
	slices.SortFunc(maps, comparePortMaps)
	return ok, slices.Compact(maps), problem
}

func comparePortMaps(a, b guard.PortMap) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	if a.Proto != b.Proto {
		return int(a.Proto) - int(b.Proto)
	}
	return int(a.Port) - int(b.Port)
}
