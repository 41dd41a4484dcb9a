package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

func systemDefaults(log *zap.Logger) (Network, System, error) {
	return SystemNetwork(), NewSystem(log), nil
}

// netSystem is the Linux System: rtnetlink through vishvananda/netlink,
// gratuitous ARP and unsolicited NA through AF_PACKET (mdlayher/packet).
type netSystem struct {
	log *zap.Logger
	mu  sync.Mutex
	// conns caches one packet socket per interface and EtherType.
	conns map[[2]int]*packet.Conn
	// bases counts the VMACs on each base interface and keeps the base's
	// ARP sysctls as they were, to restore when the last VMAC goes.
	bases map[string]*vmacBase
	// promote keeps each interface's promote_secondaries as it was.
	promote map[string]string
}

type vmacBase struct {
	vmacs []string
	saved map[string]string
}

// NewSystem returns the Linux System. A nil logger means none.
func NewSystem(log *zap.Logger) System {
	if log == nil {
		log = zap.NewNop()
	}
	return &netSystem{log: log, conns: map[[2]int]*packet.Conn{}, bases: map[string]*vmacBase{}}
}

var _ System = (*netSystem)(nil)

func (s *netSystem) Link(name string) (Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return Link{}, fmt.Errorf("vrrp: link %s: %w", name, err)
	}
	a := l.Attrs()
	out := Link{Name: a.Name, Index: a.Index, MAC: a.HardwareAddr,
		// keepalived's IF_ISUP: IFF_UP and IFF_RUNNING.
		Up: a.RawFlags&unix.IFF_UP != 0 && a.RawFlags&unix.IFF_RUNNING != 0}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		addrs, err := netlink.AddrList(l, fam)
		if err != nil {
			return Link{}, fmt.Errorf("vrrp: addresses of %s: %w", name, err)
		}
		// Primaries before secondaries, each in the kernel's order.
		for _, second := range []bool{false, true} {
			for _, ad := range addrs {
				if (ad.Flags&unix.IFA_F_SECONDARY != 0) != second {
					continue
				}
				if ip, ok := netip.AddrFromSlice(ad.IP); ok {
					out.Addrs = append(out.Addrs, ip.Unmap())
				}
			}
		}
	}
	b, err := os.ReadFile(filepath.Join("/proc/sys/net/ipv6/conf", name, "forwarding"))
	out.Forwarding = err == nil && strings.TrimSpace(string(b)) == "1"
	return out, nil
}

func scopeOf(s string) (int, error) {
	switch s {
	case "", "global":
		return int(netlink.SCOPE_UNIVERSE), nil
	case "site":
		return int(netlink.SCOPE_SITE), nil
	case "link":
		return int(netlink.SCOPE_LINK), nil
	case "host":
		return int(netlink.SCOPE_HOST), nil
	case "nowhere":
		return int(netlink.SCOPE_NOWHERE), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("vrrp: bad scope %q", s)
	}
	return n, nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (s *netSystem) addr(dev string, v VIP) (netlink.Link, *netlink.Addr, error) {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return nil, nil, fmt.Errorf("vrrp: link %s: %w", dev, err)
	}
	scope, err := scopeOf(v.Scope)
	if err != nil {
		return nil, nil, err
	}
	a := &netlink.Addr{IPNet: prefixNet(v.Prefix), Label: v.Label, Scope: scope}
	if v.Broadcast.IsValid() {
		a.Broadcast = v.Broadcast.AsSlice()
	}
	if v.Peer.IsValid() {
		a.Peer = prefixNet(v.Peer)
	}
	if v.NoDAD {
		a.Flags |= unix.IFA_F_NODAD
	}
	if v.NoPrefixRoute {
		a.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if v.Home {
		a.Flags |= unix.IFA_F_HOMEADDRESS
	}
	return l, a, nil
}

func (s *netSystem) AddAddress(dev string, v VIP) error {
	l, a, err := s.addr(dev, v)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(l, a); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("vrrp: add %s to %s: %w", v.Prefix, dev, err)
	}
	return nil
}

func (s *netSystem) DelAddress(dev string, v VIP) error {
	l, a, err := s.addr(dev, v)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil // the interface (a VMAC) is gone, and its addresses with it
	}
	if err != nil {
		return err
	}
	if err := netlink.AddrDel(l, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("vrrp: delete %s from %s: %w", v.Prefix, dev, err)
	}
	return nil
}

var routeTypes = map[string]int{"": unix.RTN_UNICAST, "unicast": unix.RTN_UNICAST, "blackhole": unix.RTN_BLACKHOLE,
	"unreachable": unix.RTN_UNREACHABLE, "prohibit": unix.RTN_PROHIBIT, "local": unix.RTN_LOCAL}

func (s *netSystem) route(r Route) (*netlink.Route, error) {
	rt := &netlink.Route{Dst: prefixNet(r.Dst), Table: r.Table, Priority: r.Metric}
	t, ok := routeTypes[r.Type]
	if !ok {
		return nil, fmt.Errorf("vrrp: route %s: unknown type %q", r.Dst, r.Type)
	}
	rt.Type = t
	if r.Src.IsValid() {
		rt.Src = r.Src.AsSlice()
	}
	if r.Gateway.IsValid() {
		rt.Gw = r.Gateway.AsSlice()
	}
	if r.Dev != "" {
		l, err := netlink.LinkByName(r.Dev)
		if err != nil {
			return nil, fmt.Errorf("vrrp: route %s: link %s: %w", r.Dst, r.Dev, err)
		}
		rt.LinkIndex = l.Attrs().Index
	}
	if r.Scope != "" {
		sc, err := scopeOf(r.Scope)
		if err != nil {
			return nil, err
		}
		rt.Scope = netlink.Scope(sc)
	} else if !r.Gateway.IsValid() && t == unix.RTN_UNICAST {
		rt.Scope = netlink.SCOPE_LINK
	}
	return rt, nil
}

func (s *netSystem) AddRoute(r Route) error {
	rt, err := s.route(r)
	if err != nil {
		return err
	}
	if err := netlink.RouteAdd(rt); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("vrrp: add route %s: %w", r.Dst, err)
	}
	return nil
}

func (s *netSystem) DelRoute(r Route) error {
	rt, err := s.route(r)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := netlink.RouteDel(rt); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("vrrp: delete route %s: %w", r.Dst, err)
	}
	return nil
}

func (s *netSystem) rule(r Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Table, nr.Priority, nr.Invert = r.Table, r.Priority, r.Invert
	if r.Priority == 0 {
		nr.Priority = -1
	}
	nr.Mark, nr.Mask = r.Mark, r.Mask
	nr.IifName, nr.OifName = r.Iif, r.Oif
	fam := r.Family
	if r.From.IsValid() {
		nr.Src = prefixNet(r.From)
		fam = FamilyOf(r.From.Addr())
	}
	if r.To.IsValid() {
		nr.Dst = prefixNet(r.To)
		fam = FamilyOf(r.To.Addr())
	}
	nr.Family = unix.AF_INET
	if fam == IPv6 {
		nr.Family = unix.AF_INET6
	}
	return nr
}

func (s *netSystem) AddRule(r Rule) error {
	if err := netlink.RuleAdd(s.rule(r)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("vrrp: add rule: %w", err)
	}
	return nil
}

func (s *netSystem) DelRule(r Rule) error {
	if err := netlink.RuleDel(s.rule(r)); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("vrrp: delete rule: %w", err)
	}
	return nil
}

// conn returns the cached packet socket for ifi and EtherType et. It
// receives nothing: a BPF filter that drops every frame is set before bind.
func (s *netSystem) conn(ifi *net.Interface, et int) (*packet.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := [2]int{ifi.Index, et}
	if c, ok := s.conns[key]; ok {
		return c, nil
	}
	drop, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return nil, err
	}
	c, err := packet.Listen(ifi, packet.Raw, et, &packet.Config{Filter: drop})
	if err != nil {
		return nil, fmt.Errorf("vrrp: packet socket on %s: %w", ifi.Name, err)
	}
	s.conns[key] = c
	return c, nil
}

func (s *netSystem) Announce(dev string, addr netip.Addr) error {
	ifi, err := net.InterfaceByName(dev)
	if err != nil {
		return fmt.Errorf("vrrp: announce on %s: %w", dev, err)
	}
	l, err := s.Link(dev)
	if err != nil {
		return err
	}
	var frame []byte
	et := unix.ETH_P_ARP
	if addr.Is6() && !addr.Is4In6() {
		et = unix.ETH_P_IPV6
		frame, err = UnsolicitedNA(ifi.HardwareAddr, addr, l.Forwarding)
	} else {
		frame, err = GratuitousARP(ifi.HardwareAddr, addr)
	}
	if err != nil {
		return err
	}
	c, err := s.conn(ifi, et)
	if err != nil {
		return err
	}
	dst := net.HardwareAddr(frame[:6])
	_, err = c.WriteTo(frame, &packet.Addr{HardwareAddr: dst})
	if errors.Is(err, unix.ENETDOWN) {
		// The kernel marks a packet socket bound to an interface with
		// ENETDOWN when the interface goes down, and the next send
		// returns that error once (and clears it) even though the link is
		// up again: the first announcement after a link cut was lost
		// (with garp_master_repeat 1, the only one). Sent again, it fails
		// only if the link is really down.
		_, err = c.WriteTo(frame, &packet.Addr{HardwareAddr: dst})
	}
	if err != nil {
		return fmt.Errorf("vrrp: announce %s on %s: %w", addr, dev, err)
	}
	return nil
}

func (s *netSystem) AddVMAC(name, base string, mac net.HardwareAddr) error {
	parent, err := netlink.LinkByName(base)
	if err != nil {
		return fmt.Errorf("vrrp: vmac %s: base %s: %w", name, base, err)
	}
	if old, err := netlink.LinkByName(name); err == nil {
		if _, ok := old.(*netlink.Macvlan); !ok {
			return fmt.Errorf("vrrp: vmac %s: an interface of type %s has that name", name, old.Type())
		}
		if err := netlink.LinkSetHardwareAddr(old, mac); err != nil {
			return fmt.Errorf("vrrp: vmac %s: %w", name, err)
		}
	} else {
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: parent.Attrs().Index, HardwareAddr: mac},
			// keepalived creates VMACs in private mode.
			Mode: netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := netlink.LinkAdd(mv); err != nil {
			return fmt.Errorf("vrrp: vmac %s: %w", name, err)
		}
	}
	// keepalived (vrrp_if_config.c) sets arp_ignore=1 and arp_filter=1
	// on the VMAC and its base interface, so that ARP for a VIP is answered
	// by the VMAC alone, with the virtual MAC, and not by the base too.
	s.mu.Lock()
	b := s.bases[base]
	if b == nil {
		b = &vmacBase{saved: map[string]string{}}
		for _, k := range []string{"arp_ignore", "arp_filter"} {
			if v, err := os.ReadFile(arpSysctl(base, k)); err == nil {
				b.saved[k] = strings.TrimSpace(string(v))
			}
		}
		s.bases[base] = b
	}
	b.vmacs = append(b.vmacs, name)
	s.mu.Unlock()
	for _, dev := range []string{base, name} {
		for _, k := range []string{"arp_ignore", "arp_filter"} {
			if err := os.WriteFile(arpSysctl(dev, k), []byte("1"), 0o644); err != nil {
				s.log.Warn("cannot set VMAC sysctl", zap.String("interface", dev), zap.String("sysctl", k), zap.Error(err))
			}
		}
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("vrrp: vmac %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("vrrp: vmac %s up: %w", name, err)
	}
	return nil
}

func arpSysctl(dev, key string) string { return filepath.Join("/proc/sys/net/ipv4/conf", dev, key) }

func (s *netSystem) DelVMAC(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	for base, b := range s.bases {
		if i := slices.Index(b.vmacs, name); i >= 0 {
			b.vmacs = slices.Delete(b.vmacs, i, i+1)
			if len(b.vmacs) == 0 {
				for k, v := range b.saved {
					_ = os.WriteFile(arpSysctl(base, k), []byte(v), 0o644)
				}
				delete(s.bases, base)
			}
		}
	}
	for k, c := range s.conns {
		if k[0] == l.Attrs().Index {
			_ = c.Close()
			delete(s.conns, k)
		}
	}
	s.mu.Unlock()
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("vrrp: delete vmac %s: %w", name, err)
	}
	return nil
}

func (s *netSystem) WatchLinks(ctx context.Context, fn func(name string, up bool)) error {
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	errc := make(chan error, 1)
	err := netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) {
			select {
			case errc <- err:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("vrrp: link watch: %w", err)
	}
	last := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return fmt.Errorf("vrrp: link watch: %w", err)
		case u, ok := <-ch:
			if !ok {
				return errors.New("vrrp: link watch ended")
			}
			a := u.Attrs()
			up := u.IfInfomsg.Flags&unix.IFF_UP != 0 && u.IfInfomsg.Flags&unix.IFF_RUNNING != 0
			if u.Header.Type == unix.RTM_DELLINK {
				up = false
			}
			if prev, seen := last[a.Name]; seen && prev == up {
				continue
			}
			last[a.Name] = up
			fn(a.Name, up)
		}
	}
}

func (s *netSystem) WatchAddrs(ctx context.Context, fn func(dev string, addr netip.Prefix, added bool)) error {
	ch := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	errc := make(chan error, 1)
	err := netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{
		ErrorCallback: func(err error) {
			select {
			case errc <- err:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("vrrp: address watch: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return fmt.Errorf("vrrp: address watch: %w", err)
		case u, ok := <-ch:
			if !ok {
				return errors.New("vrrp: address watch ended")
			}
			ip, ok := netip.AddrFromSlice(u.LinkAddress.IP)
			if !ok {
				continue
			}
			ones, _ := u.LinkAddress.Mask.Size()
			l, err := netlink.LinkByIndex(u.LinkIndex)
			if err != nil {
				continue // the link went with its addresses
			}
			fn(l.Attrs().Name, netip.PrefixFrom(ip.Unmap(), ones), u.NewAddr)
		}
	}
}
