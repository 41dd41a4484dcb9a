package frame

import "encoding/binary"

// TunnelOverhead returns the bytes an outer header of the given family adds.
func TunnelOverhead(family uint8) int {
	if family == 4 {
		return IPv4Len
	}
	return IPv6Len
}

// PutTunnelHeader writes into h an Ethernet header and the outer header of
// an IPIP (RFC 2003) or IPv6-in-IPv6 (RFC 2473) packet carrying inner, as
// IPVS's ip_vs_tunnel_xmit builds it: the outer TTL/hop limit and TOS/traffic
// class copied from the inner packet, DF copied from an inner IPv4 packet.
// The outer family is that of src and dst (4 or 16 bytes); an IPv4 outer
// header may carry an IPv6 inner packet (protocol 41) and the reverse. h
// needs EthLen+40 bytes; PutTunnelHeader returns the length written. id is
// the outer IPv4 identification.
func PutTunnelHeader(h, dstMAC, srcMAC, src, dst []byte, inner *Packet, id uint16) int {
	copy(h[0:6], dstMAC)
	copy(h[6:12], srcMAC)
	innerLen := inner.IPLen()
	next := uint8(ProtoIPIP)
	var tos uint8
	ib := inner.B[inner.L3:]
	if inner.Family == 6 {
		next = ProtoIPv6
		tos = ib[0]<<4 | ib[1]>>4
	} else {
		tos = ib[1]
	}
	ttl := inner.TTL()
	o := h[EthLen:]
	if len(src) == 4 {
		binary.BigEndian.PutUint16(h[12:], EtherTypeIPv4)
		o[0], o[1] = 0x45, tos
		binary.BigEndian.PutUint16(o[2:], uint16(IPv4Len+innerLen))
		binary.BigEndian.PutUint16(o[4:], id)
		var df uint16
		if inner.Family == 4 && inner.Flags&FlagDontFragment != 0 {
			df = 0x4000
		}
		binary.BigEndian.PutUint16(o[6:], df)
		o[8], o[9] = ttl, next
		o[10], o[11] = 0, 0
		copy(o[12:16], src)
		copy(o[16:20], dst)
		binary.BigEndian.PutUint16(o[10:], IPv4HeaderChecksum(h, EthLen))
		return EthLen + IPv4Len
	}
	binary.BigEndian.PutUint16(h[12:], EtherTypeIPv6)
	binary.BigEndian.PutUint32(o[0:], 6<<28|uint32(tos)<<20)
	binary.BigEndian.PutUint16(o[4:], uint16(innerLen))
	o[6], o[7] = next, ttl
	copy(o[8:24], src)
	copy(o[24:40], dst)
	return EthLen + IPv6Len
}
