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
	// and Frames a V2 ring (defaults 68 KiB × 256: a frame must hold a
	// 64 KiB GSO super-frame).
	BlockSize, Blocks int
	FrameSize, Frames int
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

// Stats are the socket's PACKET_STATISTICS, cumulative.
type Stats struct {
	Packets, Drops, FreezeQueueCount uint64
}
