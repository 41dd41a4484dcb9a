package conf

import (
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/sched"
)

// The virtual server half of the checks keepalived makes once the file is
// read (check_data.c validate_check_config, check_parser.c): each message
// says which keepalived message it mirrors, and the configuration is
// corrected as keepalived corrects it. keepalived reports these without a
// line; ulvs reports them at the virtual or real server.

func (b *builder) virtualServers() {
	cfg := b.cfg
	groups := map[string]*VirtualServerGroup{}
	var keptGroups []*VirtualServerGroup
	for _, g := range cfg.VirtualServerGroups {
		if first, dup := groups[g.Name]; dup {
			b.d.warnf(g.Pos, "virtual_server_group %s defined twice (first at %s) - ignoring this one", g.Name, first.Pos)
			continue
		}
		if len(g.Entries) == 0 {
			// check_parser.c: "virtual server group %s has no entries -
			// removing".
			b.d.kaf(g.Pos, ClassGeneral, "virtual server group %s has no entries - removing", g.Name)
			continue
		}
		groups[g.Name] = g
		keptGroups = append(keptGroups, g)
	}
	cfg.VirtualServerGroups = keptGroups
	seen := map[string]*VirtualServer{}
	var kept []*VirtualServer
	for _, vs := range cfg.VirtualServers {
		if vs.Group != "" && groups[vs.Group] == nil {
			// ipwrapper.c: "Virtual server group %s specified but not
			// configured" (logged when keepalived starts the service).
			b.d.warnf(vs.Pos, "virtual_server group %s: virtual_server_group %s is not defined - ignoring the virtual server",
				vs.Group, vs.Group)
			continue
		}
		if len(vs.RealServers) == 0 {
			// "Virtual server %s has no real servers - ignoring".
			b.d.kaf(vs.Pos, ClassGeneral, "virtual server %s has no real servers - ignoring it", vsName(vs))
			continue
		}
		if b.checkVirtualServer(vs, groups) {
			key := vs.Protocol + " " + vsName(vs)
			if vs.Fwmark != 0 {
				key = vsName(vs) + " " + vs.Family
			}
			if first, dup := seen[key]; dup {
				b.d.warnf(vs.Pos, "virtual_server %s (%s) defined twice (first at %s) - ignoring this one",
					vsName(vs), vs.Protocol, first.Pos)
				continue
			}
			seen[key] = vs
			kept = append(kept, vs)
		}
	}
	cfg.VirtualServers = kept
}

// checkVirtualServer applies validate_check_config's rules to one virtual
// server; false drops it.
func (b *builder) checkVirtualServer(vs *VirtualServer, groups map[string]*VirtualServerGroup) bool {
	name := vsName(vs)
	g := groups[vs.Group]
	byAddr := vs.Addr.IsValid() || (g != nil && hasRanges(g))
	fwmark := vs.Fwmark != 0 || (g != nil && !hasRanges(g))
	if vs.Family == "" {
		switch {
		case vs.Addr.Is6():
			vs.Family = "inet6"
		case g != nil && len(g.Entries) > 0 && g.Entries[0].First.Is6():
			vs.Family = "inet6"
		default:
			vs.Family = "inet"
		}
	}
	if vs.HASuspend && fwmark {
		// "Virtual server %s: cannot use ha_suspend with fwmarks -
		// clearing ha_suspend".
		b.d.kaf(vs.Pos, ClassGeneral, "virtual server %s: cannot use ha_suspend with fwmarks - clearing ha_suspend", name)
		vs.HASuspend = false
	}
	if byAddr {
		if vs.Protocol == "" {
			// "Virtual server %s: no protocol set - defaulting to UDP".
			b.d.kaf(vs.Pos, ClassGeneral, "virtual server %s: no protocol set - defaulting to UDP (keepalived's rule)", name)
			vs.Protocol = "UDP"
		}
		if vs.OPS && vs.Protocol != "UDP" {
			// "Virtual server %s: one packet scheduling requires UDP -
			// resetting".
			b.d.kaf(vs.Pos, ClassGeneral, "virtual server %s: one packet scheduling requires UDP - resetting", name)
			vs.OPS = false
		}
		if vs.PersistenceTimeout == 0 && vs.Group == "" && vs.Port == 0 {
			// "Virtual server %s: zero port only valid for persistent
			// services - setting".
			b.d.kaf(vs.Pos, ClassGeneral, "virtual server %s: zero port only valid for persistent services - "+
				"setting persistence_timeout 360", name)
			vs.PersistenceTimeout = 360 * time.Second
		}
	}
	if vs.PersistenceTimeout == 0 && g != nil {
		for _, e := range g.Entries {
			if e.Fwmark == 0 && e.Port == 0 {
				b.d.kaf(vs.Pos, ClassGeneral, "virtual server %s: zero port only valid for persistent services - "+
					"setting persistence_timeout 360", name)
				vs.PersistenceTimeout = 360 * time.Second
				break
			}
		}
	}
	if fwmark && !byAddr && b.isSet(vs, "protocol") {
		// "Warning: Virtual server %s: protocol specified for fwmark -
		// protocol will be ignored".
		b.d.kaf(vs.Pos, ClassGeneral, "virtual server %s: protocol specified for fwmark - keepalived ignores it", name)
	}
	if vs.Protocol == "" {
		vs.Protocol = "TCP"
	}
	if vs.Sched == "" {
		// "Virtual server %s: no scheduler set, setting default '%s'".
		b.d.kaf(vs.Pos, ClassGeneral, "virtual server %s: no scheduler set, setting default '%s'", name, sched.Default)
		vs.Sched = sched.Default
	}
	if vs.PersistenceGranularity < 0 {
		vs.PersistenceGranularity = 32
		if vs.Family == "inet6" {
			vs.PersistenceGranularity = 128
		}
	}
	if vs.SchedFlags != 0 && vs.Sched != "sh" && vs.Sched != "mh" {
		b.d.warnf(vs.Pos, "virtual_server %s: scheduler flags only apply to sh and mh", name)
	}
	methodReported := false
	noMethod := func() {
		if vs.Method.Kind == "" {
			if !methodReported {
				// "Virtual server %s: no forwarding method set, setting
				// default NAT".
				b.d.kaf(vs.Pos, ClassGeneral, "virtual server %s: no forwarding method set, setting default NAT", name)
				methodReported = true
			}
			vs.Method.Kind = MethodNAT
		}
	}
	total := 0
	var reals []*RealServer
	rsSeen := map[netip.AddrPort]bool{}
	for _, rs := range vs.RealServers {
		if !b.isSet(rs, "method") {
			noMethod()
			rs.Method = vs.Method
		}
		ap := netip.AddrPortFrom(rs.Addr, rs.Port)
		if rsSeen[ap] {
			// "VS %s: real server %s is duplicated - removing second rs".
			b.d.kaf(rs.Pos, ClassGeneral, "virtual server %s: real server %s is duplicated - removing the second", name, ap)
			continue
		}
		rsSeen[ap] = true
		if rs.Addr.Is6() != (vs.Family == "inet6") && rs.Method.Kind != MethodTUN {
			// check_parser.c: "Address family of virtual server and real
			// server %s don't match - skipping real server."
			b.d.kaf(rs.Pos, ClassGeneral, "address family of virtual server %s and real server %s don't match - skipping the real server", name, rs.Addr)
			continue
		}
		if rs.LThreshold > 0 && rs.UThreshold > 0 && rs.LThreshold > rs.UThreshold {
			b.d.warnf(rs.Pos, "real_server %s: lthreshold %d is above uthreshold %d", ap, rs.LThreshold, rs.UThreshold)
		}
		total += rs.Weight
		reals = append(reals, rs)
	}
	vs.RealServers = reals
	if vs.SorryServer != nil && vs.SorryServer.Method == nil {
		noMethod()
	}
	if vs.Quorum > total {
		// "Warning - quorum %u for %s exceeds total weight of real
		// servers %u, reducing quorum to %u".
		b.d.kaf(vs.Pos, ClassGeneral, "quorum %d for %s exceeds the total weight of its real servers %d - reducing quorum to %d",
			vs.Quorum, name, total, total)
		vs.Quorum = total
	}
	if vs.Hysteresis >= vs.Quorum && vs.Quorum > 0 {
		// "Virtual server %s: hysteresis %u >= quorum %u; setting
		// hysteresis to %u".
		b.d.kaf(vs.Pos, ClassGeneral, "virtual server %s: hysteresis %d >= quorum %d; setting hysteresis to %d",
			name, vs.Hysteresis, vs.Quorum, vs.Quorum-1)
		vs.Hysteresis = vs.Quorum - 1
	}
	b.ports(vs, g)
	for _, rs := range vs.RealServers {
		for _, c := range rs.Checkers {
			if c.Misc == nil && c.File == nil && c.Type != CheckPing && c.ConnectPort == 0 {
				b.d.warnf(c.Pos, "%s for real_server %s: no port to check (set connect_port)", c.Type, netip.AddrPortFrom(rs.Addr, rs.Port))
			}
		}
	}
	return true
}

func hasRanges(g *VirtualServerGroup) bool {
	for _, e := range g.Entries {
		if e.Fwmark == 0 {
			return true
		}
	}
	return false
}

// ports applies keepalived's port rules: unless NAT, a real or sorry
// server has the virtual server's port (reset, with a message, when it
// differs); with a fwmark it has none.
func (b *builder) ports(vs *VirtualServer, g *VirtualServerGroup) {
	name := vsName(vs)
	if g != nil {
		for _, rs := range vs.RealServers {
			if rs.Method.Kind == MethodNAT || rs.Port == 0 {
				continue
			}
			for _, e := range g.Entries {
				if e.Fwmark != 0 {
					// "WARNING - fwmark virtual server %s, real server %s
					// has port specified - port will be ignored".
					b.d.kaf(rs.Pos, ClassGeneral, "fwmark virtual server %s, real server %s has a port - the port is ignored", name, rs.Addr)
				} else if e.Port != rs.Port {
					// "virtual server %s:[%s] and real server %s ports
					// don't match".
					b.d.kaf(rs.Pos, ClassGeneral, "virtual server %s and real server %s ports don't match", name,
						netip.AddrPortFrom(rs.Addr, rs.Port))
				}
			}
		}
		return
	}
	for _, rs := range vs.RealServers {
		if rs.Method.Kind == MethodNAT {
			if vs.Fwmark == 0 && rs.Port == 0 {
				rs.Port = vs.Port
			}
			continue
		}
		switch {
		case vs.Fwmark != 0 && rs.Port != 0:
			// "WARNING - fwmark virtual server %s, real server %s has port
			// specified - clearing".
			b.d.kaf(rs.Pos, ClassGeneral, "fwmark virtual server %s, real server %s has a port - clearing it", name, rs.Addr)
			rs.Port = 0
		case vs.Fwmark != 0:
		case rs.Port == 0:
			rs.Port = vs.Port
		case rs.Port != vs.Port:
			// "WARNING - virtual server %s and real server %s ports don't
			// match - resetting".
			b.d.kaf(rs.Pos, ClassGeneral, "virtual server %s and real server %s ports don't match - resetting to %d "+
				"(%s cannot change the port)", name, netip.AddrPortFrom(rs.Addr, rs.Port), vs.Port, rs.Method.Kind)
			rs.Port = vs.Port
		}
	}
	ss := vs.SorryServer
	if ss == nil {
		return
	}
	m := vs.Method.Kind
	if ss.Method != nil {
		m = ss.Method.Kind
	}
	switch {
	case m == MethodNAT:
		if ss.Port == 0 {
			ss.Port = vs.Port
		}
	case vs.Fwmark != 0 && ss.Port != 0:
		// "WARNING - virtual server %s, sorry server has port specified
		// - clearing".
		b.d.kaf(ss.Pos, ClassGeneral, "virtual server %s, sorry server has a port - clearing it", name)
		ss.Port = 0
	case vs.Fwmark != 0:
	case ss.Port == 0:
		ss.Port = vs.Port
	case ss.Port != vs.Port:
		// "WARNING - virtual server %s and sorry server ports don't match
		// - resetting".
		b.d.kaf(ss.Pos, ClassGeneral, "virtual server %s and sorry server ports don't match - resetting to %d", name, vs.Port)
		ss.Port = vs.Port
	}
}
