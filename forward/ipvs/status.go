package ipvs

import (
	"encoding/binary"
	"net/netip"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/sched"
)

// Services reads the kernel's table back and returns this backend's
// services as the kernel holds them, sorted by key, each with its real
// servers in the kernel's order (newest first; the sorry server among them
// while it serves). A service whose VIP is disabled is reported from its
// configuration, with Enabled false and no counters.
func (b *Backend) Services() []forward.ServiceStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	ks, err := b.k.Services()
	if err != nil {
		b.log.Warn("reading the kernel's services", zap.Error(err))
		return nil
	}
	inKernel := map[forward.ServiceKey]kService{}
	for _, s := range ks {
		inKernel[s.key()] = s
	}
	var tmpl []forward.Conn
	if cs, err := b.readConns(); err == nil {
		for _, c := range cs {
			if c.Template {
				tmpl = append(tmpl, c)
			}
		}
	} else {
		b.log.Debug("persistence templates unknown", zap.Error(err))
	}
	var out []forward.ServiceStatus
	for _, s := range b.sortedLocked() {
		st := forward.ServiceStatus{Config: s.cfg, Enabled: b.enabled(s.cfg.Key)}
		k, ok := inKernel[s.cfg.Key]
		if !s.inKernel || !ok {
			if s.inKernel {
				b.log.Warn("service missing from the kernel's table", zap.Stringer("service", s.cfg.Key))
			}
			for _, r := range s.reals {
				st.Reals = append(st.Reals, forward.RealStatus{Config: r, Method: kdest(s.cfg, r).Method})
			}
			out = append(out, st)
			continue
		}
		st.Config = configFromKernel(k, s.cfg)
		st.Stats, st.Rates = k.Stats, k.Rates
		dests, err := b.k.Dests(k)
		if err != nil {
			b.log.Warn("reading the kernel's real servers", zap.Stringer("service", s.cfg.Key), zap.Error(err))
		}
		for _, d := range dests {
			rc := forward.RealConfig{Addr: d.Addr, Port: d.Port, Weight: d.Weight, UThreshold: d.UThresh,
				LThreshold: d.LThresh, Method: d.Method, MethodSet: d.Method != s.cfg.Method}
			if i := s.findReal(netip.AddrPortFrom(d.Addr, d.Port)); i >= 0 {
				rc.MethodSet = s.reals[i].MethodSet
			}
			st.Reals = append(st.Reals, forward.RealStatus{Config: rc, Method: d.Method, ActiveConns: d.Active,
				InactiveConns: d.Inactive, PersistConns: countTemplates(tmpl, k, d), Stats: d.Stats, Rates: d.Rates})
		}
		out = append(out, st)
	}
	return out
}

// configFromKernel is a service's configuration as the kernel has it, with
// what the kernel does not keep (the default method, the sorry server)
// taken from the backend's configuration.
func configFromKernel(k kService, want forward.ServiceConfig) forward.ServiceConfig {
	c := forward.ServiceConfig{Key: k.key(), Scheduler: k.Sched, SchedFlags: k.Flags & sched.FlagsSched,
		OnePacket: k.Flags&flagOnePacket != 0, Method: want.Method, Sorry: want.Sorry}
	if k.Flags&flagPersistent != 0 {
		c.Persistence = secondsToDuration(k.Timeout)
	}
	// The full prefix is what an unset granularity means.
	if k.Netmask != k.Addr.BitLen() {
		c.Granularity = k.Netmask
	}
	return c
}

// countTemplates counts the persistence templates of service s that send
// clients to d: the kernel's persistconns.
func countTemplates(tmpl []forward.Conn, s kService, d kDest) int32 {
	vaddr, proto := s.Addr, s.Proto
	if s.FWMark != 0 {
		// A fwmark template has protocol IPPROTO_IP and the mark as its
		// virtual address (network byte order in the first word).
		var b [16]byte
		binary.BigEndian.PutUint32(b[:4], s.FWMark)
		if s.Addr.Is4() {
			vaddr = netip.AddrFrom4([4]byte(b[:4]))
		} else {
			vaddr = netip.AddrFrom16(b)
		}
		proto = 0
	}
	var n int32
	for _, c := range tmpl {
		if c.Proto != proto || c.Virtual.Addr() != vaddr || c.Real.Addr() != d.Addr {
			continue
		}
		if c.Real.Port() != 0 && c.Real.Port() != d.Port {
			continue
		}
		n++
	}
	return n
}
