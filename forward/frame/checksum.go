package frame

import (
	"encoding/binary"
	"hash/crc32"
)

// Sum adds b to a running one's-complement sum (RFC 1071), unfolded.
func Sum(b []byte, sum uint64) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		// Add the two 32-bit halves; a uint64 accumulator cannot overflow
		// for any packet shorter than 2^32 bytes.
		sum += v>>32 + v&0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// Fold folds a running sum into 16 bits (not complemented).
func Fold(sum uint64) uint16 {
	for sum>>16 != 0 {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// Checksum returns the Internet checksum of b: the complement of its folded
// one's-complement sum.
func Checksum(b []byte) uint16 { return ^Fold(Sum(b, 0)) }

// pseudoSum is the sum of the transport pseudo-header (RFC 768, RFC 8200
// §8.1): both addresses, the protocol and the transport length.
func (p *Packet) pseudoSum(l4len int) uint64 {
	sum := Sum(p.SrcIP(), 0)
	sum = Sum(p.DstIP(), sum)
	return sum + uint64(p.Proto) + uint64(l4len)
}

// Update16 applies RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), for a 16-bit
// field changing from old to new under the complete checksum hc.
func Update16(hc, old, new uint16) uint16 {
	sum := uint64(^hc) + uint64(^old) + uint64(new)
	return ^Fold(sum)
}

// Update applies RFC 1624 to a field of even length changing from old to
// new (for example a 4- or 16-byte address).
func Update(hc uint16, old, new []byte) uint16 {
	sum := uint64(^hc)
	for i := 0; i+1 < len(old); i += 2 {
		sum += uint64(^binary.BigEndian.Uint16(old[i:])) + uint64(binary.BigEndian.Uint16(new[i:]))
	}
	return ^Fold(sum)
}

// updatePartial is Update for a partial checksum field, which holds the
// uncomplemented pseudo-header sum: sum' = sum + ~m + m'.
func updatePartial(ps uint16, old, new []byte) uint16 {
	sum := uint64(ps)
	for i := 0; i+1 < len(old); i += 2 {
		sum += uint64(^binary.BigEndian.Uint16(old[i:])) + uint64(binary.BigEndian.Uint16(new[i:]))
	}
	return Fold(sum)
}

// IPv4HeaderChecksum computes the IPv4 header checksum at b[l3:] in full.
func IPv4HeaderChecksum(b []byte, l3 int) uint16 {
	ihl := int(b[l3]&0x0f) * 4
	sum := Sum(b[l3:l3+10], 0)
	sum = Sum(b[l3+12:l3+ihl], sum)
	return ^Fold(sum)
}

// TransportChecksum computes the transport checksum of p in full, as it
// should be on the wire (for UDP over IPv4 a zero result is sent as 0xffff).
// It reports false when p has no such checksum or is a fragment, whose
// checksum covers bytes this frame does not hold.
func (p *Packet) TransportChecksum() (uint16, bool) {
	at := p.L4Checksum()
	if at < 0 || p.Flags&(FlagFragment|FlagTruncated) != 0 {
		return 0, false
	}
	b := p.B[p.L4:p.End]
	var sum uint64
	if p.Proto != ProtoICMP {
		sum = p.pseudoSum(len(b))
	}
	sum = Sum(b[:at-p.L4], sum)
	sum = Sum(b[at-p.L4+2:], sum)
	c := ^Fold(sum)
	if c == 0 && p.Proto == ProtoUDP {
		c = 0xffff
	}
	return c, true
}

// FixChecksums recomputes the IPv4 header checksum and the transport
// checksum in full. It completes a partial checksum (TP_STATUS_CSUMNOTREADY)
// and is what tests compare incremental updates against. SCTP's CRC32c is
// recomputed too.
func (p *Packet) FixChecksums() {
	if p.Family == 4 {
		binary.BigEndian.PutUint16(p.B[p.L3+10:], IPv4HeaderChecksum(p.B, p.L3))
	}
	if p.Proto == ProtoSCTP && p.L4 != 0 && p.Flags&(FlagFragment|FlagTruncated) == 0 {
		binary.LittleEndian.PutUint32(p.B[p.L4+8:], SCTPChecksum(p.B[p.L4:p.End]))
		return
	}
	if c, ok := p.TransportChecksum(); ok {
		if p.Proto == ProtoUDP && p.Family == 4 && binary.BigEndian.Uint16(p.B[p.L4+6:]) == 0 {
			return // RFC 768: zero means the sender did not compute one.
		}
		binary.BigEndian.PutUint16(p.B[p.L4Checksum():], c)
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SCTPChecksum computes the CRC32c of an SCTP packet (RFC 9260 appendix A)
// with its checksum field taken as zero. The result is stored little-endian.
func SCTPChecksum(b []byte) uint32 {
	var zero [4]byte
	c := crc32.Update(0, castagnoli, b[:8])
	c = crc32.Update(c, castagnoli, zero[:])
	return crc32.Update(c, castagnoli, b[12:])
}

// HeaderValid reports whether an IPv4 header's checksum verifies (IPv6
// has none: always true). The kernel drops an IPv4 packet whose header
// does not verify before anything else sees it (ip_rcv_core).
func (p *Packet) HeaderValid() bool {
	if p.Family != 4 {
		return true
	}
	ihl := int(p.B[p.L3]&0x0f) * 4
	return Fold(Sum(p.B[p.L3:p.L3+ihl], 0)) == 0xffff
}

// ChecksumValid reports whether the transport checksum (TCP, UDP, ICMP or
// ICMPv6) verifies over the whole packet. A fragment, a truncated packet,
// or one without such a checksum (SCTP, unknown protocols) reports true: it
// cannot be judged here. An IPv4 UDP checksum of zero means none.
func (p *Packet) ChecksumValid() bool {
	at := p.L4Checksum()
	if at < 0 || p.Flags&(FlagFragment|FlagTruncated) != 0 || at+2 > p.End {
		return true
	}
	got := binary.BigEndian.Uint16(p.B[at:])
	if p.Proto == ProtoUDP && p.Family == 4 && got == 0 {
		return true
	}
	want, ok := p.TransportChecksum()
	return !ok || got == want
}

// CompletePartial completes a TCP or UDP checksum that a sender left
// partial (its field holds the folded pseudo-header sum, uncomplemented,
// as Linux leaves a CHECKSUM_PARTIAL packet for the device), and reports
// whether it did. XDP sees no checksum metadata, so frames a veth peer
// offloaded reach AF_XDP in that state, and would reach the real server
// broken. A complete checksum that equals the partial value by chance
// (one in 65,536) is recomputed: a valid packet gets the same value back.
func (p *Packet) CompletePartial() bool {
	if p.Proto != ProtoTCP && p.Proto != ProtoUDP || p.Flags&(FlagFragment|FlagTruncated) != 0 {
		return false
	}
	at := p.L4Checksum()
	if at < 0 || at+2 > p.End || binary.BigEndian.Uint16(p.B[at:]) != Fold(p.pseudoSum(p.End-p.L4)) {
		return false
	}
	c, ok := p.TransportChecksum()
	if !ok {
		return false
	}
	binary.BigEndian.PutUint16(p.B[at:], c)
	return true
}
