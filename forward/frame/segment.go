package frame

import "encoding/binary"

// Segmenter splits a TCP super-frame (GSO/GRO, larger than the path MTU)
// into MSS-sized segments, as the kernel's tcp_gso_segment would: sequence
// numbers advance, FIN and PSH stay on the last segment, CWR on the first,
// IPv4 identifications increase, and every checksum is computed in full.
type Segmenter struct {
	p            *Packet
	mss          int
	payload, off int
	n            int
	seq          uint32
	id           uint16
	done         bool
}

// Reset prepares s to segment the TCP packet p into segments of at most mss
// payload bytes. It reports false if p is not an unfragmented TCP packet.
func (s *Segmenter) Reset(p *Packet, mss int) bool {
	if p.Proto != ProtoTCP || p.L4 == 0 || p.Flags&(FlagFragment|FlagMalformed) != 0 || mss <= 0 {
		return false
	}
	doff := int(p.B[p.L4+12]>>4) * 4
	*s = Segmenter{p: p, mss: mss, payload: p.L4 + doff, off: p.L4 + doff,
		seq: binary.BigEndian.Uint32(p.B[p.L4+4:])}
	if p.Family == 4 {
		s.id = binary.BigEndian.Uint16(p.B[p.L3+4:])
	}
	return true
}

// Next writes the next segment's IP packet (from the IP header on) to out,
// which needs room for the headers plus mss, and returns its length; 0 when
// every segment has been written.
func (s *Segmenter) Next(out []byte) int {
	p := s.p
	if s.done {
		return 0
	}
	chunk := min(s.mss, p.End-s.off)
	last := s.off+chunk >= p.End
	n := copy(out, p.B[p.L3:s.payload])
	n += copy(out[n:], p.B[s.off:s.off+chunk])
	l4 := p.L4 - p.L3
	if p.Family == 4 {
		binary.BigEndian.PutUint16(out[2:], uint16(n))
		binary.BigEndian.PutUint16(out[4:], s.id+uint16(s.n))
		out[10], out[11] = 0, 0
		binary.BigEndian.PutUint16(out[10:], IPv4HeaderChecksum(out, 0))
	} else {
		binary.BigEndian.PutUint16(out[4:], uint16(n-IPv6Len))
	}
	t := out[l4:]
	binary.BigEndian.PutUint32(t[4:], s.seq+uint32(s.off-s.payload))
	if !last {
		t[13] &^= TCPFin | TCPPsh
	}
	if s.n > 0 {
		t[13] &^= 0x80 // CWR
	}
	t[16], t[17] = 0, 0
	var q Packet
	q.DecodeIP(out[:n])
	sum := q.pseudoSum(n - l4)
	binary.BigEndian.PutUint16(t[16:], ^Fold(Sum(t[:n-l4], sum)))
	s.off += chunk
	s.n++
	s.done = last
	return n
}
