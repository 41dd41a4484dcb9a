package ipvsfmt

import (
	"net/netip"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/internal/ctl"
)

// MethodWords are ipvsadm's names for the forwarding methods.
var MethodWords = map[forward.Method]string{forward.NAT: "Masq", forward.DR: "Route", forward.TUN: "Tunnel",
	forward.Local: "Local"}

// ProtoWords are ipvsadm's names for the service protocols.
var ProtoWords = map[uint8]string{forward.TCP: "TCP", forward.UDP: "UDP", forward.SCTP: "SCTP"}

// Service turns a backend's service into the view ipvsadm's listings print.
func Service(st forward.ServiceStatus) ctl.Service {
	c := st.Config
	v6 := c.Key.Addr.Is6() && !c.Key.Addr.Is4In6()
	s := ctl.Service{Proto: ProtoWords[c.Key.Proto], Addr: c.Key.Addr, Port: c.Key.Port, FWMark: c.Key.FWMark,
		IPv6: v6, Sched: c.Scheduler, Flags: c.SchedFlags, Enabled: st.Enabled}
	if c.Key.FWMark != 0 {
		s.Proto, s.Addr, s.Port = "", netip.Addr{}, 0
	}
	if c.Persistence > 0 {
		s.Flags |= ctl.FlagPersistent
		s.Timeout = uint32(c.Persistence.Seconds())
	}
	if c.OnePacket {
		s.Flags |= ctl.FlagOnePacket
	}
	s.Netmask = c.Granularity
	if s.Netmask == 0 {
		s.Netmask = 32
		if v6 {
			s.Netmask = 128
		}
	}
	s.Stats, s.Rates = ctl.Stats(st.Stats), ctl.Rates(st.Rates)
	for _, r := range st.Reals {
		s.Dests = append(s.Dests, ctl.Dest{Addr: r.Config.Addr, Port: r.Config.Port, Method: MethodWords[r.Method],
			Weight: int(r.Config.Weight), UThreshold: r.Config.UThreshold, LThreshold: r.Config.LThreshold,
			Active: uint32(r.ActiveConns), Inactive: uint32(r.InactiveConns), Persistent: uint32(r.PersistConns),
			Stats: ctl.Stats(r.Stats), Rates: ctl.Rates(r.Rates)})
	}
	return s
}
