package syncmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Protocol constants (ip_vs_sync.c).
const (
	// Version is the only protocol version read and written.
	Version = 1
	// HeaderLen is the message header's length.
	HeaderLen = 8
	// ConnLen4 and ConnLen6 are an IPv4 and an IPv6 connection's length
	// without options.
	ConnLen4 = 36
	ConnLen6 = 72
	// Port is the default UDP port; Group4 the default IPv4 group.
	Port = 8848
)

// Group4 is the default IPv4 multicast group, 224.0.0.81.
var Group4 = netip.AddrFrom4([4]byte{224, 0, 0, 81})

// Connection flags (IP_VS_CONN_F_*, include/uapi/linux/ip_vs.h) that the
// protocol carries.
const (
	FwdMask   = 0x0007 // forwarding method
	Masq      = 0x0000 // NAT
	LocalNode = 0x0001 // local real server
	Tunnel    = 0x0002 // IPIP
	DRoute    = 0x0003 // direct routing
	NoOutput  = 0x0080 // replies bypass the director
	Inactive  = 0x0100 // not (yet) established
	NoCPort   = 0x0800 // no client port (FTP data, templates of port-0 services)
	Template  = 0x1000 // persistence template
	OnePacket = 0x2000 // one-packet scheduling
)

// Conn is one synchronised connection or template.
type Conn struct {
	Proto uint8
	// Flags are IP_VS_CONN_F_* (method, template, inactive...).
	Flags uint32
	// State is the protocol state, numbered as IPVS numbers it.
	State uint16
	// CAddr/CPort is the client, VAddr/VPort the virtual service and
	// DAddr/DPort the real server. All three addresses have one family.
	CAddr, VAddr, DAddr netip.Addr
	CPort, VPort, DPort uint16
	// FWMark is the firewall mark of a fwmark service's connection.
	FWMark uint32
	// Timeout is the connection's timeout in seconds (for a template: its
	// persistence timeout).
	Timeout uint32
}

// Len is the connection's encoded length.
func (c *Conn) Len() int {
	if c.CAddr.Is6() {
		return ConnLen6
	}
	return ConnLen4
}

// NewMessage starts a message in buf (reusing its storage): the header,
// with no connections yet.
func NewMessage(buf []byte, syncID uint8) []byte {
	b := append(buf[:0], 0, syncID, 0, HeaderLen, 0, Version, 0, 0)
	return b
}

// Count is how many connections msg holds.
func Count(msg []byte) int { return int(msg[4]) }

// Append adds c to the message msg (from NewMessage) and updates its
// header. A message holds at most 255 connections and 65535 bytes; the
// caller bounds it further by the link's MTU.
func Append(msg []byte, c *Conn) ([]byte, error) {
	if msg[4] == 255 || len(msg)+c.Len() > 65535 {
		return msg, errors.New("syncmsg: message full")
	}
	if !c.CAddr.IsValid() || !c.VAddr.IsValid() || !c.DAddr.IsValid() ||
		c.CAddr.Is6() != c.VAddr.Is6() || c.CAddr.Is6() != c.DAddr.Is6() {
		return msg, fmt.Errorf("syncmsg: connection %v -> %v -> %v: addresses of one family needed", c.CAddr, c.VAddr, c.DAddr)
	}
	n := c.Len()
	var typ byte
	if n == ConnLen6 {
		typ = 1 // STYPE_F_INET6
	}
	b := append(msg, typ, c.Proto)
	b = binary.BigEndian.AppendUint16(b, uint16(n)) // version 0 in the top 4 bits
	b = binary.BigEndian.AppendUint32(b, c.Flags)
	b = binary.BigEndian.AppendUint16(b, c.State)
	b = binary.BigEndian.AppendUint16(b, c.CPort)
	b = binary.BigEndian.AppendUint16(b, c.VPort)
	b = binary.BigEndian.AppendUint16(b, c.DPort)
	b = binary.BigEndian.AppendUint32(b, c.FWMark)
	b = binary.BigEndian.AppendUint32(b, c.Timeout)
	for _, a := range []netip.Addr{c.CAddr, c.VAddr, c.DAddr} {
		if n == ConnLen6 {
			a16 := a.As16()
			b = append(b, a16[:]...)
		} else {
			a4 := a.As4()
			b = append(b, a4[:]...)
		}
	}
	b[4]++
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b, nil
}

// Message is a decoded message.
type Message struct {
	SyncID uint8
	Conns  []Conn
}

// Parse decodes a version 1 message, appending its connections to
// m.Conns[:0]. An error names what is wrong and where; nothing of a bad
// message is kept.
func Parse(b []byte, m *Message) error {
	m.Conns = m.Conns[:0]
	if len(b) < HeaderLen {
		return fmt.Errorf("syncmsg: %d bytes, shorter than a header", len(b))
	}
	if b[0] != 0 {
		return errors.New("syncmsg: a version 0 message (first byte not zero): not supported")
	}
	if b[5] != Version {
		return fmt.Errorf("syncmsg: version %d, want %d", int8(b[5]), Version)
	}
	if size := int(binary.BigEndian.Uint16(b[2:])); size != len(b) {
		return fmt.Errorf("syncmsg: header says %d bytes, datagram has %d", size, len(b))
	}
	m.SyncID = b[1]
	n := int(b[4])
	off := HeaderLen
	for i := range n {
		if len(b)-off < 4 {
			return fmt.Errorf("syncmsg: connection %d of %d: truncated at byte %d", i+1, n, off)
		}
		vs := binary.BigEndian.Uint16(b[off+2:])
		if v := vs >> 12; v != 0 {
			return fmt.Errorf("syncmsg: connection %d: version %d, want 0", i+1, v)
		}
		size := int(vs & 0x0fff)
		want := ConnLen4
		v6 := b[off]&1 != 0
		if v6 {
			want = ConnLen6
		}
		if size < want || size > len(b)-off {
			return fmt.Errorf("syncmsg: connection %d: size %d at byte %d (needs %d, %d left)", i+1, size, off, want, len(b)-off)
		}
		c := Conn{Proto: b[off+1]}
		p := b[off+4:]
		c.Flags = binary.BigEndian.Uint32(p)
		c.State = binary.BigEndian.Uint16(p[4:])
		c.CPort = binary.BigEndian.Uint16(p[6:])
		c.VPort = binary.BigEndian.Uint16(p[8:])
		c.DPort = binary.BigEndian.Uint16(p[10:])
		c.FWMark = binary.BigEndian.Uint32(p[12:])
		c.Timeout = binary.BigEndian.Uint32(p[16:])
		a := p[20:]
		if v6 {
			c.CAddr = netip.AddrFrom16([16]byte(a[0:16]))
			c.VAddr = netip.AddrFrom16([16]byte(a[16:32]))
			c.DAddr = netip.AddrFrom16([16]byte(a[32:48]))
		} else {
			c.CAddr = netip.AddrFrom4([4]byte(a[0:4]))
			c.VAddr = netip.AddrFrom4([4]byte(a[4:8]))
			c.DAddr = netip.AddrFrom4([4]byte(a[8:12]))
		}
		if err := checkOptions(b[off+want : off+size]); err != nil {
			return fmt.Errorf("syncmsg: connection %d: %w", i+1, err)
		}
		m.Conns = append(m.Conns, c)
		off += size
	}
	if off != len(b) {
		return fmt.Errorf("syncmsg: %d bytes after the %d connections", len(b)-off, n)
	}
	return nil
}

// checkOptions walks a connection's options (type, length, data; the last
// padded to 4 bytes) without keeping them: sequence adjustments belong to
// the FTP helper and persistence engines, neither of which ulvs has.
func checkOptions(b []byte) error {
	for len(b) > 0 {
		if b[0] == 0 && len(b) < 4 {
			return nil // padding
		}
		if len(b) < 2 || int(b[1]) > len(b)-2 {
			return fmt.Errorf("option %d: length beyond the connection", b[0])
		}
		b = b[2+int(b[1]):]
	}
	return nil
}
