package forward

import (
	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/frame"
	"github.com/ulvs/ulvs/forward/ring"
)

// xmit sends the current packet to real server r by method.
func (w *worker) xmit(f *ring.Frame, r *real, method Method, rport uint16, partial bool) {
	hp := r.hop.Load()
	if hp == nil {
		w.e.drops.noHop.Add(1)
		if w.e.resolve != nil {
			w.e.resolve(r)
		}
		return
	}
	if hp.local {
		w.deliverLocal(f)
		return
	}
	if method == Local {
		// The connection began while the real server's address was the
		// director's own; it is not any more.
		method = r.method
	}
	p := &w.p
	switch method {
	case NAT:
		p.SetDst(r.ab, rport, partial)
		fallthrough
	case DR:
		p.SetMACs(hp.dstMAC[:], hp.srcMAC[:])
		w.send(hp.ifindex, txVnet(f), p.B[:p.End], nil)
	case TUN:
		w.tunnel(f, r, hp, partial)
	}
}

// txVnet returns the offload header to send a frame with: the one it came
// with, so the kernel completes partial checksums and segments GSO frames
// (DATA_VALID means nothing on transmit).
func txVnet(f *ring.Frame) *ring.VnetHdr {
	f.Vnet.Flags &^= ring.VnetDataValid
	return &f.Vnet
}

// tunnel encapsulates the current packet in IPIP or IPv6-in-IPv6 to r.
// Offloads cannot cross the encapsulation, so partial checksums are
// completed and GSO super-frames segmented here; a packet that will not fit
// the path gets ICMP fragmentation-needed (packet too big) back to the
// client when it may not be fragmented, as ip_vs_tunnel_xmit does, and is
// sent in outer fragments when it may.
func (w *worker) tunnel(f *ring.Frame, r *real, hp *hop, partial bool) {
	p := &w.p
	outer := frame.IPv6Len
	if len(hp.src) == 4 {
		outer = frame.IPv4Len
	}
	room := hp.mtu - outer
	if f.Vnet.GSOType != ring.GSONone && p.Proto == frame.ProtoTCP {
		doff := int(p.B[p.L4+12]>>4) * 4
		hdrs := p.L4 + doff - p.L3
		if hdrs+int(f.Vnet.GSOSize) > room {
			w.e.drops.tooBig.Add(1)
			w.sendICMP(f, frame.ICMPFragNeeded, uint32(room))
			return
		}
		if !w.seg.Reset(p, int(f.Vnet.GSOSize)) {
			return
		}
		for {
			b := w.buf()
			n := w.seg.Next(b[frame.EthLen+outer:])
			if n == 0 {
				w.used--
				return
			}
			var seg frame.Packet
			seg.DecodeIP(b[frame.EthLen+outer : frame.EthLen+outer+n])
			h := frame.PutTunnelHeader(b, hp.dstMAC[:], hp.srcMAC[:], hp.src, r.ab, &seg, w.nextID())
			w.send(hp.ifindex, nil, b[:h+n], nil)
		}
	}
	if p.IPLen() > room {
		if p.Family == 6 || p.Has(frame.FlagDontFragment) {
			w.e.drops.tooBig.Add(1)
			mtu := uint32(room)
			if p.Family == 6 && mtu < 1280 {
				mtu = 1280
			}
			w.sendICMP(f, frame.ICMPFragNeeded, mtu)
			return
		}
		w.tunnelFragments(f, r, hp, partial)
		return
	}
	if partial {
		p.FixChecksums()
	}
	b := w.buf()
	h := frame.PutTunnelHeader(b, hp.dstMAC[:], hp.srcMAC[:], hp.src, r.ab, p, w.nextID())
	w.send(hp.ifindex, nil, b[:h], p.B[p.L3:p.End])
}

// tunnelFragments sends an IPv4 packet without DF that does not fit the
// tunnel as kernel IPVS does: ip_vs_tunnel_xmit copies the (clear) DF bit to
// the outer header, and the stack's ip_fragment splits the outer packet,
// an outer header on every fragment; the real server reassembles it before
// it decapsulates. A UDP GSO frame holding several datagrams is not one
// packet to fragment, and is dropped.
func (w *worker) tunnelFragments(f *ring.Frame, r *real, hp *hop, partial bool) {
	p := &w.p
	step := frame.FragmentPayload(hp.mtu, frame.IPv4Len)
	if len(hp.src) != 4 || step < 8 || (f.Vnet.GSOType != ring.GSONone && f.Vnet.GSOType != ring.GSOUDP) {
		w.e.drops.tooBig.Add(1)
		return
	}
	if partial {
		p.FixChecksums()
	}
	h := frame.PutTunnelHeader(w.outer[:], hp.dstMAC[:], hp.srcMAC[:], hp.src, r.ab, p, w.nextID())
	inner := p.B[p.L3:p.End]
	for off := 0; off < len(inner); off += step {
		n := min(step, len(inner)-off)
		b := w.buf()
		k := frame.PutFragmentHeader(b, w.outer[:h], frame.EthLen, len(inner), off, n)
		w.send(hp.ifindex, nil, b[:k], inner[off:off+n])
	}
}

// out forwards a NAT real server's reply back to the client.
func (w *worker) out(f *ring.Frame, sport, dport uint16, partial bool) {
	p := &w.p
	var key conntab.Key
	key.Proto, key.CPort, key.Port, key.Direction = p.Proto, dport, sport, conntab.Out
	conntab.Put16(&key.CAddr, p.DstIP())
	conntab.Put16(&key.Addr, p.SrcIP())
	h := w.e.conns.Hash(key.Proto, &key.CAddr, key.CPort)
	sh := w.e.conns.Shard(h)
	sh.Lock()
	e := sh.FindLocked(h, &key)
	if e == nil {
		sh.Unlock()
		return // not a connection of ours (the director's own traffic)
	}
	r := w.snap.real(e.Dest)
	if r == nil {
		sh.Unlock()
		return
	}
	if e.MAC == ([6]byte{}) {
		// Synced from another director, and the client has sent nothing
		// through this one yet: its next hop is unknown (the real server
		// retransmits; the client's next packet teaches it).
		sh.Unlock()
		w.e.drops.noHop.Add(1)
		return
	}
	w.advance(e, r, conntab.Output)
	if w.e.fast != nil {
		// A real server's FIN or RST takes the connection off the fast
		// path (the client's next packets change its state again).
		w.fastUpdate(e, r)
	}
	vaddr, vport, mac, slot := e.VAddr, e.VPort, e.MAC, e.Ifx
	svcID := e.Svc
	sh.Unlock()
	if !p.DecTTL() {
		w.e.drops.ttl.Add(1)
		return
	}
	p.SetSrc(conntab.Bytes(&vaddr), vport, partial)
	if int(svcID) < len(w.snap.svcByID) && w.snap.svcByID[svcID] != nil {
		w.count(w.snap.svcByID[svcID], r, false)
	}
	in := &w.e.ifaces[slot]
	p.SetMACs(mac[:], in.mac[:])
	w.send(in.index, txVnet(f), p.B[:p.End], nil)
}

// icmpError sends an ICMP error that concerns a connection after it: to
// the real server when it came from the client's side, to the client when a
// NAT real server sent it (ip_vs_in_icmp, ip_vs_out_icmp).
func (w *worker) icmpError(f *ring.Frame) {
	p, q := &w.p, &w.q
	if !p.Inner(q) {
		return
	}
	// ip_vs_in_icmp verifies the whole message before following it (the
	// rewrite below recomputes the checksum, which would launder a bad
	// one). A partial or already verified checksum needs no check.
	if !p.HeaderValid() || f.Vnet.Flags&(ring.VnetNeedsCsum|ring.VnetDataValid) == 0 && !f.CsumNotReady && !p.ChecksumValid() {
		if w.isOurs(p) || w.fromNATReal(p) {
			w.e.drops.badCsum.Add(1)
		}
		return
	}
	var key conntab.Key
	key.Proto = q.Proto
	var a [16]byte
	conntab.Put16(&a, p.DstIP())
	toVIP := w.snap.vips[a]
	if toVIP {
		// The quoted packet went from the VIP to the client.
		key.Direction, key.CPort, key.Port = conntab.In, q.DstPort, q.SrcPort
		conntab.Put16(&key.CAddr, q.DstIP())
		conntab.Put16(&key.Addr, q.SrcIP())
	} else {
		// The quoted packet went from the client to a NAT real server.
		key.Direction, key.CPort, key.Port = conntab.Out, q.SrcPort, q.DstPort
		conntab.Put16(&key.CAddr, q.SrcIP())
		conntab.Put16(&key.Addr, q.DstIP())
	}
	h := w.e.conns.Hash(key.Proto, &key.CAddr, key.CPort)
	sh := w.e.conns.Shard(h)
	sh.Lock()
	e := sh.FindLocked(h, &key)
	if e == nil {
		sh.Unlock()
		return
	}
	r := w.snap.real(e.Dest)
	method, rport, vaddr, vport, mac, slot := Method(e.Method), e.DPort, e.VAddr, e.VPort, e.MAC, e.Ifx
	sh.Unlock()
	if r == nil {
		return
	}
	if toVIP {
		if r.local() {
			w.localICMP()
			return
		}
		if method == NAT {
			p.SetDst(r.ab, 0, false)
			q.SetSrc(r.ab, rport, false)
			p.FixICMP()
		}
		w.xmitICMP(f, r, method)
		return
	}
	if !p.DecTTL() {
		return
	}
	p.SetSrc(conntab.Bytes(&vaddr), 0, false)
	q.SetDst(conntab.Bytes(&vaddr), vport, false)
	p.FixICMP()
	in := &w.e.ifaces[slot]
	p.SetMACs(mac[:], in.mac[:])
	w.send(in.index, nil, p.B[:p.End], nil)
}

// xmitICMP sends an ICMP error on to the real server (no fragmentation
// check: errors are short).
func (w *worker) xmitICMP(f *ring.Frame, r *real, method Method) {
	hp := r.hop.Load()
	if hp == nil {
		return
	}
	p := &w.p
	if method == TUN {
		b := w.buf()
		h := frame.PutTunnelHeader(b, hp.dstMAC[:], hp.srcMAC[:], hp.src, r.ab, p, w.nextID())
		w.send(hp.ifindex, nil, b[:h], p.B[p.L3:p.End])
		return
	}
	p.SetMACs(hp.dstMAC[:], hp.srcMAC[:])
	w.send(hp.ifindex, nil, p.B[:p.End], nil)
}
