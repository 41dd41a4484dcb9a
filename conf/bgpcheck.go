package conf

import (
	"net/netip"
	"strings"
)

// CheckBGP checks a BGP file against the keepalived.conf whose virtual
// servers it announces, and returns each prefix's virtual servers (in
// BGP.Prefixes order):
//
//   - a named virtual server must exist; a prefix that names none serves
//     every virtual server whose address it contains, and must contain one;
//   - track_instance must name a vrrp_instance;
//   - a prefix announced by several directors (directors multi, the
//     default) refuses NAT: a real server's replies go to its default
//     gateway, one director, which need not be the one that holds the
//     connection (the ECMP router chose that one), so NAT cannot be spread;
//   - for such a prefix, a scheduler other than mh is warned about: only mh
//     (with ulvs's mh-ecmp table) lets every director pick the same real
//     server for a flow, so a flow that the router moves to another director
//     keeps its server.
//
// Errors are at the BGP file's lines, the NAT one also names the virtual
// server's line in keepalived.conf.
func CheckBGP(b *BGP, c *Config) ([][]*VirtualServer, Diagnostics) {
	d := &diagList{}
	out := make([][]*VirtualServer, len(b.Prefixes))
	instances := map[string]bool{}
	for _, in := range c.Instances {
		instances[in.Name] = true
	}
	for i, p := range b.Prefixes {
		var vss []*VirtualServer
		if len(p.VirtualServers) == 0 {
			for _, vs := range c.VirtualServers {
				if vs.Addr.IsValid() && p.Prefix.Contains(vs.Addr.Unmap()) {
					vss = append(vss, vs)
				}
			}
			if len(vss) == 0 {
				d.errorf(p.Pos, "prefix %s: no virtual_server of %s has its address in it (name one with virtual_server ADDRESS PORT)", p.Prefix, mainFile(c))
			}
		}
		for _, ref := range p.VirtualServers {
			var found *VirtualServer
			for _, vs := range c.VirtualServers {
				if vs.Addr.IsValid() && vs.Addr.Unmap() == ref.Addr && vs.Port == ref.Port && strings.EqualFold(vs.Protocol, ref.Protocol) {
					found = vs
				}
			}
			if found == nil {
				d.errorf(ref.Pos, "virtual_server %s: no such virtual_server in %s", ref, mainFile(c))
				continue
			}
			vss = append(vss, found)
		}
		if p.TrackInstance != "" && !instances[p.TrackInstance] {
			d.errorf(p.Pos, "prefix %s: track_instance %s: no such vrrp_instance in %s", p.Prefix, p.TrackInstance, mainFile(c))
		}
		if !p.Single {
			for _, vs := range vss {
				if vs.Method.Kind == MethodNAT {
					d.errorf(p.Pos, "prefix %s: virtual_server %s (%s) forwards by NAT, which several directors cannot share: the real servers' replies go to their gateway, not to the director that holds the connection; use DR or TUN, or directors single", p.Prefix, bgpVSName(vs), vs.Pos)
				}
				for _, rs := range vs.RealServers {
					if rs.Method.Kind == MethodNAT && vs.Method.Kind != MethodNAT {
						d.errorf(p.Pos, "prefix %s: real_server %s of virtual_server %s (%s) forwards by NAT, which several directors cannot share; use DR or TUN, or directors single", p.Prefix, rs.Addr, bgpVSName(vs), rs.Pos)
					}
				}
				if vs.Sched != "mh" {
					d.warnf(p.Pos, "prefix %s: virtual_server %s schedules with %s, which is not consistent across directors: a flow the router moves to another director is scheduled afresh there and lands on another real server unless lvs_sync_daemon synced it; use lb_algo mh (ulvsd gives it the mh-ecmp table)", p.Prefix, bgpVSName(vs), vs.Sched)
				}
			}
		}
		out[i] = vss
	}
	return out, d.list
}

func mainFile(c *Config) string {
	if len(c.Files) > 0 {
		return c.Files[0]
	}
	return "the configuration"
}

func bgpVSName(vs *VirtualServer) string {
	return strings.ToUpper(vs.Protocol) + " " + netip.AddrPortFrom(vs.Addr, vs.Port).String()
}
