package ring

import "time"

// Config describes a receive ring.
type Config struct {
	// Ifindex is the interface to bind to.
	Ifindex int
	// Version is 3 (TPACKET_V3, the default) or 2 (TPACKET_V2).
	Version int
	// FanoutGroup, when non-zero, joins a PACKET_FANOUT_HASH group of that
	// id, so a flow's frames go to one socket of the group.
	FanoutGroup uint16
	// BlockSize and Blocks size a V3 ring (defaults 1 MiB × 8); FrameSize
	// and Frames a V2 ring (defaults 2 KiB × 8192: 16 MiB, a burst of 8192
	// frames of up to an MTU of 1500). FrameSize is rounded up to a power
	// of two; a V2 frame too large for a ring frame (a GSO super-frame, a
	// jumbo frame) comes whole through the socket's queue instead
	// (PACKET_COPY_THRESH), a copy into a buffer of the Ring's.
	BlockSize, Blocks int
	FrameSize, Frames int
	// CopyBuffer is the socket receive buffer that holds V2's large frames
	// until Recv copies them out (default 4 MiB; SO_RCVBUFFORCE, falling
	// back to what SO_RCVBUF allows).
	CopyBuffer int
	// BlockTimeout is V3's tp_retire_blk_tov (default 1 ms, the shortest):
	// how long a partly filled block waits before user space sees it.
	BlockTimeout time.Duration
	// VnetHdr asks for a virtio_net_hdr before every frame (PACKET_VNET_HDR).
	VnetHdr bool
	// Filter is the classic-BPF program attached before the socket is bound
	// (nil: every frame).
	Filter []Instruction
}

// Instruction is one classic-BPF instruction (struct sock_filter).
type Instruction struct {
	Op     uint16
	Jt, Jf uint8
	K      uint32
}

// Frame is one received frame. Data and Vnet alias the ring.
type Frame struct {
	// Data is the frame from its Ethernet header; a GSO super-frame may be
	// far larger than the MTU.
	Data []byte
	// Vnet is the frame's virtio_net_hdr (when Config.VnetHdr).
	Vnet VnetHdr
	// CsumNotReady is TP_STATUS_CSUMNOTREADY: the transport checksum is an
	// offloaded partial one.
	CsumNotReady bool
	// VLANTagged reports a tag the kernel stripped (TP_STATUS_VLAN_VALID).
	VLANTagged bool
	// Ifindex is the receiving interface, PktType the sll_pkttype.
	Ifindex int
	PktType uint8
}

// FrameSizeFor returns the V2 frame size that holds every frame of an
// interface with the given MTU (Ethernet and 802.1Q headers, the tpacket
// header, sockaddr_ll and virtio_net_hdr in front): a power of two, at
// least 2 KiB.
func FrameSizeFor(mtu int) int {
	need := mtu + 18 + 128
	n := 2048
	for n < need {
		n *= 2
	}
	return n
}

// MaxFrame is the largest frame Recv hands out whole: a 64 KiB GSO
// super-frame and its Ethernet header. A larger one (BIG TCP) arrives
// truncated; its IP length then says so.
const MaxFrame = 64<<10 + 64

// Stats are the socket's PACKET_STATISTICS since the last read, and
// CopyLost, the V2 frames too large for a ring frame whose whole copy was
// missing from the socket's queue (they are skipped).
type Stats struct {
	Packets, Drops, FreezeQueueCount uint64
	CopyLost                         uint64
}
