package forward

import "github.com/ulvs/ulvs/forward/ring"

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
