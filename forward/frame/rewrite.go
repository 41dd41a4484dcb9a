package frame

import "encoding/binary"

// SetMACs writes the destination and source MAC addresses.
func (p *Packet) SetMACs(dst, src []byte) {
	copy(p.B[0:6], dst)
	copy(p.B[6:12], src)
}

// SetDst rewrites the destination address (4 or 16 bytes, of p's family)
// and, when p carries a transport header with ports, the destination port,
// updating every checksum incrementally. partial says the transport checksum
// field holds an offloaded pseudo-header sum (see the package doc).
func (p *Packet) SetDst(addr []byte, port uint16, partial bool) {
	p.rewrite(p.DstIP(), 2, addr, port, partial)
	if p.hasPorts() {
		p.DstPort = port
	}
}

// SetSrc is SetDst for the source address and port.
func (p *Packet) SetSrc(addr []byte, port uint16, partial bool) {
	p.rewrite(p.SrcIP(), 0, addr, port, partial)
	if p.hasPorts() {
		p.SrcPort = port
	}
}

func (p *Packet) hasPorts() bool {
	if p.L4 == 0 || p.Flags&FlagLaterFragment != 0 {
		return false
	}
	return p.Proto == ProtoTCP || p.Proto == ProtoUDP || p.Proto == ProtoSCTP
}

// rewrite replaces the address field old with addr, and the port at
// L4+portOff with port.
func (p *Packet) rewrite(old []byte, portOff int, addr []byte, port uint16, partial bool) {
	b := p.B
	if p.Family == 4 {
		at := p.L3 + 10
		binary.BigEndian.PutUint16(b[at:], Update(binary.BigEndian.Uint16(b[at:]), old, addr))
	}
	cs := p.L4Checksum()
	if cs >= 0 && cs+2 > len(b) {
		cs = -1 // a quoted packet cut before its checksum
	}
	// A UDP/IPv4 checksum of zero means "none" (RFC 768) and stays so.
	noCsum := cs >= 0 && p.Proto == ProtoUDP && p.Family == 4 && binary.BigEndian.Uint16(b[cs:]) == 0
	if cs >= 0 && !noCsum && p.Proto != ProtoICMP {
		c := binary.BigEndian.Uint16(b[cs:])
		if partial {
			c = updatePartial(c, old, addr)
		} else {
			c = Update(c, old, addr)
		}
		binary.BigEndian.PutUint16(b[cs:], fixUDPZero(p.Proto, c, partial))
	}
	copy(old, addr)
	if !p.hasPorts() || p.L4+portOff+2 > len(b) {
		return
	}
	pa := p.L4 + portOff
	oldPort := binary.BigEndian.Uint16(b[pa:])
	if oldPort == port {
		return
	}
	binary.BigEndian.PutUint16(b[pa:], port)
	switch {
	case p.Proto == ProtoSCTP:
		if p.Flags&(FlagFragment|FlagTruncated) == 0 {
			binary.LittleEndian.PutUint32(b[p.L4+8:], SCTPChecksum(b[p.L4:p.End]))
		}
	case cs >= 0 && !noCsum && !partial:
		c := Update16(binary.BigEndian.Uint16(b[cs:]), oldPort, port)
		binary.BigEndian.PutUint16(b[cs:], fixUDPZero(p.Proto, c, false))
	}
}

// fixUDPZero maps a computed UDP checksum of 0 to 0xffff (RFC 768): on the
// wire zero means "no checksum".
func fixUDPZero(proto uint8, c uint16, partial bool) uint16 {
	if proto == ProtoUDP && c == 0 && !partial {
		return 0xffff
	}
	return c
}

// DecTTL decrements the IPv4 TTL (updating the header checksum) or the IPv6
// hop limit. It reports false, changing nothing, when the packet must not be
// forwarded any further (TTL 1 or 0).
func (p *Packet) DecTTL() bool {
	b := p.B
	if p.Family == 4 {
		ttl := b[p.L3+8]
		if ttl <= 1 {
			return false
		}
		old := binary.BigEndian.Uint16(b[p.L3+8:])
		b[p.L3+8] = ttl - 1
		at := p.L3 + 10
		binary.BigEndian.PutUint16(b[at:], Update16(binary.BigEndian.Uint16(b[at:]), old, binary.BigEndian.Uint16(b[p.L3+8:])))
		return true
	}
	if b[p.L3+7] <= 1 {
		return false
	}
	b[p.L3+7]--
	return true
}

// FixICMP recomputes an ICMP or ICMPv6 checksum in full, as IPVS does after
// rewriting the packet an ICMP error quotes.
func (p *Packet) FixICMP() {
	if p.L4 == 0 || (p.Proto != ProtoICMP && p.Proto != ProtoICMPv6) {
		return
	}
	binary.BigEndian.PutUint16(p.B[p.L4+2:], 0)
	if c, ok := p.TransportChecksum(); ok {
		binary.BigEndian.PutUint16(p.B[p.L4+2:], c)
	}
}
