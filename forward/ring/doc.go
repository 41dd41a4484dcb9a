// Package ring is the data path's frame I/O on Linux AF_PACKET sockets:
// receive rings (TPACKET_V3 with a short block timeout, or TPACKET_V2 for
// per-frame wake-ups) in a PACKET_FANOUT group, with PACKET_IGNORE_OUTGOING,
// a classic-BPF filter that can be replaced while the socket runs, and
// PACKET_VNET_HDR so that offloaded frames (partial checksums, GSO
// super-frames) come with the metadata to complete or forward them; and a
// batched sender (sendmmsg with scatter-gather, optionally bypassing the
// qdisc) that transmits straight from the receive ring without copying.
//
// A V2 ring is many small frames (a power of two that holds an MTU-sized
// frame, FrameSizeFor), not a few frames large enough for a 64 KiB GSO
// super-frame: the same memory then absorbs a burst 30 times longer. A
// frame larger than a ring frame is queued whole on the socket
// (PACKET_COPY_THRESH; its ring frame says TP_STATUS_COPY) and Recv copies
// it into one of a few buffers of the Ring's.
//
// Recv waits through the Go runtime's poller (the socket is non-blocking
// and in its epoll set), so a waiting worker parks a goroutine instead of
// holding a thread and its P in poll(2). sendmmsg (MSG_DONTWAIT) and the
// large-frame recvfrom cannot sleep and go as raw system calls; a send
// that finds the socket's buffer full falls back to a blocking one.
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
