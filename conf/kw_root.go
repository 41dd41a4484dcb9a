package conf

import "sync"

// The top level of the registry: the blocks a file is made of.

var (
	rootOnce sync.Once
	root     *level
)

// rootLevel returns the registry's top level, built once.
func rootLevel() *level {
	rootOnce.Do(func() {
		root = newLevel("(top level)")
		root.add(
			kwBlk("global_defs", globalLevel(), func(b *builder, n *Node) {
				if !b.cfg.Global.Pos.IsValid() {
					b.cfg.Global.Pos = n.Pos
				}
			}, nil),
			kwVals("static_ipaddress", func(b *builder, n *Node) {
				for _, l := range n.Kids {
					if a, ok := b.ipAddress(l, "static_ipaddress"); ok {
						b.cfg.StaticAddresses = append(b.cfg.StaticAddresses, a)
					}
				}
			}),
			kwVals("static_routes", func(b *builder, n *Node) {
				for _, l := range n.Kids {
					if r, ok := b.route(l, "static_routes", true); ok {
						b.cfg.StaticRoutes = append(b.cfg.StaticRoutes, r)
					}
				}
			}),
			kwVals("static_rules", func(b *builder, n *Node) {
				for _, l := range n.Kids {
					if r, ok := b.rule(l, "static_rules", true); ok {
						b.cfg.StaticRules = append(b.cfg.StaticRules, r)
					}
				}
			}),
			kwBlk("vrrp_script", vrrpScriptLevel(), openVRRPScript, closeVRRPScript),
			kwBlk("track_file", trackFileLevel(), openTrackFile, nil),
			alias(kwBlk("vrrp_track_file", trackFileLevel(), openTrackFile, nil), "track_file"),
			kwBlk("vrrp_track_process", trackProcessLevel(), openTrackProcess, nil),
			kwBlk("vrrp_sync_group", syncGroupLevel(), openSyncGroup, nil),
			kwBlk("vrrp_instance", instanceLevel(), openInstance, closeInstance),
			named(kwVals("virtual_server_group", vsgHandler)),
			kwBlk("virtual_server", virtualServerLevel(), openVirtualServer, closeVirtualServer),
			kwBlk("SSL", sslLevel(), func(b *builder, n *Node) {
				if b.cfg.SSL == nil {
					b.cfg.SSL = &SSLContext{Pos: n.Pos}
				}
			}, nil),
			unsupportedBlock("bfd_instance", "no BFD session runs: what tracks it sees it as up"),
			kwBlk("track_group", trackGroupLevel(), openTrackGroup, nil),
			unsupportedBlock("garp_group", "gratuitous ARPs follow each instance's settings, not the group's intervals"),
			unsupportedBlock("linkbeat_interfaces", "link state comes from netlink, not from MII or ethtool polling"),
			unsupportedBlock("interface_up_down_delays", "an interface going down or up takes effect at once, without the delays"),
			kw("net_namespace", netNamespace),
			unsupported("net_namespace_ipvs", "IPVS stays in ulvsd's own namespace"),
			ignored("namespace_with_ipsets", "ulvs does not use ipsets"),
			ignored("instance", "keepalived's multi-instance paths; ulvs uses -p and the control socket path"),
			ignored("use_pid_dir", "ulvs uses the pid file given with -p"),
			ignored("linkbeat_use_polling", "interfaces are tracked through netlink only"),
			ignored("child_wait_time", "ulvsd is a single process"),
		)
		effectProblems = applyEffects(root)
		effectProblems = append(effectProblems, applyNotIn227(root)...)
	})
	return root
}

// effectProblems lists effects rows that match no keyword (a test fails on
// any).
var effectProblems []string

// netNamespace reads net_namespace NAME (global_defs or the top level).
func netNamespace(b *builder, n *Node) {
	if v, ok := b.str(n); ok {
		b.cfg.Global.NetNamespace, b.cfg.Global.NetNamespacePos = v, n.Pos
	}
}

// openTrackGroup reads track_group NAME { group { INSTANCE ... } }, the
// instances whose state static addresses, routes and rules follow.
func openTrackGroup(b *builder, n *Node) {
	name, _ := blockName(b, n, "track_group")
	for _, g := range b.cfg.TrackGroups {
		if g.Name == name {
			// static_track_group_handler: "track_group %s already defined".
			b.d.kaf(n.Pos, ClassGeneral, "track_group %s already defined - ignoring this one", name)
			b.skip = true
			return
		}
	}
	b.tgroup = &TrackGroup{Pos: n.Pos, Name: name}
	if name != "" {
		b.cfg.TrackGroups = append(b.cfg.TrackGroups, b.tgroup)
	}
}

func trackGroupLevel() *level {
	return newLevel("track_group").add(
		kwVals("group", func(b *builder, n *Node) {
			for _, l := range n.Kids {
				b.tgroup.Group = append(b.tgroup.Group, l.Args...)
			}
		}),
	)
}

func sslLevel() *level {
	s := func(b *builder) *SSLContext { return b.cfg.SSL }
	return newLevel("SSL").add(
		kwStr("password", func(b *builder) *string { return &s(b).Password }),
		kwStr("ca", func(b *builder) *string { return &s(b).CA }),
		kwStr("certificate", func(b *builder) *string { return &s(b).Certificate }),
		kwStr("key", func(b *builder) *string { return &s(b).Key }),
	)
}
