package conntab

import (
	"net/netip"
	"sync/atomic"
)

// TicksPerSecond is the resolution of the tables' clock.
const TicksPerSecond = 8

// Flags mark an entry.
type Flags uint16

// Entry flags.
const (
	// FlagTemplate marks a persistence template.
	FlagTemplate Flags = 1 << iota
	// FlagNoOutput marks a connection whose replies bypass the director
	// (DR, TUN): its TCP state follows the INPUT_ONLY table
	// (IP_VS_CONN_F_NOOUTPUT).
	FlagNoOutput
	// FlagInactive is IPVS's IP_VS_CONN_F_INACTIVE: the connection counts
	// in its destination's inactive connections.
	FlagInactive
	// FlagUnhashed marks an entry removed from lookup that waits for its
	// timer (an invalidated template still controlling connections).
	FlagUnhashed
	// FlagFast marks a connection that packets also reach outside the
	// table (forward's XDP fast path): when its time comes, the table's
	// Refresh decides whether it ends.
	FlagFast

	flagFree Flags = 1 << 15
)

// Ref names an entry of a Table: the shard in the top 8 bits, the index in
// the low 24. The zero Ref names nothing.
type Ref uint32

// Entry is one connection or persistence template. Addresses are 16 bytes,
// IPv4 in its IPv4-mapped form. An Entry is only read or written under its
// shard's lock, except NCtl, which is atomic.
type Entry struct {
	// CAddr/CPort is the client, VAddr/VPort the virtual service (for a
	// template: the persistence key), DAddr/DPort the real server.
	CAddr, VAddr, DAddr [16]byte
	CPort, VPort, DPort uint16
	// Proto is the IP protocol (0 for a fwmark template).
	Proto uint8
	// State is the protocol state (TCP*, UDP*, SCTP* constants).
	State uint8
	Flags Flags
	// Expires is the tick at which the entry ends unless refreshed.
	Expires uint32
	// Timeout is a template's persistence timeout in ticks.
	Timeout uint32
	// Dest and Svc are the caller's handles of the real server and virtual
	// service; Method is the caller's forwarding method.
	Dest   uint32
	Svc    uint16
	Method uint8
	// Ifx is the caller's interface slot of the client side, MAC the client
	// side's next hop as learned from the first packet.
	Ifx uint8
	MAC [6]byte
	// Pkts counts the client's packets (wrapping), for connection
	// synchronisation's sync_threshold/sync_period rule.
	Pkts uint16
	// Ctl is the template that controls this connection.
	Ctl Ref
	// nctl counts the connections a template controls.
	nctl  atomic.Int32
	hnext uint32
	wnext uint32
	wprev uint32
}

// Controlled returns how many connections a template controls.
func (e *Entry) Controlled() int32 { return e.nctl.Load() }

// Client returns the client address and port.
func (e *Entry) Client() netip.AddrPort { return netip.AddrPortFrom(addr(e.CAddr), e.CPort) }

// Virtual returns the virtual address and port.
func (e *Entry) Virtual() netip.AddrPort { return netip.AddrPortFrom(addr(e.VAddr), e.VPort) }

// Real returns the real server's address and port.
func (e *Entry) Real() netip.AddrPort { return netip.AddrPortFrom(addr(e.DAddr), e.DPort) }

func addr(a [16]byte) netip.Addr { return netip.AddrFrom16(a).Unmap() }

// Put16 stores an address of 4 or 16 bytes in the 16-byte form entries use.
func Put16(dst *[16]byte, a []byte) {
	if len(a) == 4 {
		*dst = [16]byte{10: 0xff, 11: 0xff, 12: a[0], 13: a[1], 14: a[2], 15: a[3]}
		return
	}
	copy(dst[:], a)
}

// Is4 reports whether a 16-byte address is IPv4-mapped.
func Is4(a *[16]byte) bool {
	return a[0]|a[1]|a[2]|a[3]|a[4]|a[5]|a[6]|a[7]|a[8]|a[9] == 0 && a[10] == 0xff && a[11] == 0xff
}

// Bytes returns the address's 4 or 16 wire bytes.
func Bytes(a *[16]byte) []byte {
	if Is4(a) {
		return a[12:16]
	}
	return a[:]
}

// Key is what a lookup matches: the protocol, the client and the virtual
// service (inbound) or the real server (outbound).
type Key struct {
	Proto     uint8
	CAddr     [16]byte
	CPort     uint16
	Addr      [16]byte
	Port      uint16
	Direction Direction
}

// Direction says which side of a connection a packet comes from.
type Direction uint8

// Directions.
const (
	// In: client to virtual service; Key.Addr/Port are the virtual address
	// and port.
	In Direction = iota
	// Out: real server to client (NAT replies); Key.Addr/Port are the real
	// server's.
	Out
)

// InKey returns the key the connection's client packets find it by.
func (e *Entry) InKey() Key {
	return Key{Proto: e.Proto, CAddr: e.CAddr, CPort: e.CPort, Addr: e.VAddr, Port: e.VPort, Direction: In}
}

func (e *Entry) matches(k *Key) bool {
	if e.Proto != k.Proto || e.CPort != k.CPort || e.CAddr != k.CAddr {
		return false
	}
	if k.Direction == In {
		return e.VPort == k.Port && e.VAddr == k.Addr
	}
	return e.DPort == k.Port && e.DAddr == k.Addr
}
