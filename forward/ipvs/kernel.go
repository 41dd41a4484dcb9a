package ipvs

import (
	"net/netip"
	"time"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/sched"
)

// Service flags (include/uapi/linux/ip_vs.h); the scheduler's own
// (SCHED1..3) are sched.FlagsSched.
const (
	flagPersistent uint32 = 0x1
	flagHashed     uint32 = 0x2
	flagOnePacket  uint32 = 0x4
)

// kService is a virtual service as the kernel holds it.
type kService struct {
	Addr   netip.Addr // for a fwmark service only the family counts
	Proto  uint8      // 0 for a fwmark service
	Port   uint16
	FWMark uint32
	Sched  string
	// Flags without IP_VS_SVC_F_HASHED.
	Flags uint32
	// Timeout is the persistence timeout in seconds.
	Timeout uint32
	// Netmask is the persistence granularity as a prefix length.
	Netmask int
	Stats   forward.Stats
	Rates   forward.Rates
}

// kDest is a destination (real server) as the kernel holds it.
type kDest struct {
	Addr             netip.Addr
	Port             uint16
	Weight           int32
	Method           forward.Method
	UThresh, LThresh uint32
	Active, Inactive int32
	Stats            forward.Stats
	Rates            forward.Rates
}

// kernel is the kernel's IPVS table, as generic netlink exposes it. The
// Linux implementation speaks netlink through moby/ipvs; tests use an
// in-memory model. Errors wrap forward.ErrExists and forward.ErrNotFound
// where the kernel answers EEXIST, ESRCH or ENOENT.
type kernel interface {
	AddService(kService) error
	UpdateService(kService) error
	DelService(kService) error
	AddDest(kService, kDest) error
	UpdateDest(kService, kDest) error
	DelDest(kService, kDest) error
	// Services returns every service in the table.
	Services() ([]kService, error)
	// Dests returns a service's destinations in the kernel's list order
	// (newest first).
	Dests(kService) ([]kDest, error)
	// SetTimeouts sets the TCP, TCP FIN_WAIT and UDP timeouts in seconds;
	// 0 leaves one unchanged.
	SetTimeouts(tcp, tcpFin, udp uint32) error
	Flush() error
	Close()
}

// keyOf returns the forward key of a kernel service.
func (s kService) key() forward.ServiceKey {
	if s.FWMark != 0 {
		return forward.ServiceKey{Addr: zeroOf(s.Addr), FWMark: s.FWMark}
	}
	return forward.ServiceKey{Addr: s.Addr, Port: s.Port, Proto: s.Proto}
}

// zeroOf returns the unspecified address of a's family: a fwmark
// service's address only says which family it is.
func zeroOf(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// kservice translates a service configuration.
func kservice(c forward.ServiceConfig) kService {
	s := kService{Addr: c.Key.Addr.Unmap(), Proto: c.Key.Proto, Port: c.Key.Port, FWMark: c.Key.FWMark,
		Sched: c.Scheduler, Flags: c.SchedFlags, Netmask: c.Granularity}
	if s.FWMark != 0 {
		s.Addr, s.Proto, s.Port = zeroOf(s.Addr), 0, 0
	}
	if s.Sched == "" {
		s.Sched = sched.Default
	}
	if c.Persistence > 0 {
		s.Flags |= flagPersistent
		s.Timeout = uint32(c.Persistence / time.Second)
	}
	if c.OnePacket {
		s.Flags |= flagOnePacket
	}
	if s.Netmask == 0 {
		s.Netmask = s.Addr.BitLen()
	}
	return s
}

// kdest translates a real server of service c.
func kdest(c forward.ServiceConfig, r forward.RealConfig) kDest {
	d := kDest{Addr: r.Addr.Unmap(), Port: r.Port, Weight: r.Weight, Method: c.Method,
		UThresh: r.UThreshold, LThresh: r.LThreshold}
	if r.MethodSet {
		d.Method = r.Method
	}
	return d
}

// sorryDest is the kernel destination of a sorry server: weight 1 unless
// set (a weight-0 destination would never be chosen).
func sorryDest(c forward.ServiceConfig) kDest {
	d := kdest(c, *c.Sorry)
	if d.Weight == 0 {
		d.Weight = 1
	}
	return d
}
