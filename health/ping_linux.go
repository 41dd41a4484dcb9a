package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// listenICMP opens an ICMP echo socket: an unprivileged ping socket
// (SOCK_DGRAM, as keepalived uses) where net.ipv4.ping_group_range allows
// it, else a raw socket (needs CAP_NET_RAW). raw reports which.
func listenICMP(ctx context.Context, v6 bool, c Conn) (net.PacketConn, bool, error) {
	family, proto, network := unix.AF_INET, unix.IPPROTO_ICMP, "ip4:icmp"
	if v6 {
		family, proto, network = unix.AF_INET6, unix.IPPROTO_ICMPV6, "ip6:ipv6-icmp"
	}
	pc, err := pingSocket(family, proto, c)
	if err == nil {
		return pc, false, nil
	}
	if !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EPROTONOSUPPORT) {
		return nil, false, err
	}
	lc := net.ListenConfig{}
	if c.Iface != "" || c.Mark != 0 {
		ctrl, err := sockopts(c.Iface, c.Mark)
		if err != nil {
			return nil, false, err
		}
		lc.Control = ctrl
	}
	laddr := ""
	if c.Src.Addr().IsValid() {
		laddr = c.Src.Addr().String()
	}
	rc, rerr := lc.ListenPacket(ctx, network, laddr)
	if rerr != nil {
		return nil, false, fmt.Errorf("health: icmp socket: %w (ping socket: %v)", rerr, err)
	}
	return rc, true, nil
}

func pingSocket(family, proto int, c Conn) (net.PacketConn, error) {
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
	if err != nil {
		return nil, err
	}
	fail := func(e error) (net.PacketConn, error) { unix.Close(fd); return nil, e }
	if c.Iface != "" {
		if err := unix.BindToDevice(fd, c.Iface); err != nil {
			return fail(fmt.Errorf("health: bind to device %s: %w", c.Iface, err))
		}
	}
	if c.Mark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(c.Mark)); err != nil {
			return fail(fmt.Errorf("health: set SO_MARK: %w", err))
		}
	}
	if a := c.Src.Addr(); a.IsValid() {
		var sa unix.Sockaddr
		if family == unix.AF_INET6 {
			sa = &unix.SockaddrInet6{Addr: a.As16()}
		} else {
			sa = &unix.SockaddrInet4{Addr: a.Unmap().As4()}
		}
		if err := unix.Bind(fd, sa); err != nil {
			return fail(fmt.Errorf("health: bind %s: %w", a, err))
		}
	}
	f := os.NewFile(uintptr(fd), "icmp-echo")
	defer f.Close()
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("health: ping socket: %w", err)
	}
	return pc, nil
}
