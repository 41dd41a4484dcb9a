package sched

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// IP protocol numbers a Flow may carry.
const (
	ProtoTCP  uint8 = 6
	ProtoUDP  uint8 = 17
	ProtoSCTP uint8 = 132
)

// Flow is what a scheduler sees of a new connection. The caller owns it;
// Pick reads it and does not retain it.
type Flow struct {
	// Src and Dst are the packet's source and destination addresses.
	Src, Dst netip.Addr
	// SrcPort and DstPort are the transport ports (0 for protocols without).
	SrcPort, DstPort uint16
	// Proto is the IP protocol number (ProtoTCP, ProtoUDP, ProtoSCTP, ...).
	Proto uint8
	// Inverse marks a flow taken from the header embedded in an ICMP error
	// (the kernel's ip_vs_iph_inverse): sh and mh then hash Dst and DstPort
	// instead of Src and SrcPort.
	Inverse bool
	// Now is a coarse monotonic clock (any fixed epoch) read once per batch
	// by the caller; lblc and lblcr stamp their cache entries with it. Pick
	// never reads the system clock.
	Now time.Duration
}

// hashAddr returns the address and port that sh and mh hash: the source,
// or for an inverse (ICMP error) flow the destination. The port is used
// only when usePort is set and the protocol carries ports
// (ip_vs_sh_get_port / ip_vs_mh_get_port).
func (f *Flow) hashAddr(usePort bool) (netip.Addr, uint16) {
	addr, port := f.Src, f.SrcPort
	if f.Inverse {
		addr, port = f.Dst, f.DstPort
	}
	if !usePort {
		return addr, 0
	}
	switch f.Proto {
	case ProtoTCP, ProtoUDP, ProtoSCTP:
		return addr, port
	}
	return addr, 0
}

// fold is the kernel's address fold used by sh, dh, mh, lblc and lblcr: the
// IPv4 address as a host-order uint32, or for IPv6 the XOR of the four
// 32-bit words (ntohl(w0^w1^w2^w3)).
func fold(a netip.Addr) uint32 {
	if a.Is4() {
		b := a.As4()
		return binary.BigEndian.Uint32(b[:])
	}
	b := a.As16()
	return binary.BigEndian.Uint32(b[0:4]) ^ binary.BigEndian.Uint32(b[4:8]) ^
		binary.BigEndian.Uint32(b[8:12]) ^ binary.BigEndian.Uint32(b[12:16])
}

// goldenRatio32 is include/linux/hash.h's GOLDEN_RATIO_32.
const goldenRatio32 = 0x61C88647

// hash32 is the kernel's hash_32(val, bits): the top bits of val*GOLDEN_RATIO_32.
func hash32(val uint32, bits uint) uint32 {
	return (val * goldenRatio32) >> (32 - bits)
}
