package vrrp

import (
	"net/netip"
	"time"

	"go.uber.org/zap"
)

// This file carries out the engine's actions on the system: adverts out,
// VIPs, routes and rules in and out, gratuitous ARP / NA.

// sendAdvert builds and sends one advert to the multicast group or to
// every unicast peer (keepalived vrrp_send_adv).
func (n *Node) sendAdvert(in *instance, prio uint8, seq uint32) {
	p := in.p
	if in.tr == nil {
		return
	}
	if !in.src.IsValid() {
		n.refreshSource(in)
		if !in.src.IsValid() {
			n.log.Warn("no source address to send adverts from", zap.String("instance", in.cfg.Name),
				zap.String("interface", in.txIf))
			return
		}
	}
	a := Advert{Version: p.version, Family: p.family, VRID: p.vrid, Priority: prio, AdverInt: p.advField, Addrs: p.vips}
	if p.version == 2 {
		a.AuthType = p.auth
		if p.auth == AuthPass {
			a.AuthData = p.authKey
		}
	}
	dsts := []netip.Addr{p.dst()}
	if p.unicast {
		dsts = dsts[:0]
		for _, pe := range p.peers {
			dsts = append(dsts, pe.Addr)
		}
	}
	// keepalived increments the IPv4 id once per advert, skipping 0 (which
	// would make the kernel fill it in).
	in.ipID++
	if in.ipID == 0 {
		in.ipID = 1
	}
	for _, dst := range dsts {
		var ph *Pseudo
		if p.version == 3 && (p.family == IPv6 || !p.checksumAsV2) {
			ph = &Pseudo{Src: in.src, Dst: dst}
		}
		if err := a.SetChecksum(ph); err != nil {
			n.log.Error("cannot encode advert", zap.String("instance", in.cfg.Name), zap.Error(err))
			return
		}
		var buf []byte
		if p.auth == AuthAH {
			buf = appendAH(make([]byte, 0, ahLen+a.Len()), in.src, seq)
		}
		buf, _ = a.AppendBinary(buf)
		pkt := &Packet{Src: in.src, Dst: dst, TTL: p.ttl, TOS: 0xc0, ID: in.ipID, Proto: p.proto(), Payload: buf}
		if p.auth == AuthAH {
			if err := sealAH(pkt, p.authKey, p.unicast); err != nil {
				n.log.Error("cannot seal AH", zap.String("instance", in.cfg.Name), zap.Error(err))
				return
			}
		}
		if err := in.tr.t.WritePacket(pkt); err != nil {
			if ce := n.log.Check(zap.WarnLevel, "cannot send advert"); ce != nil {
				ce.Write(zap.String("instance", in.cfg.Name), zap.Stringer("dst", dst), zap.Error(err))
			}
		}
	}
}

// refreshSource picks the advert source: unicast_src_ip / mcast_src_ip,
// else the interface's primary IPv4 address or IPv6 link-local address.
func (n *Node) refreshSource(in *instance) {
	in.src = netip.Addr{}
	if in.p.srcIP.IsValid() {
		in.src = in.p.srcIP
	} else if l, err := n.sys.Link(in.cfg.Interface); err == nil {
		in.src = n.primary(l.Addrs, in.p.family)
	}
	in.m.self = in.src
}

// primary picks the first IPv4 address, or IPv6 link-local address, that
// is not one of our VIPs (a crash may have left VIPs on the interface).
func (n *Node) primary(addrs []netip.Addr, fam Family) netip.Addr {
	isVIP := func(a netip.Addr) bool {
		for i := range n.cfg.Instances {
			for _, v := range n.cfg.Instances[i].VIPs {
				if v.Prefix.Addr() == a {
					return true
				}
			}
			for _, v := range n.cfg.Instances[i].ExcludedVIPs {
				if v.Prefix.Addr() == a {
					return true
				}
			}
		}
		return false
	}
	for _, a := range addrs {
		if FamilyOf(a) != fam || isVIP(a) {
			continue
		}
		if fam == IPv6 && !a.IsLinkLocalUnicast() {
			continue
		}
		return a
	}
	return netip.Addr{}
}

func (in *instance) devOf(v VIP) string {
	if v.Dev != "" {
		return v.Dev
	}
	return in.dev
}

func (in *instance) allVIPs() []VIP {
	return append(append([]VIP(nil), in.cfg.VIPs...), in.cfg.ExcludedVIPs...)
}

// setVIPs adds the VIPs and eVIPs, then routes, then rules (keepalived
// vrrp_state_become_master), after telling the VIP hook.
func (n *Node) setVIPs(in *instance) {
	// keepalived vrrp_state_become_master: the no_accept drop rule goes in
	// before the addresses (vrrp_handle_accept_mode, IPADDRESS_ADD).
	in.blocking = in.noAccept()
	n.syncFirewall()
	n.vipHook(in, true)
	for _, v := range in.allVIPs() {
		if err := n.sys.AddAddress(in.devOf(v), v); err != nil {
			n.log.Error("cannot add virtual address", zap.String("instance", in.cfg.Name),
				zap.Stringer("address", v.Prefix), zap.Error(err))
		}
	}
	for _, r := range in.cfg.Routes {
		if err := n.sys.AddRoute(r); err != nil {
			n.log.Error("cannot add virtual route", zap.String("instance", in.cfg.Name),
				zap.Stringer("dst", r.Dst), zap.Error(err))
		}
	}
	for _, r := range in.cfg.Rules {
		if err := n.sys.AddRule(r); err != nil {
			n.log.Error("cannot add virtual rule", zap.String("instance", in.cfg.Name), zap.Error(err))
		}
	}
}

// clearVIPs removes rules, routes, then addresses (keepalived
// vrrp_restore_interface), then tells the VIP hook. With force it is the
// start-up sweep of what a crash may have left, and errors are not worth a
// message.
func (n *Node) clearVIPs(in *instance, force bool) {
	logErr := func(msg string, err error) {
		if err != nil && !force {
			n.log.Error(msg, zap.String("instance", in.cfg.Name), zap.Error(err))
		}
	}
	for _, r := range in.cfg.Rules {
		logErr("cannot remove virtual rule", n.sys.DelRule(r))
	}
	for _, r := range in.cfg.Routes {
		logErr("cannot remove virtual route", n.sys.DelRoute(r))
	}
	for _, v := range in.allVIPs() {
		logErr("cannot remove virtual address", n.sys.DelAddress(in.devOf(v), v))
	}
	n.vipHook(in, false)
	if in.blocking {
		// keepalived vrrp_restore_interface: the drop rule goes after the
		// addresses.
		in.blocking = false
		n.syncFirewall()
	}
}

// garp sends repeat rounds of gratuitous ARP / unsolicited NA for every
// VIP, spaced by vrrp_garp_interval / vrrp_gna_interval when set.
func (n *Node) garp(in *instance, repeat int) {
	vips := in.allVIPs()
	g := &n.cfg.Global
	gap4, gap6 := g.GARPInterval, g.GNAInterval
	send := func(v VIP) {
		if err := n.sys.Announce(in.devOf(v), v.Prefix.Addr()); err != nil {
			if ce := n.log.Check(zap.WarnLevel, "cannot send gratuitous ARP/NA"); ce != nil {
				ce.Write(zap.String("instance", in.cfg.Name), zap.Stringer("address", v.Prefix), zap.Error(err))
			}
		}
	}
	if gap4 == 0 && gap6 == 0 {
		for range repeat {
			for _, v := range vips {
				send(v)
			}
		}
		return
	}
	ctx := n.ctx
	go func() {
		for range repeat {
			for _, v := range vips {
				send(v)
				gap := gap4
				if v.Prefix.Addr().Is6() {
					gap = gap6
				}
				if gap > 0 {
					t := time.NewTimer(gap)
					select {
					case <-ctx.Done():
						t.Stop()
						return
					case <-t.C:
					}
				}
			}
		}
	}()
}
