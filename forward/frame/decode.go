package frame

import (
	"encoding/binary"
	"net/netip"
)

// EtherTypes and IP protocol numbers the codec knows.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeIPv6 = 0x86dd
	EtherTypeVLAN = 0x8100
	EtherTypeQinQ = 0x88a8
	EtherTypeARP  = 0x0806

	ProtoICMP   = 1
	ProtoIPIP   = 4
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoIPv6   = 41
	ProtoICMPv6 = 58
	ProtoSCTP   = 132

	// EthLen is the length of an Ethernet header without a VLAN tag.
	EthLen = 14
	// IPv4Len and IPv6Len are the lengths of option-free IP headers.
	IPv4Len = 20
	IPv6Len = 40
)

// TCP flag bits as they sit in the TCP header's flags byte.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
)

// Flags describe what Decode found.
type Flags uint16

// Flag values.
const (
	// FlagMalformed marks a frame whose headers do not hold together; no
	// other field may be trusted.
	FlagMalformed Flags = 1 << iota
	// FlagFragment marks an IP fragment (first or not).
	FlagFragment
	// FlagLaterFragment marks a fragment other than the first: it carries no
	// transport header, so L4, ports and TCP flags are unset.
	FlagLaterFragment
	// FlagMoreFragments is IPv4 MF or the IPv6 fragment header's M bit.
	FlagMoreFragments
	// FlagDontFragment is IPv4's DF bit.
	FlagDontFragment
	// FlagICMPError marks an ICMP or ICMPv6 error that quotes a packet.
	FlagICMPError
	// FlagTruncated marks a packet cut short: an ICMP error's quoted packet,
	// whose transport header may be partial beyond its first 8 bytes.
	FlagTruncated
	// FlagVLAN marks a frame with an in-band 802.1Q tag.
	FlagVLAN
)

// Packet is a borrowed view of one frame (or, for Inner, of the IP packet an
// ICMP error quotes). Offsets index B. The zero value is an undecoded packet.
type Packet struct {
	// B is the frame; Packet aliases it.
	B []byte
	// L3 is the offset of the IP header, L4 of the transport header (0 when
	// there is none: a later fragment, or an unknown protocol's payload still
	// sets it), End the end of the IP packet (frames may carry padding).
	L3, L4, End int
	// FragHdr is the offset of the IPv6 fragment header (0 if none).
	FragHdr int
	// Family is 4 or 6 (0 when the frame is not IP).
	Family uint8
	// Proto is the transport protocol (after IPv6 extension headers).
	Proto uint8
	// TCPFlags holds the TCP flags byte.
	TCPFlags uint8
	// ICMPType and ICMPCode of an ICMP or ICMPv6 packet.
	ICMPType, ICMPCode uint8
	// Flags says what was found.
	Flags Flags
	// EtherType is the frame's (inner, after VLAN) EtherType.
	EtherType uint16
	// SrcPort and DstPort of TCP, UDP and SCTP; for ICMP echo, the
	// identifier is in both.
	SrcPort, DstPort uint16
	// FragID is the IP identification of a fragment (IPv4's 16 bits or
	// IPv6's 32).
	FragID uint32
	// FragOffset is the fragment offset in bytes.
	FragOffset int
}

// Has reports whether every flag in f is set.
func (p *Packet) Has(f Flags) bool { return p.Flags&f == f }

// OK reports whether the frame decoded as IP without being malformed.
func (p *Packet) OK() bool { return p.Family != 0 && p.Flags&FlagMalformed == 0 }

// Decode decodes an Ethernet frame into p. It never allocates; a frame it
// cannot parse gets FlagMalformed (or Family 0 when it is not IP at all).
func (p *Packet) Decode(b []byte) {
	*p = Packet{B: b}
	if len(b) < EthLen {
		p.Flags = FlagMalformed
		return
	}
	off := 12
	et := binary.BigEndian.Uint16(b[off:])
	for et == EtherTypeVLAN || et == EtherTypeQinQ {
		p.Flags |= FlagVLAN
		off += 4
		if len(b) < off+2 {
			p.Flags |= FlagMalformed
			return
		}
		et = binary.BigEndian.Uint16(b[off:])
	}
	p.EtherType = et
	switch et {
	case EtherTypeIPv4:
		p.decodeIPv4(off+2, len(b), false)
	case EtherTypeIPv6:
		p.decodeIPv6(off+2, len(b), false)
	}
}

// DecodeIP decodes a bare IP packet (no Ethernet header), as read from a
// TUN device or a raw socket.
func (p *Packet) DecodeIP(b []byte) {
	*p = Packet{B: b}
	if len(b) == 0 {
		p.Flags = FlagMalformed
		return
	}
	switch b[0] >> 4 {
	case 4:
		p.EtherType = EtherTypeIPv4
		p.decodeIPv4(0, len(b), false)
	case 6:
		p.EtherType = EtherTypeIPv6
		p.decodeIPv6(0, len(b), false)
	default:
		p.Flags = FlagMalformed
	}
}

// decodeIPv4 decodes the IPv4 packet at b[off:lim]. quoted is set for the
// packet inside an ICMP error, which may be cut short.
func (p *Packet) decodeIPv4(off, lim int, quoted bool) {
	b := p.B
	p.Family, p.L3 = 4, off
	if lim-off < IPv4Len || b[off]>>4 != 4 {
		p.Flags |= FlagMalformed
		return
	}
	ihl := int(b[off]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[off+2:]))
	if ihl < IPv4Len || total < ihl || lim-off < ihl {
		p.Flags |= FlagMalformed
		return
	}
	p.End = off + total
	if p.End > lim {
		if !quoted {
			p.Flags |= FlagMalformed
			return
		}
		p.Flags |= FlagTruncated
		p.End = lim
	}
	p.Proto = b[off+9]
	frag := binary.BigEndian.Uint16(b[off+6:])
	if frag&0x4000 != 0 {
		p.Flags |= FlagDontFragment
	}
	if frag&0x3fff != 0 {
		p.Flags |= FlagFragment
		p.FragID = uint32(binary.BigEndian.Uint16(b[off+4:]))
		p.FragOffset = int(frag&0x1fff) * 8
		if frag&0x2000 != 0 {
			p.Flags |= FlagMoreFragments
		}
		if p.FragOffset != 0 {
			p.Flags |= FlagLaterFragment
			return
		}
	}
	p.decodeL4(off+ihl, quoted)
}

// decodeIPv6 decodes the IPv6 packet at b[off:lim], walking extension
// headers up to the transport header.
func (p *Packet) decodeIPv6(off, lim int, quoted bool) {
	b := p.B
	p.Family, p.L3 = 6, off
	if lim-off < IPv6Len || b[off]>>4 != 6 {
		p.Flags |= FlagMalformed
		return
	}
	p.End = off + IPv6Len + int(binary.BigEndian.Uint16(b[off+4:]))
	if p.End > lim {
		if !quoted {
			p.Flags |= FlagMalformed
			return
		}
		p.Flags |= FlagTruncated
		p.End = lim
	}
	next := b[off+6]
	at := off + IPv6Len
	// RFC 8200 §4.1: extension headers in a bounded chain; stop at the first
	// header that is not one of them.
	for range 8 {
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, dest opts, mobility, HIP, shim6
			if p.End-at < 8 {
				p.Flags |= FlagMalformed
				return
			}
			next, at = b[at], at+(int(b[at+1])+1)*8
		case 51: // AH: length in 4-octet units minus 2
			if p.End-at < 8 {
				p.Flags |= FlagMalformed
				return
			}
			next, at = b[at], at+(int(b[at+1])+2)*4
		case 44: // fragment
			if p.End-at < 8 {
				p.Flags |= FlagMalformed
				return
			}
			p.FragHdr = at
			fo := binary.BigEndian.Uint16(b[at+2:])
			p.FragID = binary.BigEndian.Uint32(b[at+4:])
			p.FragOffset = int(fo &^ 7)
			if fo&1 != 0 {
				p.Flags |= FlagMoreFragments
			}
			if p.FragOffset != 0 || fo&1 != 0 {
				p.Flags |= FlagFragment
			}
			next, at = b[at], at+8
			if p.FragOffset != 0 {
				p.Proto = next
				p.Flags |= FlagLaterFragment
				return
			}
		default:
			p.Proto = next
			if at > p.End {
				p.Flags |= FlagMalformed
				return
			}
			p.decodeL4(at, quoted)
			return
		}
	}
	p.Flags |= FlagMalformed
}

// decodeL4 reads the transport header at off. A quoted packet only promises
// its first 8 bytes.
func (p *Packet) decodeL4(off int, quoted bool) {
	b := p.B[:p.End]
	p.L4 = off
	n := len(b) - off
	switch p.Proto {
	case ProtoTCP:
		if n < 20 {
			if quoted && n >= 8 {
				p.SrcPort = binary.BigEndian.Uint16(b[off:])
				p.DstPort = binary.BigEndian.Uint16(b[off+2:])
				return
			}
			p.Flags |= FlagMalformed
			return
		}
		doff := int(b[off+12]>>4) * 4
		if doff < 20 || (doff > n && !quoted) {
			p.Flags |= FlagMalformed
			return
		}
		p.SrcPort = binary.BigEndian.Uint16(b[off:])
		p.DstPort = binary.BigEndian.Uint16(b[off+2:])
		p.TCPFlags = b[off+13]
	case ProtoUDP, ProtoSCTP:
		min := 8
		if p.Proto == ProtoSCTP {
			min = 12
		}
		if n < min && !(quoted && n >= 8) {
			p.Flags |= FlagMalformed
			return
		}
		p.SrcPort = binary.BigEndian.Uint16(b[off:])
		p.DstPort = binary.BigEndian.Uint16(b[off+2:])
	case ProtoICMP, ProtoICMPv6:
		if (p.Proto == ProtoICMP) != (p.Family == 4) || n < 8 {
			p.Flags |= FlagMalformed
			return
		}
		p.ICMPType, p.ICMPCode = b[off], b[off+1]
		if isICMPError(p.Family, p.ICMPType) {
			p.Flags |= FlagICMPError
		} else if isICMPEcho(p.Family, p.ICMPType) {
			p.SrcPort = binary.BigEndian.Uint16(b[off+4:])
			p.DstPort = p.SrcPort
		}
	}
}

func isICMPError(family, typ uint8) bool {
	if family == 4 {
		// Destination unreachable, source quench, redirect, time exceeded,
		// parameter problem.
		return typ == 3 || typ == 4 || typ == 5 || typ == 11 || typ == 12
	}
	return typ < 128 && typ >= 1 && typ <= 4
}

func isICMPEcho(family, typ uint8) bool {
	if family == 4 {
		return typ == 8 || typ == 0
	}
	return typ == 128 || typ == 129
}

// Inner decodes the packet an ICMP error quotes into q. It reports false
// when p is not an ICMP error or the quote is not an IP packet of p's family
// with at least the 8 transport bytes RFC 792 promises.
func (p *Packet) Inner(q *Packet) bool {
	if p.Flags&FlagICMPError == 0 || p.Flags&FlagMalformed != 0 {
		return false
	}
	*q = Packet{B: p.B[:p.End], EtherType: p.EtherType}
	at := p.L4 + 8
	if p.Family == 4 {
		q.decodeIPv4(at, p.End, true)
	} else {
		q.decodeIPv6(at, p.End, true)
	}
	if q.Flags&FlagMalformed != 0 || q.L4 == 0 || q.Flags&FlagLaterFragment != 0 || p.End-q.L4 < 8 {
		return false
	}
	return true
}

// SrcIP returns the source address bytes (4 or 16), aliasing B.
func (p *Packet) SrcIP() []byte {
	if p.Family == 4 {
		return p.B[p.L3+12 : p.L3+16]
	}
	return p.B[p.L3+8 : p.L3+24]
}

// DstIP returns the destination address bytes (4 or 16), aliasing B.
func (p *Packet) DstIP() []byte {
	if p.Family == 4 {
		return p.B[p.L3+16 : p.L3+20]
	}
	return p.B[p.L3+24 : p.L3+40]
}

// SrcAddr returns the source address.
func (p *Packet) SrcAddr() netip.Addr { return addrOf(p.SrcIP()) }

// DstAddr returns the destination address.
func (p *Packet) DstAddr() netip.Addr { return addrOf(p.DstIP()) }

func addrOf(b []byte) netip.Addr {
	if len(b) == 4 {
		return netip.AddrFrom4([4]byte(b))
	}
	return netip.AddrFrom16([16]byte(b))
}

// DstMAC and SrcMAC return the MAC addresses, aliasing B.
func (p *Packet) DstMAC() []byte { return p.B[0:6] }

// SrcMAC returns the source MAC address, aliasing B.
func (p *Packet) SrcMAC() []byte { return p.B[6:12] }

// IPLen returns the length of the IP packet (header and payload).
func (p *Packet) IPLen() int { return p.End - p.L3 }

// TTL returns the IPv4 TTL or IPv6 hop limit.
func (p *Packet) TTL() uint8 {
	if p.Family == 4 {
		return p.B[p.L3+8]
	}
	return p.B[p.L3+7]
}

// L4Checksum returns the offset of the transport checksum field, or -1 when
// the packet has none that addresses or ports affect (later fragments, SCTP,
// unknown protocols).
func (p *Packet) L4Checksum() int {
	if p.L4 == 0 || p.Flags&FlagLaterFragment != 0 {
		return -1
	}
	switch p.Proto {
	case ProtoTCP:
		return p.L4 + 16
	case ProtoUDP:
		return p.L4 + 6
	case ProtoICMP, ProtoICMPv6:
		return p.L4 + 2
	}
	return -1
}
