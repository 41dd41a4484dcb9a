// Package ring is the data path's frame I/O on Linux AF_PACKET sockets:
// receive rings (TPACKET_V3 with a short block timeout, or TPACKET_V2 for
// per-frame wake-ups) in a PACKET_FANOUT group, with PACKET_IGNORE_OUTGOING,
// a classic-BPF filter that can be replaced while the socket runs, and
// PACKET_VNET_HDR so that offloaded frames (partial checksums, GSO
// super-frames) come with the metadata to complete or forward them; and a
// batched sender (sendmmsg with scatter-gather, optionally bypassing the
// qdisc) that transmits straight from the receive ring without copying.
//
// It is written on golang.org/x/sys/unix rather than gopacket's afpacket:
// the forwarder needs TPACKET_V2 as well as V3, a replaceable filter applied
// before the socket is bound, frames handed out in batches that the caller
// releases after it has transmitted them, and batched transmit, which
// gopacket (unix.Write per packet) does not have.
//
// Frames handed out by Recv alias the ring: they are valid until the next
// Recv (or Release) on the same Ring, and must not be retained.
//
// Left out: PACKET_TX_RING (sendmmsg with iovecs into the receive ring
// avoids the copy a TX ring would need), AF_XDP, and frames on the parent of
// a VLAN device whose tag the kernel stripped (bind to the VLAN device).
package ring
