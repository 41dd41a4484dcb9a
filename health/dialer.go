package health

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// Conn describes the socket a checker opens: where to, from where, and
// the socket options keepalived's connection keywords ask for.
type Conn struct {
	// Dst is the address checked (connect_ip/connect_port or the real
	// server).
	Dst netip.AddrPort
	// Src is bindto/bind_port; the zero value lets the kernel choose.
	Src netip.AddrPort
	// Iface is bind_if (SO_BINDTODEVICE).
	Iface string
	// Mark is fwmark (SO_MARK).
	Mark uint32
}

// Dialer opens the connections of the TCP, HTTP, SSL, SMTP, DNS and UDP
// checkers. The default is NetDialer; tests substitute one that redirects
// or fails connections.
type Dialer interface {
	// DialContext connects a "tcp" or "udp" socket as c describes. For
	// "udp" the socket is connected, so ICMP errors come back as read
	// errors.
	DialContext(ctx context.Context, network string, c Conn) (net.Conn, error)
}

// NetDialer is the Dialer of real sockets.
type NetDialer struct{}

var _ Dialer = NetDialer{}

// DialContext implements Dialer.
func (NetDialer) DialContext(ctx context.Context, network string, c Conn) (net.Conn, error) {
	if !c.Dst.IsValid() {
		return nil, fmt.Errorf("health: dial %s: no destination", network)
	}
	d := net.Dialer{}
	if c.Src.Addr().IsValid() || c.Src.Port() != 0 {
		src := c.Src.Addr()
		if !src.IsValid() {
			src = netip.IPv4Unspecified()
			if c.Dst.Addr().Is6() {
				src = netip.IPv6Unspecified()
			}
		}
		switch network {
		case "tcp", "tcp4", "tcp6":
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, c.Src.Port()))
		default:
			d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, c.Src.Port()))
		}
	}
	if c.Iface != "" || c.Mark != 0 {
		ctrl, err := sockopts(c.Iface, c.Mark)
		if err != nil {
			return nil, err
		}
		d.Control = ctrl
	}
	return d.DialContext(ctx, network, c.Dst.String())
}
