// Package frame is the data path's codec: a borrowed, allocation-free view of
// an Ethernet frame (802.1Q, IPv4, IPv6 with extension headers, TCP, UDP,
// SCTP, ICMP and ICMPv6, including the packet quoted inside an ICMP error),
// in-place rewrites of MAC addresses, IP addresses and ports with RFC 1624
// incremental checksum updates, and the few frames the data path builds
// itself: ICMP errors, IPIP and IPv6-in-IPv6 encapsulation, IPv4
// fragmentation and TCP segmentation of offloaded super-frames.
//
// Decode never allocates and never returns an error: it records offsets and
// marks a frame it cannot trust with FlagMalformed (tailscale's
// packet.Parsed is the model). A Packet aliases the bytes it was decoded
// from; rewrites change those bytes in place.
//
// Checksums follow two conventions. A complete checksum (the usual case) is
// updated with RFC 1624's HC' = ~(~HC + ~m + m'). A partial checksum, as left
// by a sender that offloads it (virtio_net_hdr NEEDS_CSUM, AF_PACKET's
// TP_STATUS_CSUMNOTREADY), holds only the uncomplemented pseudo-header sum:
// only address changes touch it, ports do not.
//
// Left out: IPv4 options are skipped, not interpreted; IPv6 routing headers
// are skipped without honouring their final destination; SCTP's CRC32c is
// never updated incrementally: a CRC cannot be, so a port rewrite recomputes
// it over the whole packet, as IPVS's sctp_nat_csum does.
package frame
