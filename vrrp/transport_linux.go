package vrrp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// rawNetwork opens raw IP sockets of protocol 112 (or 51 for AH), one per
// TransportConfig, as keepalived does: bound to the interface, joined to
// the multicast group, multicast loop off, IP_MULTICAST_ALL off (so only
// the groups this socket joined arrive). IPv4 adverts are written with
// their own header (IP_HDRINCL, like keepalived, so TOS, id and TTL are
// exactly keepalived's and an AH ICV can cover them); IPv6 ones get the
// kernel's header, with the VRRP checksum computed by the kernel
// (IPV6_CHECKSUM at offset 6) and hop limit 255.
type rawNetwork struct{}

var _ Network = rawNetwork{}

// SystemNetwork returns the Network of raw sockets.
func SystemNetwork() Network { return rawNetwork{} }

func (rawNetwork) Listen(cfg TransportConfig) (Transport, error) {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrp: %w", err)
	}
	proto := int(cfg.Proto)
	if proto == 0 {
		proto = ProtoVRRP
	}
	var sockErr error
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		err := c.Control(func(fd uintptr) {
			if err := unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, cfg.Interface); err != nil {
				sockErr = fmt.Errorf("vrrp: SO_BINDTODEVICE %s: %w", cfg.Interface, err)
				return
			}
			if cfg.Family == IPv4 {
				if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); err != nil {
					sockErr = fmt.Errorf("vrrp: IP_MULTICAST_ALL: %w", err)
				}
			} else {
				// IPV6_MULTICAST_ALL exists since Linux 4.20; older
				// kernels deliver every joined group, which VRRP tolerates.
				_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0)
			}
		})
		if err != nil {
			return err
		}
		return sockErr
	}}
	if cfg.Family == IPv6 {
		pc, err := lc.ListenPacket(context.Background(), fmt.Sprintf("ip6:%d", proto), "::")
		if err != nil {
			return nil, fmt.Errorf("vrrp: listen ip6:%d on %s: %w", proto, cfg.Interface, err)
		}
		t := &raw6{ifi: ifi, pc: ipv6.NewPacketConn(pc)}
		if err := t.init(cfg); err != nil {
			_ = pc.Close()
			return nil, err
		}
		return t, nil
	}
	pc, err := lc.ListenPacket(context.Background(), fmt.Sprintf("ip4:%d", proto), "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("vrrp: listen ip4:%d on %s: %w", proto, cfg.Interface, err)
	}
	rc, err := ipv4.NewRawConn(pc)
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("vrrp: raw ip4 on %s: %w", cfg.Interface, err)
	}
	t := &raw4{ifi: ifi, rc: rc}
	if err := t.init(cfg); err != nil {
		_ = rc.Close()
		return nil, err
	}
	return t, nil
}

type raw4 struct {
	ifi *net.Interface
	rc  *ipv4.RawConn
	buf [65536]byte
}

func (t *raw4) init(cfg TransportConfig) error {
	if cfg.Group.IsValid() {
		if err := t.rc.JoinGroup(t.ifi, &net.IPAddr{IP: cfg.Group.AsSlice()}); err != nil {
			return fmt.Errorf("vrrp: join %v on %s: %w", cfg.Group, t.ifi.Name, err)
		}
		if err := t.rc.SetMulticastInterface(t.ifi); err != nil {
			return fmt.Errorf("vrrp: %w", err)
		}
		if err := t.rc.SetMulticastLoopback(false); err != nil {
			return fmt.Errorf("vrrp: %w", err)
		}
	}
	return nil
}

func (t *raw4) ReadPacket() (*Packet, error) {
	for {
		h, payload, cm, err := t.rc.ReadFrom(t.buf[:])
		if err != nil {
			return nil, err
		}
		src, ok1 := netip.AddrFromSlice(h.Src.To4())
		dst, ok2 := netip.AddrFromSlice(h.Dst.To4())
		if !ok1 || !ok2 {
			continue
		}
		p := &Packet{Src: src, Dst: dst, TTL: uint8(h.TTL), TOS: uint8(h.TOS), ID: uint16(h.ID),
			Proto: uint8(h.Protocol), Payload: append([]byte(nil), payload...)}
		if cm != nil {
			p.IfIndex = cm.IfIndex
		}
		return p, nil
	}
}

func (t *raw4) WritePacket(p *Packet) error {
	h := p.ipv4Header()
	cm := &ipv4.ControlMessage{IfIndex: t.ifi.Index}
	if err := t.rc.WriteTo(h, p.Payload, cm); err != nil {
		return fmt.Errorf("vrrp: send to %v: %w", p.Dst, err)
	}
	return nil
}

func (t *raw4) Close() error { return t.rc.Close() }

type raw6 struct {
	ifi *net.Interface
	pc  *ipv6.PacketConn
	buf [65536]byte
}

func (t *raw6) init(cfg TransportConfig) error {
	// RFC 5798 §5.2.8: the checksum covers the IPv6 pseudo-header; the
	// kernel computes and verifies it at offset 6.
	if err := t.pc.SetChecksum(true, 6); err != nil {
		return fmt.Errorf("vrrp: IPV6_CHECKSUM: %w", err)
	}
	if err := t.pc.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true); err != nil {
		return fmt.Errorf("vrrp: %w", err)
	}
	if err := t.pc.SetHopLimit(TTL); err != nil {
		return fmt.Errorf("vrrp: %w", err)
	}
	// keepalived sends with traffic class 0xc0 (network control), as its
	// IPv4 adverts have TOS 0xc0.
	if err := t.pc.SetTrafficClass(0xc0); err != nil {
		return fmt.Errorf("vrrp: %w", err)
	}
	if cfg.Group.IsValid() {
		if err := t.pc.JoinGroup(t.ifi, &net.IPAddr{IP: cfg.Group.AsSlice()}); err != nil {
			return fmt.Errorf("vrrp: join %v on %s: %w", cfg.Group, t.ifi.Name, err)
		}
		if err := t.pc.SetMulticastInterface(t.ifi); err != nil {
			return fmt.Errorf("vrrp: %w", err)
		}
		if err := t.pc.SetMulticastLoopback(false); err != nil {
			return fmt.Errorf("vrrp: %w", err)
		}
		if err := t.pc.SetMulticastHopLimit(TTL); err != nil {
			return fmt.Errorf("vrrp: %w", err)
		}
	}
	return nil
}

func (t *raw6) ReadPacket() (*Packet, error) {
	for {
		n, cm, src, err := t.pc.ReadFrom(t.buf[:])
		if err != nil {
			return nil, err
		}
		ia, ok := src.(*net.IPAddr)
		if !ok || cm == nil {
			continue
		}
		s, ok1 := netip.AddrFromSlice(ia.IP)
		d, ok2 := netip.AddrFromSlice(cm.Dst)
		if !ok1 || !ok2 {
			continue
		}
		return &Packet{Src: s.Unmap(), Dst: d.Unmap(), TTL: uint8(cm.HopLimit), Proto: ProtoVRRP, IfIndex: cm.IfIndex,
			Payload: append([]byte(nil), t.buf[:n]...)}, nil
	}
}

func (t *raw6) WritePacket(p *Packet) error {
	cm := &ipv6.ControlMessage{Src: p.Src.AsSlice(), IfIndex: t.ifi.Index, HopLimit: int(p.TTL)}
	dst := &net.IPAddr{IP: p.Dst.AsSlice()}
	if p.Dst.IsLinkLocalMulticast() || p.Dst.IsLinkLocalUnicast() {
		dst.Zone = t.ifi.Name
	}
	if _, err := t.pc.WriteTo(p.Payload, cm, dst); err != nil {
		return fmt.Errorf("vrrp: send to %v: %w", p.Dst, err)
	}
	return nil
}

func (t *raw6) Close() error { return t.pc.Close() }
