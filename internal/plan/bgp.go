package plan

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/route"
	"github.com/ulvs/ulvs/sched"
)

// Neighbors translates the BGP file's neighbours for route's speaker.
func Neighbors(b *conf.BGP) []route.Neighbor {
	var out []route.Neighbor
	for _, n := range b.Neighbors {
		rn := route.Neighbor{Addr: n.Addr, RemoteAS: n.RemoteAS, LocalAddr: n.LocalAddr, Port: n.Port,
			HoldTime: n.HoldTime, Keepalive: n.Keepalive, ConnectRetry: n.ConnectRetry, Passive: n.Passive,
			MultihopTTL: n.MultihopTTL, Password: n.Password}
		if n.BFD != nil {
			rn.BFD = &route.BFD{Interval: n.BFD.Interval, Multiplier: n.BFD.Multiplier}
		}
		out = append(out, rn)
	}
	return out
}

// ECMP reports whether some prefix of the BGP file (nil: none) is
// announced by several directors.
func ECMP(b *conf.BGP) bool {
	return b != nil && slices.ContainsFunc(b.Prefixes, func(p *conf.BGPPrefix) bool { return !p.Single })
}

// ECMPAdjust makes the virtual servers of prefixes announced by several
// directors (vss: each prefix's, from conf.CheckBGP) ready for ECMP: mh
// gets the mh-ecmp table (the userspace backend; kernelIPVS: only a note,
// the kernel's mh cannot), and a failed real server is kept at weight 0
// (inhibit_on_failure) so that it keeps its slots and its flows fall back,
// instead of the table being rebuilt without it. It changes the virtual
// servers in place and returns what it changed, for the log.
func ECMPAdjust(b *conf.BGP, vss [][]*conf.VirtualServer, kernelIPVS bool) []string {
	var notes []string
	seen := map[*conf.VirtualServer]bool{}
	for i, p := range b.Prefixes {
		if p.Single {
			continue
		}
		for _, vs := range vss[i] {
			if seen[vs] {
				continue
			}
			seen[vs] = true
			if vs.Sched == "mh" {
				if kernelIPVS {
					notes = append(notes, fmt.Sprintf("%s: kernel IPVS's mh fills its table in the order real servers were added; directors agree only if they add them in the same order", vs.Pos))
				} else {
					vs.SchedFlags |= sched.FlagECMP
				}
			}
			if !vs.InhibitOnFailure {
				vs.InhibitOnFailure = true
				notes = append(notes, fmt.Sprintf("%s: inhibit_on_failure implied (ECMP: a failed real server keeps its slots at weight 0)", vs.Pos))
			}
			for _, rs := range vs.RealServers {
				rs.InhibitOnFailure = true
			}
		}
	}
	return notes
}

// BGPServiceName is how BGP's messages and ulvsadm bgp name a virtual
// server, e.g. "TCP 198.18.0.100:80".
func BGPServiceName(vs *conf.VirtualServer) string {
	return fmt.Sprintf("%s %s", vs.Protocol, netip.AddrPortFrom(vs.Addr, vs.Port))
}

// PrefixHealth is what route.Decide needs to know of the checkers for
// prefix p, whose virtual servers are vss, from the checkers' status by
// service (hs, keyed by HealthKey): each virtual server's alive weight
// against its quorum (the prefix's quorum, where it sets one, over the
// virtual server's), and whether every checker has finished its first
// round (a virtual server the checkers do not report yet is not ready).
func PrefixHealth(p *conf.BGPPrefix, vss []*conf.VirtualServer, hs map[string]health.ServiceStatus) (svcs []route.ServiceHealth, ready bool) {
	ready = true
	for _, vs := range vss {
		q := vs.Quorum
		if p.Quorum > 0 {
			q = p.Quorum
		}
		sh := route.ServiceHealth{Name: BGPServiceName(vs), Quorum: q}
		st, ok := hs[HealthKey(vs)]
		if !ok {
			ready = false
		} else {
			sh.Alive = int(st.AliveWeight)
			for _, r := range st.Reals {
				for _, c := range r.Checkers {
					if !c.HasRun {
						ready = false
					}
				}
			}
		}
		svcs = append(svcs, sh)
	}
	return svcs, ready
}
