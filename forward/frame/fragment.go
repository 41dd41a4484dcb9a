package frame

import "encoding/binary"

// FragmentPayload returns how many payload bytes each fragment of an IPv4
// packet with an hl-byte header carries over a path of MTU mtu: the room
// left after the header, rounded down to a multiple of 8 (RFC 791: offsets
// count 8-byte units).
func FragmentPayload(mtu, hl int) int { return (mtu - hl) &^ 7 }

// PutFragmentHeader writes into out the headers of one fragment of an IPv4
// packet, as the kernel's ip_fragment builds them (RFC 791 §3.2): h is the
// packet's frame header (link header, then its IPv4 header at l3, to the
// end of h), total the length of the packet's payload, and the fragment
// carries payload bytes [off, off+n), off a multiple of 8. The fragment
// offset is added to the packet's own (a packet that is itself a fragment
// stays one), MF is set unless this is the packet's last byte and the
// packet's own MF was clear, and the total length and header checksum are
// set. Options are copied into every fragment (the forwarder's own outer
// headers have none). It returns the length written; the payload bytes
// follow, from the caller.
func PutFragmentHeader(out, h []byte, l3, total, off, n int) int {
	k := copy(out, h)
	ip := out[l3:k]
	fo := binary.BigEndian.Uint16(ip[6:])
	v := (fo&0x1fff + uint16(off/8)) & 0x1fff
	if fo&0x2000 != 0 || off+n < total {
		v |= 0x2000
	}
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+n))
	binary.BigEndian.PutUint16(ip[6:], v)
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], IPv4HeaderChecksum(out, l3))
	return k
}
