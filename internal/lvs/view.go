package lvs

import (
	"net/netip"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/internal/ctl"
)

// IPVSVersion is the IPVS version ipvsadm's header shows ("IP Virtual
// Server version 1.2.1"): the kernel's since Linux 2.6.10, and ulvs's.
const IPVSVersion = "1.2.1"

// MethodWords are ipvsadm's names for the forwarding methods.
var MethodWords = map[forward.Method]string{forward.NAT: "Masq", forward.DR: "Route", forward.TUN: "Tunnel",
	forward.Local: "Local"}

// ProtoWords are ipvsadm's names for the service protocols.
var ProtoWords = map[uint8]string{forward.TCP: "TCP", forward.UDP: "UDP", forward.SCTP: "SCTP"}

type baseline struct {
	svc   forward.Stats
	reals map[netip.AddrPort]forward.Stats
}

// Zero is ipvsadm -Z: counters restart from zero in every view.
func (r *Reconciler) Zero() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.be.Services() {
		b := baseline{svc: st.Stats, reals: map[netip.AddrPort]forward.Stats{}}
		for _, rs := range st.Reals {
			b.reals[netip.AddrPortFrom(rs.Config.Addr, rs.Config.Port)] = rs.Stats
		}
		r.base[st.Config.Key] = b
	}
}

func minus(a, b forward.Stats) ctl.Stats {
	sub := func(x, y uint64) uint64 {
		if x < y {
			return x
		}
		return x - y
	}
	return ctl.Stats{Conns: sub(a.Conns, b.Conns), InPkts: sub(a.InPkts, b.InPkts), OutPkts: sub(a.OutPkts, b.OutPkts),
		InBytes: sub(a.InBytes, b.InBytes), OutBytes: sub(a.OutBytes, b.OutBytes)}
}

// View is the table as ulvsadm -Ln reads it, counters counted from the
// last -Z; backend names the backend in the view.
func (r *Reconciler) View(backend string) *ctl.IPVS {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &ctl.IPVS{Version: IPVSVersion, Size: r.size, Backend: backend}
	for _, st := range r.be.Services() {
		s := ServiceView(st)
		b := r.base[st.Config.Key]
		s.Stats = minus(st.Stats, b.svc)
		for i, rs := range st.Reals {
			s.Dests[i].Stats = minus(rs.Stats, b.reals[netip.AddrPortFrom(rs.Config.Addr, rs.Config.Port)])
		}
		t.Services = append(t.Services, s)
	}
	return t
}

// Conns is the connection table as ulvsadm -Lnc reads it.
func (r *Reconciler) Conns() []ctl.Conn {
	var out []ctl.Conn
	for _, c := range r.be.Conns() {
		p := ProtoWords[c.Proto]
		if p == "" {
			p = "IP"
		}
		out = append(out, ctl.Conn{Proto: p, Expires: int(c.Expires.Seconds()), State: c.State,
			Source: c.Client, Virtual: c.Virtual, Dest: c.Real})
	}
	return out
}

// ServiceView turns a backend's service into the view ipvsadm's listings
// print (package ipvsfmt prints it).
func ServiceView(st forward.ServiceStatus) ctl.Service {
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
	for _, rs := range st.Reals {
		s.Dests = append(s.Dests, ctl.Dest{Addr: rs.Config.Addr, Port: rs.Config.Port, Method: MethodWords[rs.Method],
			Weight: int(rs.Config.Weight), UThreshold: rs.Config.UThreshold, LThreshold: rs.Config.LThreshold,
			Active: uint32(rs.ActiveConns), Inactive: uint32(rs.InactiveConns), Persistent: uint32(rs.PersistConns),
			Stats: ctl.Stats(rs.Stats), Rates: ctl.Rates(rs.Rates)})
	}
	return s
}
