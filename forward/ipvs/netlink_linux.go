package ipvs

import (
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/moby/ipvs"
	"github.com/vishvananda/netlink/nl"

	"github.com/ulvs/ulvs/forward"
)

// nlKernel is the kernel's IPVS table over generic netlink (moby/ipvs).
type nlKernel struct {
	h *ipvs.Handle
}

var _ kernel = (*nlKernel)(nil)

func openNetlink() (*nlKernel, error) {
	h, err := ipvs.New("")
	if err != nil {
		return nil, err
	}
	return &nlKernel{h: h}, nil
}

// mapErr gives the kernel's answers the errors callers branch on.
func mapErr(err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err
	}
	switch errno {
	case syscall.EEXIST:
		return fmt.Errorf("%w (%w)", forward.ErrExists, err)
	case syscall.ESRCH, syscall.ENOENT:
		return fmt.Errorf("%w (%w)", forward.ErrNotFound, err)
	}
	return err
}

func family(a netip.Addr) uint16 {
	if a.Is4() {
		return syscall.AF_INET
	}
	return syscall.AF_INET6
}

func toService(s kService) *ipvs.Service {
	m := &ipvs.Service{Address: net.IP(s.Addr.AsSlice()), Protocol: uint16(s.Proto), Port: s.Port, FWMark: s.FWMark,
		SchedName: s.Sched, Flags: s.Flags, Timeout: s.Timeout, AddressFamily: family(s.Addr)}
	if s.Addr.Is4() {
		// IPVS_SVC_ATTR_NETMASK carries an IPv4 mask in network byte order
		// (nla_get_be32), and moby/ipvs writes the value in host order.
		mask := uint32(0)
		if s.Netmask > 0 {
			mask = ^uint32(0) << (32 - s.Netmask)
		}
		var b [4]byte
		b[0], b[1], b[2], b[3] = byte(mask>>24), byte(mask>>16), byte(mask>>8), byte(mask)
		m.Netmask = nl.NativeEndian().Uint32(b[:])
	} else {
		m.Netmask = uint32(s.Netmask) // IPv6: the prefix length
	}
	return m
}

func fromService(m *ipvs.Service) kService {
	a, _ := netip.AddrFromSlice(m.Address)
	if m.Address == nil {
		a = netip.IPv4Unspecified()
		if m.AddressFamily == syscall.AF_INET6 {
			a = netip.IPv6Unspecified()
		}
	}
	a = a.Unmap()
	s := kService{Addr: a, Proto: uint8(m.Protocol), Port: m.Port, FWMark: m.FWMark, Sched: m.SchedName,
		Flags: m.Flags &^ flagHashed, Timeout: m.Timeout, Stats: stats(m.Stats), Rates: rates(m.Stats)}
	if m.AddressFamily == syscall.AF_INET {
		var b [4]byte
		nl.NativeEndian().PutUint32(b[:], m.Netmask)
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		s.Netmask = bits.LeadingZeros32(^v)
	} else {
		s.Netmask = int(m.Netmask)
	}
	return s
}

func stats(s ipvs.SvcStats) forward.Stats {
	return forward.Stats{Conns: uint64(s.Connections), InPkts: uint64(s.PacketsIn), OutPkts: uint64(s.PacketsOut),
		InBytes: s.BytesIn, OutBytes: s.BytesOut}
}

func rates(s ipvs.SvcStats) forward.Rates {
	return forward.Rates{CPS: uint64(s.CPS), InPPS: uint64(s.PPSIn), OutPPS: uint64(s.PPSOut), InBPS: uint64(s.BPSIn),
		OutBPS: uint64(s.BPSOut)}
}

// Forwarding methods as IP_VS_CONN_F_FWD_MASK values.
func toFlags(m forward.Method) uint32 {
	switch m {
	case forward.DR:
		return ipvs.ConnectionFlagDirectRoute
	case forward.TUN:
		return ipvs.ConnectionFlagTunnel
	}
	return ipvs.ConnectionFlagMasq
}

func fromFlags(f uint32) forward.Method {
	switch f & ipvs.ConnectionFlagFwdMask {
	case ipvs.ConnectionFlagDirectRoute:
		return forward.DR
	case ipvs.ConnectionFlagTunnel:
		return forward.TUN
	}
	return forward.NAT
}

func toDest(d kDest) *ipvs.Destination {
	return &ipvs.Destination{Address: net.IP(d.Addr.AsSlice()), Port: d.Port, Weight: int(d.Weight),
		ConnectionFlags: toFlags(d.Method), AddressFamily: family(d.Addr), UpperThreshold: d.UThresh,
		LowerThreshold: d.LThresh}
}

func fromDest(m *ipvs.Destination) kDest {
	a, _ := netip.AddrFromSlice(m.Address)
	return kDest{Addr: a.Unmap(), Port: m.Port, Weight: int32(m.Weight), Method: fromFlags(m.ConnectionFlags),
		UThresh: m.UpperThreshold, LThresh: m.LowerThreshold, Active: int32(m.ActiveConnections),
		Inactive: int32(m.InactiveConnections), Stats: stats(ipvs.SvcStats(m.Stats)), Rates: rates(ipvs.SvcStats(m.Stats))}
}

func (k *nlKernel) AddService(s kService) error    { return mapErr(k.h.NewService(toService(s))) }
func (k *nlKernel) UpdateService(s kService) error { return mapErr(k.h.UpdateService(toService(s))) }
func (k *nlKernel) DelService(s kService) error    { return mapErr(k.h.DelService(toService(s))) }
func (k *nlKernel) AddDest(s kService, d kDest) error {
	return mapErr(k.h.NewDestination(toService(s), toDest(d)))
}
func (k *nlKernel) UpdateDest(s kService, d kDest) error {
	return mapErr(k.h.UpdateDestination(toService(s), toDest(d)))
}
func (k *nlKernel) DelDest(s kService, d kDest) error {
	return mapErr(k.h.DelDestination(toService(s), toDest(d)))
}

func (k *nlKernel) Services() ([]kService, error) {
	ms, err := k.h.GetServices()
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]kService, 0, len(ms))
	for _, m := range ms {
		out = append(out, fromService(m))
	}
	return out, nil
}

func (k *nlKernel) Dests(s kService) ([]kDest, error) {
	ms, err := k.h.GetDestinations(toService(s))
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]kDest, 0, len(ms))
	for _, m := range ms {
		out = append(out, fromDest(m))
	}
	return out, nil
}

func (k *nlKernel) SetTimeouts(tcp, tcpFin, udp uint32) error {
	return mapErr(k.h.SetConfig(&ipvs.Config{TimeoutTCP: time.Duration(tcp) * time.Second,
		TimeoutTCPFin: time.Duration(tcpFin) * time.Second, TimeoutUDP: time.Duration(udp) * time.Second}))
}

func (k *nlKernel) Flush() error { return mapErr(k.h.Flush()) }
func (k *nlKernel) Close()       { k.h.Close() }
