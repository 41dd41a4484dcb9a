package conf

import (
	"net"
	"net/netip"
	"time"
)

func blockName(b *builder, n *Node, what string) (string, bool) {
	if len(n.Args) == 0 {
		b.d.kaf(n.Pos, ClassGeneral, "%s: missing name", what)
		return "", false
	}
	b.only(n, 1)
	return n.Args[0], true
}

// notifyKeywords are the notify scripts shared by instances and groups.
func notifyKeywords(nf func(*builder) *Notify, instance bool) []*keyword {
	set := func(dst func(*Notify) **Script) func(*builder, *Node) {
		return func(b *builder, n *Node) {
			if s := b.script(n); s != nil {
				*dst(nf(b)) = s
			}
		}
	}
	kws := []*keyword{
		kwQ("notify_master", set(func(x *Notify) **Script { return &x.Master })),
		kwQ("notify_backup", set(func(x *Notify) **Script { return &x.Backup })),
		kwQ("notify_fault", set(func(x *Notify) **Script { return &x.Fault })),
		kwQ("notify_stop", set(func(x *Notify) **Script { return &x.Stop })),
		kwQ("notify", set(func(x *Notify) **Script { return &x.Generic })),
	}
	if instance {
		kws = append(kws,
			kwQ("notify_deleted", func(b *builder, n *Node) {
				// Alone, it only makes a deleted instance DELETED (not
				// FAULT) to the notify scripts and FIFOs: an empty Script.
				if len(n.Args) == 0 {
					nf(b).Deleted = &Script{Pos: n.Pos}
					return
				}
				if s := b.script(n); s != nil {
					nf(b).Deleted = s
				}
			}),
			kwQ("notify_master_rx_lower_pri", set(func(x *Notify) **Script { return &x.MasterRxLowerPrio })),
		)
	}
	return kws
}

func openSyncGroup(b *builder, n *Node) {
	name, _ := blockName(b, n, "vrrp_sync_group")
	for _, g := range b.cfg.SyncGroups {
		if g.Name == name {
			// vrrp_group_handler: "vrrp sync group %s already defined".
			b.d.kaf(n.Pos, ClassGeneral, "vrrp sync group %s already defined (first at %s) - ignoring this one", name, g.Pos)
			b.skip = true
			return
		}
	}
	b.group = &SyncGroup{Pos: n.Pos, Name: name}
	if name != "" {
		b.cfg.SyncGroups = append(b.cfg.SyncGroups, b.group)
	}
}

func syncGroupLevel() *level {
	g := func(b *builder) *SyncGroup { return b.group }
	lv := newLevel("vrrp_sync_group")
	lv.add(
		kwVals("group", func(b *builder, n *Node) {
			for _, l := range n.Kids {
				for _, a := range l.Args {
					g(b).Group = append(g(b).Group, a)
					g(b).GroupPos = append(g(b).GroupPos, l.Pos)
				}
			}
		}),
		kwVals("track_interface", func(b *builder, n *Node) {
			g(b).TrackInterfaces = append(g(b).TrackInterfaces, b.tracks(n, "track_interface", 253)...)
		}),
		kwVals("track_script", func(b *builder, n *Node) {
			g(b).TrackScripts = append(g(b).TrackScripts, b.tracks(n, "track_script", 253)...)
		}),
		kwVals("track_file", func(b *builder, n *Node) {
			g(b).TrackFiles = append(g(b).TrackFiles, b.tracks(n, "track_file", 254)...)
		}),
		kwVals("track_process", func(b *builder, n *Node) {
			g(b).TrackProcesses = append(g(b).TrackProcesses, b.tracks(n, "track_process", 254)...)
		}),
		unsupportedValues("track_bfd", "BFD sessions are not tracked: they count as up"),
		kw("smtp_alert", func(b *builder, n *Node) { g(b).SMTPAlert = boolPtr(b.optBool(n)) }),
		kw("sync_group_tracking_weight", func(b *builder, n *Node) { g(b).SyncGroupTrackingWeight = true }),
		kaSays(alias(kw("global_tracking", func(b *builder, n *Node) { g(b).SyncGroupTrackingWeight = true }), "sync_group_tracking_weight"),
			ClassGeneral, "global_tracking is deprecated - use track_interface/script/file on the sync group"),
		kw("notify_priority_changes", func(b *builder, n *Node) { g(b).NotifyPriorityChanges = b.optBool(n) }),
	)
	lv.add(notifyKeywords(func(b *builder) *Notify { return &b.group.Notify }, false)...)
	return lv
}

// unsupportedValues is an unsupported keyword that takes a value block.
func unsupportedValues(name, note string) *keyword {
	return &keyword{name: name, kind: kwValues, status: NotHonoured, note: note, warn: true}
}

func openInstance(b *builder, n *Node) {
	name, _ := blockName(b, n, "vrrp_instance")
	for _, in := range b.cfg.Instances {
		if in.Name == name {
			// vrrp_handler: "vrrp instance %s already defined", and the
			// block is skipped.
			b.d.kaf(n.Pos, ClassGeneral, "vrrp instance %s already defined (first at %s) - ignoring this one", name, in.Pos)
			b.skip = true
			return
		}
	}
	b.inst = &Instance{Pos: n.Pos, Name: name, Priority: 100, AdvertInt: time.Second, Preempt: true,
		UnicastTTL: 255}
}

func closeInstance(b *builder, n *Node) {
	in := b.inst
	b.inst = nil
	if in.Name == "" {
		return
	}
	// keepalived (vrrp.c): "state MASTER" with no priority means 255; with
	// no state, the initial state follows the priority.
	if !b.isSet(in, "priority") && in.State == "MASTER" {
		in.Priority = 255
	}
	if in.State == "" {
		in.State = "BACKUP"
		if in.Priority == 255 {
			in.State = "MASTER"
		}
	}
	b.cfg.Instances = append(b.cfg.Instances, in)
}

func instanceLevel() *level {
	in := func(b *builder) *Instance { return b.inst }
	boolField := func(name string, dst func(*Instance) *bool) *keyword {
		return kw(name, func(b *builder, n *Node) { *dst(in(b)) = b.optBool(n) })
	}
	garpInt := func(name string, lo, hi int, set func(*Garp, int)) *keyword {
		return kw(name, func(b *builder, n *Node) {
			if v, ok := b.int(n, lo, hi); ok {
				set(&in(b).Garp, v)
				b.mark(in(b), name)
			}
		})
	}
	lv := newLevel("vrrp_instance")
	lv.add(
		kw("state", func(b *builder, n *Node) {
			v, ok := b.str(n)
			if !ok {
				return
			}
			if in(b).State == "MASTER" && v == "BACKUP" {
				b.d.kaf(n.Pos, ClassGeneral, "state BACKUP after state MASTER is ignored")
				return
			}
			switch v {
			case "MASTER", "BACKUP":
				in(b).State, in(b).StatePos = v, n.Pos
			default:
				b.d.kaf(n.Pos, ClassGeneral, "state: unknown state '%s' (MASTER or BACKUP), using BACKUP", v)
				in(b).State, in(b).StatePos = "BACKUP", n.Pos
			}
		}),
		kw("interface", func(b *builder, n *Node) {
			v, ok := b.str(n)
			if !ok {
				return
			}
			if len(v) >= 16 {
				b.d.kaf(n.Pos, ClassGeneral, "interface: name '%s' is longer than 15 characters", v)
				return
			}
			in(b).Interface, in(b).InterfacePos = v, n.Pos
		}),
		kw("virtual_router_id", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 255); ok {
				in(b).VRID = v
			}
		}),
		kw("priority", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 255); ok {
				in(b).Priority = v
				b.mark(in(b), "priority")
			}
		}),
		kw("advert_int", func(b *builder, n *Node) {
			if v, ok := b.timer(n, 10*time.Millisecond, 255*time.Second); ok {
				in(b).AdvertInt = v
			}
		}),
		kw("version", func(b *builder, n *Node) {
			if v, ok := b.int(n, 2, 3); ok {
				in(b).Version = v
			}
		}),
		kwVals("virtual_ipaddress", func(b *builder, n *Node) {
			for _, l := range n.Kids {
				if a, ok := b.ipAddress(l, "virtual_ipaddress"); ok {
					in(b).VIPs = append(in(b).VIPs, a)
				}
			}
		}),
		kwVals("virtual_ipaddress_excluded", func(b *builder, n *Node) {
			for _, l := range n.Kids {
				if a, ok := b.ipAddress(l, "virtual_ipaddress_excluded"); ok {
					in(b).ExcludedVIPs = append(in(b).ExcludedVIPs, a)
				}
			}
		}),
		kw("no_virtual_ipaddress", func(b *builder, n *Node) { in(b).NoVirtualIPAddress = true }),
		kwVals("virtual_routes", func(b *builder, n *Node) {
			for _, l := range n.Kids {
				if r, ok := b.route(l, "virtual_routes", false); ok {
					in(b).Routes = append(in(b).Routes, r)
				}
			}
		}),
		kwVals("virtual_rules", func(b *builder, n *Node) {
			for _, l := range n.Kids {
				if r, ok := b.rule(l, "virtual_rules", false); ok {
					in(b).Rules = append(in(b).Rules, r)
				}
			}
		}),
		kwBlk("authentication", authLevel(), func(b *builder, n *Node) {
			in(b).Auth = &Auth{Pos: n.Pos}
		}, func(b *builder, n *Node) {
			a := in(b).Auth
			if a.Type == "" {
				b.d.kaf(n.Pos, ClassGeneral, "authentication: no auth_type given - authentication ignored")
				in(b).Auth = nil
			}
		}),
		kw("nopreempt", func(b *builder, n *Node) { in(b).Preempt = false }),
		kw("preempt", func(b *builder, n *Node) { in(b).Preempt = true }),
		kw("preempt_delay", func(b *builder, n *Node) {
			if v, ok := b.timer(n, 0, 1000*time.Second); ok {
				in(b).PreemptDelay = v
			}
		}),
		kwVals("track_interface", func(b *builder, n *Node) {
			in(b).TrackInterfaces = append(in(b).TrackInterfaces, b.tracks(n, "track_interface", 253)...)
		}),
		kwVals("track_script", func(b *builder, n *Node) {
			in(b).TrackScripts = append(in(b).TrackScripts, b.tracks(n, "track_script", 253)...)
		}),
		kwVals("track_file", func(b *builder, n *Node) {
			in(b).TrackFiles = append(in(b).TrackFiles, b.tracks(n, "track_file", 254)...)
		}),
		kwVals("track_process", func(b *builder, n *Node) {
			in(b).TrackProcesses = append(in(b).TrackProcesses, b.tracks(n, "track_process", 254)...)
		}),
		unsupportedValues("track_bfd", "BFD sessions are not tracked: they count as up"),
		kw("unicast_src_ip", func(b *builder, n *Node) {
			b.mark(in(b), "unicast")
			if a, ok := b.addr(n); ok {
				in(b).UnicastSrcIP = a
			}
		}),
		kwVals("unicast_peer", func(b *builder, n *Node) {
			b.mark(in(b), "unicast")
			for _, l := range n.Kids {
				p, ok := unicastPeer(b, l)
				if ok {
					in(b).UnicastPeers = append(in(b).UnicastPeers, p)
				}
			}
		}),
		kw("mcast_src_ip", func(b *builder, n *Node) {
			if a, ok := b.addr(n); ok {
				in(b).McastSrcIP = a
			}
		}),
		kw("mcast_dst_ip", func(b *builder, n *Node) {
			if a, ok := b.addr(n); ok {
				if !a.IsMulticast() {
					b.d.kaf(n.Pos, ClassGeneral, "mcast_dst_ip: %s is not a multicast address", a)
					return
				}
				in(b).McastDstIP = a
			}
		}),
		kw("unicast_ttl", func(b *builder, n *Node) {
			if v, ok := b.int(n, 0, 255); ok {
				in(b).UnicastTTL = v
			}
		}),
		kw("unicast_fault_no_peer", func(b *builder, n *Node) {
			b.mark(in(b), "unicast")
			in(b).UnicastFaultNoPeer = true
		}),
		kw("check_unicast_src", func(b *builder, n *Node) {
			b.mark(in(b), "unicast")
			in(b).CheckUnicastSrc = true
		}),
		ignored("track_src_ip", "the source address is tracked through netlink"),
		&keyword{name: "old_unicast_checksum", status: Ignored,
			note: "ulvs always uses the real destination in the v3 unicast pseudo-header",
			h:    func(b *builder, n *Node) { b.mark(in(b), "unicast") }},
		kw("smtp_alert", func(b *builder, n *Node) { in(b).SMTPAlert = boolPtr(b.optBool(n)) }),
		garpInt("garp_master_delay", 0, 255, func(g *Garp, v int) { g.MasterDelay = time.Duration(v) * time.Second }),
		garpInt("garp_master_repeat", 1, 255, func(g *Garp, v int) { g.MasterRepeat = v }),
		garpInt("garp_master_refresh", 0, 1<<20, func(g *Garp, v int) { g.MasterRefresh = time.Duration(v) * time.Second }),
		garpInt("garp_master_refresh_repeat", 1, 255, func(g *Garp, v int) { g.MasterRefreshRepeat = v }),
		garpInt("garp_lower_prio_delay", 0, 255, func(g *Garp, v int) { g.LowerPrioDelay = time.Duration(v) * time.Second }),
		garpInt("garp_lower_prio_repeat", 0, 255, func(g *Garp, v int) { g.LowerPrioRepeat = v }),
		unsupported("garp_extra_if", "no gratuitous ARPs are sent on other interfaces"),
		kaSays(alias(unsupported("vmac_garp_intvl", "no gratuitous ARPs are sent on other interfaces"), "garp_extra_if"),
			ClassDeprecated, `keyword "vmac_garp_intvl" is deprecated - please use "garp_extra_if"`),
		kw("use_vmac", func(b *builder, n *Node) {
			v := &VMAC{Pos: n.Pos}
			for _, a := range n.Args {
				if _, err := net.ParseMAC(a); err == nil {
					v.MAC = a
				} else if a != "netlink_notify_msg" {
					v.Name = a
				}
			}
			in(b).UseVMAC = v
		}),
		kw("use_vmac_addr", func(b *builder, n *Node) {}),
		kw("vmac_xmit_base", func(b *builder, n *Node) { in(b).VMACXmitBase = true }),
		unsupported("use_ipvlan", "no ipvlan interface is made: the VIPs go on the instance's interface (use_vmac makes a VMAC)"),
		kw("dont_track_primary", func(b *builder, n *Node) { in(b).DontTrackPrimary = true }),
		kw("accept", func(b *builder, n *Node) { in(b).Accept = boolPtr(true) }),
		kw("no_accept", func(b *builder, n *Node) { in(b).Accept = boolPtr(false) }),
		boolField("skip_check_adv_addr", func(i *Instance) *bool { return &i.SkipCheckAdvAddr }),
		kw("strict_mode", func(b *builder, n *Node) {
			in(b).Strict = b.optBool(n)
			b.mark(in(b), "strict")
		}),
		kw("lower_prio_no_advert", func(b *builder, n *Node) {
			in(b).LowerPrioNoAdvert = b.optBool(n)
			b.mark(in(b), "lower_prio_no_advert")
		}),
		kw("higher_prio_send_advert", func(b *builder, n *Node) {
			in(b).HigherPrioSendAdvert = b.optBool(n)
			b.mark(in(b), "higher_prio_send_advert")
		}),
		kw("v3_checksum_as_v2", func(b *builder, n *Node) {
			in(b).V3ChecksumAsV2 = b.optBool(n)
			b.mark(in(b), "v3_checksum_as_v2")
		}),
		kw("down_timer_adverts", func(b *builder, n *Node) {
			if v, ok := b.int(n, 1, 100); ok {
				in(b).DownTimerAdverts = v
			}
		}),
		kw("debug", func(b *builder, n *Node) {
			in(b).Debug = 1
			if len(n.Args) > 0 {
				if v, ok := b.int(n, 0, 4); ok {
					in(b).Debug = v
				}
			}
		}),
		boolField("notify_priority_changes", func(i *Instance) *bool { return &i.NotifyPriorityChange }),
		ignored("owner_ignore_adverts", "the priority-255 owner follows the RFC"),
		ignored("timer_expired_backup", "ulvsd is not subject to keepalived's thread timer expiry"),
		ignored("thread_timer_expired", "ulvsd is not subject to keepalived's thread timer expiry"),
		ignored("kernel_rx_buf_size", "kernel buffer sizing"),
		kw("promote_secondaries", func(b *builder, n *Node) { in(b).PromoteSecondaries = true }),
		ignoredWarn("native_ipv6", "obsolete: IPv6 instances are recognised from their addresses"),
		unsupported("vrf", "the instance's addresses and routes are not put in the VRF"),
		kw("lvs_sync_daemon_interface", func(b *builder, n *Node) {
			if v, ok := b.str(n); ok {
				in(b).LVSSyncDaemonInterface = v
				// "(%s) Specifying lvs_sync_daemon_interface against a vrrp
				// is deprecated."
				b.d.kaf(n.Pos, ClassGeneral, "lvs_sync_daemon_interface: specifying it in a vrrp_instance is deprecated "+
					"(use global_defs lvs_sync_daemon %s %s)", v, b.inst.Name)
			}
		}),
		unsupportedBlock("auth_hmac", "adverts carry no HMAC and incoming HMACs are not checked"),
	)
	lv.add(notifyKeywords(func(b *builder) *Notify { return &b.inst.Notify }, true)...)
	return lv
}

func authLevel() *level {
	a := func(b *builder) *Auth { return b.inst.Auth }
	return newLevel("authentication").add(
		kw("auth_type", func(b *builder, n *Node) {
			v, ok := b.str(n)
			if !ok {
				return
			}
			switch v {
			case "PASS", "AH":
				a(b).Type = v
			default:
				b.d.kaf(n.Pos, ClassGeneral, "auth_type: unknown authentication type '%s' (PASS or AH)", v)
			}
		}),
		kw("auth_pass", func(b *builder, n *Node) {
			v, ok := b.str(n)
			if !ok {
				return
			}
			if len(v) > 8 {
				// vrrp_auth_pass_handler: "Truncating auth_pass to %zu
				// characters".
				b.d.kaf(n.Pos, ClassGeneral, "auth_pass: truncating auth_pass to 8 characters ('%s' is used)", v[:8])
			}
			a(b).Pass = v
		}),
	)
}

func unicastPeer(b *builder, n *Node) (UnicastPeer, bool) {
	a, err := netip.ParseAddr(n.Args[0])
	if err != nil {
		b.d.kaf(n.Pos, ClassGeneral, "unicast_peer: invalid address '%s'", n.Args[0])
		return UnicastPeer{}, false
	}
	p := UnicastPeer{Pos: n.Pos, Addr: a}
	for i := 1; i < len(n.Args); i += 2 {
		if i+1 >= len(n.Args) {
			b.d.kaf(n.Pos, ClassGeneral, "unicast_peer %s: '%s' needs a value", a, n.Args[i])
			return p, false
		}
		v, ok := atoiRange(n.Args[i+1], 0, 255)
		if !ok {
			b.d.kaf(n.Pos, ClassGeneral, "unicast_peer %s: invalid %s '%s'", a, n.Args[i], n.Args[i+1])
			return p, false
		}
		switch n.Args[i] {
		case "min_ttl":
			p.MinTTL = v
		case "max_ttl":
			p.MaxTTL = v
		default:
			b.d.kaf(n.Pos, ClassGeneral, "unicast_peer %s: unknown option '%s'", a, n.Args[i])
			return p, false
		}
	}
	return p, true
}
