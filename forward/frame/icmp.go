package frame

import "encoding/binary"

// ICMP error kinds the data path sends.
const (
	// ICMPFragNeeded is IPv4 "fragmentation needed" (RFC 1191) or ICMPv6
	// "packet too big" (RFC 8201).
	ICMPFragNeeded = iota + 1
	// ICMPPortUnreachable is what IPVS's ip_vs_leave sends when a virtual
	// service has no real server.
	ICMPPortUnreachable
)

// MaxICMPError is the largest frame PutICMPError writes: RFC 1812 §4.3.2.3
// limits an IPv4 error to 576 bytes, RFC 4443 §2.4(c) an ICMPv6 error to the
// IPv6 minimum MTU, 1280.
const MaxICMPError = EthLen + 1280

// PutICMPError writes into out (at least MaxICMPError bytes) an Ethernet
// frame carrying an ICMP error about the packet p, addressed back to p's
// source from src (p's family), with Ethernet addresses dstMAC and srcMAC.
// kind is ICMPFragNeeded (mtu is the next-hop MTU to report) or
// ICMPPortUnreachable. It returns the frame length.
func PutICMPError(out []byte, p *Packet, kind int, mtu uint32, src, dstMAC, srcMAC []byte) int {
	copy(out[0:6], dstMAC)
	copy(out[6:12], srcMAC)
	quoted := p.B[p.L3:p.End]
	if p.Family == 4 {
		binary.BigEndian.PutUint16(out[12:], EtherTypeIPv4)
		ip := out[EthLen:]
		if max := 576 - IPv4Len - 8; len(quoted) > max {
			quoted = quoted[:max]
		}
		total := IPv4Len + 8 + len(quoted)
		ip[0], ip[1] = 0x45, 0xc0 // precedence "internetwork control", as Linux's icmp_send
		binary.BigEndian.PutUint16(ip[2:], uint16(total))
		binary.BigEndian.PutUint32(ip[4:], 0)
		ip[8], ip[9] = 64, ProtoICMP
		ip[10], ip[11] = 0, 0
		copy(ip[12:16], src)
		copy(ip[16:20], p.SrcIP())
		binary.BigEndian.PutUint16(ip[10:], IPv4HeaderChecksum(out, EthLen))
		ic := ip[IPv4Len:]
		ic[0] = 3
		binary.BigEndian.PutUint32(ic[4:], 0)
		if kind == ICMPFragNeeded {
			ic[1] = 4
			binary.BigEndian.PutUint16(ic[6:], uint16(mtu))
		} else {
			ic[1] = 3
		}
		copy(ic[8:], quoted)
		ic[2], ic[3] = 0, 0
		binary.BigEndian.PutUint16(ic[2:], Checksum(ic[:8+len(quoted)]))
		return EthLen + total
	}
	binary.BigEndian.PutUint16(out[12:], EtherTypeIPv6)
	ip := out[EthLen:]
	if max := 1280 - IPv6Len - 8; len(quoted) > max {
		quoted = quoted[:max]
	}
	plen := 8 + len(quoted)
	binary.BigEndian.PutUint32(ip[0:], 6<<28)
	binary.BigEndian.PutUint16(ip[4:], uint16(plen))
	ip[6], ip[7] = ProtoICMPv6, 64
	copy(ip[8:24], src)
	copy(ip[24:40], p.SrcIP())
	ic := ip[IPv6Len:]
	if kind == ICMPFragNeeded {
		ic[0], ic[1] = 2, 0
		binary.BigEndian.PutUint32(ic[4:], mtu)
	} else {
		ic[0], ic[1] = 1, 4
		binary.BigEndian.PutUint32(ic[4:], 0)
	}
	copy(ic[8:], quoted)
	ic[2], ic[3] = 0, 0
	sum := Sum(ip[8:40], 0) + uint64(ProtoICMPv6) + uint64(plen)
	binary.BigEndian.PutUint16(ic[2:], ^Fold(Sum(ic[:plen], sum)))
	return EthLen + IPv6Len + plen
}
