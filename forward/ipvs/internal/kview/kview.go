// Package kview reads the kernel's IPVS table as its two text views print
// it — /proc/net/ip_vs and ipvsadm's listings — into one comparable form.
// It is the oracle side of the kernel IPVS VM tests: what the backend
// reports through netlink must equal what the kernel prints.
//
// Each parser has an Append twin that writes the same format, so that the
// parsers are fuzzed as parse → append → parse fixed points.
package kview

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Service is one virtual service as a view shows it. A view fills what it
// prints and leaves the rest zero.
type Service struct {
	// Proto is TCP, UDP, SCTP or FWM.
	Proto  string
	Addr   netip.Addr // zero for FWM services
	Port   uint16
	FWMark uint32
	// IPv6 marks an IPv6 firewall-mark service (ipvsadm prints it).
	IPv6  bool
	Sched string
	// Flags are the scheduler flags ipvsadm names (sh-fallback, sh-port,
	// mh-fallback, mh-port, flag-1..3); /proc does not show them.
	Flags     []string
	OnePacket bool
	// Timeout is the persistence timeout in seconds (0: not persistent).
	Timeout uint32
	// Netmask is the persistence granularity as a prefix length; -1 when
	// the view does not show it (ipvsadm omits /32 and /128).
	Netmask int
	PE      string
	Stats   *Counters
	Dests   []Dest
}

// Dest is one destination (real server) of a service.
type Dest struct {
	Addr netip.Addr
	Port uint16
	// Forward is Masq, Route, Tunnel or Local ("" when the view does not
	// show it).
	Forward          string
	Weight           int32
	Active, Inactive int32
	UThresh, LThresh uint32
	PersistConn      int32
	Stats            *Counters
}

// Counters are the numbers of ipvsadm --stats (or --rate: CPS, PPS, BPS).
type Counters struct {
	Conns, InPkts, OutPkts, InBytes, OutBytes uint64
}

// Key is a service's identity, for sorting and matching views.
func (s *Service) Key() string {
	if s.Proto == "FWM" {
		return fmt.Sprintf("FWM %d", s.FWMark)
	}
	return fmt.Sprintf("%s %v", s.Proto, netip.AddrPortFrom(s.Addr, s.Port))
}

// Sort orders services by key and, when dests is true, each service's
// destinations by address and port (ipvsadm's order).
func Sort(svcs []Service, dests bool) {
	slices.SortFunc(svcs, func(a, b Service) int { return strings.Compare(a.Key(), b.Key()) })
	if !dests {
		return
	}
	for i := range svcs {
		slices.SortFunc(svcs[i].Dests, func(a, b Dest) int {
			if c := a.Addr.Compare(b.Addr); c != 0 {
				return c
			}
			return int(a.Port) - int(b.Port)
		})
	}
}
