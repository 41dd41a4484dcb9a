package main

import (
	"fmt"
	"net/netip"
	"strings"
)

// Roles of the lab's nodes.
const (
	roleClient   = "client"
	roleDirector = "director"
	roleReal     = "real"
	roleSorry    = "sorry"
)

// Modes (keepalived's lb_kind words).
const (
	modeDR  = "DR"
	modeNAT = "NAT"
	modeTUN = "TUN"
)

// The lab's addresses, all from 198.18.0.0/15 (RFC 2544's benchmarking
// range): the client side is 198.18.0.0/24; NAT real servers sit on
// 198.18.1.0/24 behind the directors, as NAT needs.
var (
	frontNet = netip.MustParsePrefix("198.18.0.0/24")
	backNet  = netip.MustParsePrefix("198.18.1.0/24")
)

const (
	maxReals     = 9   // rs1..rs9 at .11..19; the sorry server at .20
	maxVIPs      = 20  // .100..119
	firstVIPHost = 100 // 198.18.0.100
	gatewayHost  = 1   // 198.18.1.1: the NAT real servers' VRRP-held gateway
)

// host returns the address .h in the /24 net.
func host(net netip.Prefix, h int) netip.Addr {
	a := net.Addr().As4()
	a[3] = byte(h)
	return netip.AddrFrom4(a)
}

func hostPrefix(net netip.Prefix, h int) netip.Prefix {
	return netip.PrefixFrom(host(net, h), net.Bits())
}

// vipAddr is the lab's i-th VIP (0-based).
func vipAddr(i int) netip.Addr { return host(frontNet, firstVIPHost+i) }

// natGateway is the address NAT real servers route through.
func natGateway() netip.Addr { return host(backNet, gatewayHost) }

// realNet is where a mode's real servers live.
func realNet(mode string) netip.Prefix {
	if mode == modeNAT {
		return backNet
	}
	return frontNet
}

// realAddr is real server i's address (1-based), sorry is host .20.
func realAddr(mode string, i int) netip.Addr { return host(realNet(mode), 10+i) }

func sorryAddr(mode string) netip.Addr { return host(realNet(mode), 20) }

// directorAddr is director i's address (1-based) on the client side.
func directorAddr(i int) netip.Addr { return host(frontNet, 1+i) }

// parseMode accepts dr, nat, tun in any case.
func parseMode(s string) (string, error) {
	switch m := strings.ToUpper(s); m {
	case modeDR, modeNAT, modeTUN:
		return m, nil
	}
	return "", fmt.Errorf("ulvslab: unknown mode %q (dr, nat or tun)", s)
}

// layout is what `up` builds: pure data, decided before anything runs.
type layout struct {
	Mode      string
	Directors int
	Reals     int
	Sorry     bool
	// Gateway is the NAT real servers' default route (zero in DR and TUN).
	Gateway netip.Addr
	// VIPs are the addresses real servers hold on lo (DR and TUN).
	VIPs []netip.Addr
	// ECMP: N active directors behind a BGP router (ecmp.go).
	ECMP bool
}

// nodes lists every node of the layout, in creation order.
func (l layout) nodes() []*nodeState {
	if l.ECMP {
		return ecmpNodes(l)
	}
	var out []*nodeState
	out = append(out, &nodeState{Name: "client", Role: roleClient,
		Addrs: []netip.Prefix{hostPrefix(frontNet, 1)}})
	for i := 1; i <= l.Directors; i++ {
		n := &nodeState{Name: fmt.Sprintf("director%d", i), Role: roleDirector,
			Addrs: []netip.Prefix{netip.PrefixFrom(directorAddr(i), 24)}}
		if l.Mode == modeNAT {
			n.Addrs = append(n.Addrs, hostPrefix(backNet, 1+i))
		}
		out = append(out, n)
	}
	add := func(name, role string, a netip.Addr) {
		n := &nodeState{Name: name, Role: role, Addrs: []netip.Prefix{netip.PrefixFrom(a, 24)}}
		if l.Mode == modeNAT {
			n.Gateway = l.Gateway
		} else {
			n.LoVIPs = l.VIPs
		}
		out = append(out, n)
	}
	for i := 1; i <= l.Reals; i++ {
		add(fmt.Sprintf("rs%d", i), roleReal, realAddr(l.Mode, i))
	}
	if l.Sorry {
		add("sorry", roleSorry, sorryAddr(l.Mode))
	}
	return out
}

// validate checks the counts.
func (l layout) validate() error {
	if l.ECMP {
		if l.Directors < 1 || l.Directors > maxECMPDirectors || l.Mode != modeDR {
			return fmt.Errorf("ulvslab: --ecmp takes DR mode and 1 to %d directors", maxECMPDirectors)
		}
	} else if l.Directors < 1 || l.Directors > 2 {
		return fmt.Errorf("ulvslab: --directors must be 1 or 2, not %d", l.Directors)
	}
	if l.Reals < 0 || l.Reals > maxReals {
		return fmt.Errorf("ulvslab: the lab has room for 1 to %d real servers, not %d", maxReals, l.Reals)
	}
	if len(l.VIPs) > maxVIPs {
		return fmt.Errorf("ulvslab: the lab has room for %d VIPs, not %d", maxVIPs, len(l.VIPs))
	}
	if l.Mode == modeNAT && !l.Gateway.IsValid() && (l.Reals > 0 || l.Sorry) {
		return fmt.Errorf("ulvslab: NAT real servers need a gateway")
	}
	return nil
}
