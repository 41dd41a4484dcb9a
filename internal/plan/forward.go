package plan

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/internal/lvs"
)

// maxGroupAddrs bounds how many addresses a virtual_server_group range may
// expand to: each becomes a service of its own in the data path.
const maxGroupAddrs = 4096

var protoNums = map[string]uint8{"TCP": forward.TCP, "UDP": forward.UDP, "SCTP": forward.SCTP}

// forwardMethod translates lb_kind / lvs_method.
func forwardMethod(m conf.Method) (forward.Method, error) {
	fm, err := forward.ParseMethod(m.Kind)
	if err != nil {
		return 0, err
	}
	if fm == forward.TUN && m.TunnelType != "" && m.TunnelType != "ipip" {
		return fm, fmt.Errorf("TUN type %s is not supported (ipip is)", m.TunnelType)
	}
	return fm, nil
}

// services translates the virtual servers of a configuration. Problems
// with one virtual server are returned at its line and do not stop the
// others.
func services(cfg *conf.Config) ([]*lvs.Service, []error) {
	groups := map[string]*conf.VirtualServerGroup{}
	for _, g := range cfg.VirtualServerGroups {
		groups[g.Name] = g
	}
	var out []*lvs.Service
	var errs []error
	for _, vs := range cfg.VirtualServers {
		s, err := serviceOf(vs, groups)
		if err != nil {
			errs = append(errs, errAt(vs.Pos, "virtual_server %s is not forwarded: %w", vs, err))
			continue
		}
		out = append(out, s)
	}
	return out, errs
}

func serviceOf(vs *conf.VirtualServer, groups map[string]*conf.VirtualServerGroup) (*lvs.Service, error) {
	method, err := forwardMethod(vs.Method)
	if err != nil {
		return nil, err
	}
	flags := vs.SchedFlags
	if vs.Sched != "sh" && vs.Sched != "mh" {
		// conf already warned that scheduler flags only apply to sh and mh.
		flags = 0
	}
	base := forward.ServiceConfig{
		Scheduler:   vs.Sched,
		SchedFlags:  flags,
		Persistence: vs.PersistenceTimeout,
		Granularity: vs.PersistenceGranularity,
		OnePacket:   vs.OPS,
		Method:      method,
	}
	s := &lvs.Service{Name: HealthKey(vs), Where: vs.Pos.String(), Reals: map[netip.AddrPort]forward.RealConfig{}}
	proto := protoNums[vs.Protocol]
	switch {
	case vs.Fwmark != 0:
		k := base
		k.Key = forward.ServiceKey{FWMark: vs.Fwmark, Proto: proto, Addr: lvs.FamilyAddr(vs.Family == "inet6")}
		s.Configs = append(s.Configs, k)
	case vs.Group != "":
		g := groups[vs.Group]
		if g == nil {
			return nil, fmt.Errorf("virtual_server_group %s is not defined", vs.Group)
		}
		n := 0
		for _, e := range g.Entries {
			if e.Fwmark != 0 {
				k := base
				k.Key = forward.ServiceKey{FWMark: e.Fwmark, Proto: proto, Addr: lvs.FamilyAddr(e.Family == "inet6")}
				s.Configs = append(s.Configs, k)
				continue
			}
			port := e.Port
			if port == 0 {
				port = vs.Port
			}
			for a := e.First; ; a = a.Next() {
				if n++; n > maxGroupAddrs {
					return nil, fmt.Errorf("group %s expands to more than %d addresses", vs.Group, maxGroupAddrs)
				}
				k := base
				k.Key = forward.ServiceKey{Addr: a, Port: port, Proto: proto}
				s.Configs = append(s.Configs, k)
				if a == e.Last || !a.Next().IsValid() {
					break
				}
			}
		}
	default:
		k := base
		k.Key = forward.ServiceKey{Addr: vs.Addr, Port: vs.Port, Proto: proto}
		s.Configs = append(s.Configs, k)
	}
	for _, rs := range vs.RealServers {
		m, err := forwardMethod(rs.Method)
		if err != nil {
			return nil, fmt.Errorf("real_server %s: %w", netip.AddrPortFrom(rs.Addr, rs.Port), err)
		}
		s.Reals[netip.AddrPortFrom(rs.Addr, rs.Port)] = forward.RealConfig{
			Addr: rs.Addr, Port: rs.Port, Weight: lvs.ClampWeight(int64(rs.Weight)),
			UThreshold: rs.UThreshold, LThreshold: rs.LThreshold, Method: m, MethodSet: true,
		}
	}
	if ss := vs.SorryServer; ss != nil {
		m := method
		if ss.Method != nil {
			if m, err = forwardMethod(*ss.Method); err != nil {
				return nil, fmt.Errorf("sorry_server: %w", err)
			}
		}
		s.Reals[netip.AddrPortFrom(ss.Addr, ss.Port)] = forward.RealConfig{Addr: ss.Addr, Port: ss.Port, Weight: 1,
			Method: m, MethodSet: true}
	}
	return s, nil
}

// HealthKey names a virtual server as health does (keepalived's FMT_VS),
// so the reconciler can route health's Sink calls.
func HealthKey(vs *conf.VirtualServer) string {
	hv := health.VirtualServer{Protocol: health.Protocol(strings.ToLower(vs.Protocol)), FWMark: vs.Fwmark, Group: vs.Group}
	a := vs.Addr
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
	}
	hv.Addr = netip.AddrPortFrom(a, vs.Port)
	return hv.Key()
}

// syncConfig is lvs_sync_daemon's settings for the backend.
func syncConfig(sd *conf.LVSSyncDaemon) forward.SyncConfig {
	return forward.SyncConfig{Interface: sd.Interface, SyncID: uint8(sd.SyncID), MaxLen: sd.MaxLen, Port: sd.Port,
		TTL: sd.TTL, Group: sd.Group}
}
