package vrrp

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"
)

// State is a VRRP instance or sync group state, numbered as keepalived
// numbers them.
type State uint8

// States. Init is where an instance starts (and what a config "state"
// left out means); Stop is where it ends on shutdown; Deleted is reported
// for an instance a reload removed.
const (
	StateInit State = iota
	StateBackup
	StateMaster
	StateFault
	StateStop
	StateDeleted
)

// String returns keepalived's name for the state.
func (s State) String() string {
	switch s {
	case StateInit:
		return "INIT"
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	case StateStop:
		return "STOP"
	case StateDeleted:
		return "DELETED"
	}
	return fmt.Sprintf("STATE(%d)", uint8(s))
}

// MarshalText returns the state's name, so JSON shows "MASTER".
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a state name.
func (s *State) UnmarshalText(b []byte) error {
	for x := StateInit; x <= StateDeleted; x++ {
		if x.String() == string(b) {
			*s = x
			return nil
		}
	}
	return fmt.Errorf("vrrp: unknown state %q", b)
}

// Priorities with a meaning (RFC 5798 §5.2.4).
const (
	PrioStop  = 0
	PrioOwner = 255
)

// params is an Instance resolved against Global with keepalived's
// defaults: what the state machine reads. It holds no system state.
type params struct {
	name      string
	group     int // index of the sync group, -1 when none
	vrid      uint8
	version   uint8
	family    Family
	basePrio  uint8
	wantMast  bool // "state MASTER"
	adverInt  time.Duration
	advField  uint16 // adverInt in the version's wire unit
	nopreempt bool
	preemptDl time.Duration
	downAdv   int

	lowerPrioNoAdvert, higherPrioSendAdvert bool
	skipCheckAdvAddr, checksumAsV2          bool

	auth    AuthType
	authKey ahKey

	vips    []netip.Addr // the addresses in adverts, in config order
	unicast bool
	peers   []Peer
	// checkSrc is vrrp_check_unicast_src, or a peer with min/max_ttl.
	checkSrc bool
	srcIP    netip.Addr // unicast_src_ip or mcast_src_ip, if configured
	group4   netip.Addr // multicast destination
	group6   netip.Addr
	// ttl is the TTL / hop limit adverts are sent with: 255, or
	// unicast_ttl for unicast.
	ttl uint8
	// faultNoPeer is unicast_fault_no_peer without a peer: FAULT.
	faultNoPeer bool

	garpDelay, garpRefresh, garpLowerDelay   time.Duration
	garpRepeat, garpRefreshRep, garpLowerRep int
}

// resolve applies keepalived's defaults and checks (vrrp_complete_instance)
// to one instance. gidx is its sync group index or -1.
func resolve(g *Global, in *Instance, gidx int) (*params, error) {
	fail := func(format string, args ...any) (*params, error) {
		return nil, fmt.Errorf("vrrp: instance %s: "+format, append([]any{in.Name}, args...)...)
	}
	if in.Name == "" {
		return nil, errors.New("vrrp: instance without a name")
	}
	if in.VRID < 1 || in.VRID > 255 {
		return fail("virtual_router_id %d out of range 1..255", in.VRID)
	}
	if in.Interface == "" && len(in.UnicastPeers) == 0 {
		return fail("no interface")
	}
	p := &params{name: in.Name, group: gidx, vrid: uint8(in.VRID)}

	// Family: the first VIP's, else unicast addresses', else IPv4.
	switch {
	case len(in.VIPs) > 0:
		p.family = FamilyOf(in.VIPs[0].Prefix.Addr())
	case in.UnicastSrcIP.IsValid():
		p.family = FamilyOf(in.UnicastSrcIP)
	case len(in.UnicastPeers) > 0:
		p.family = FamilyOf(in.UnicastPeers[0].Addr)
	default:
		p.family = IPv4
	}
	for _, v := range in.VIPs {
		// keepalived moves VIPs of the other family to the excluded list;
		// only the instance's family goes into adverts.
		if FamilyOf(v.Prefix.Addr()) == p.family {
			p.vips = append(p.vips, v.Prefix.Addr())
		}
	}
	if len(p.vips) > 255 {
		return fail("%d virtual addresses, at most 255 fit an advert", len(p.vips))
	}

	switch v := in.Version; {
	case v == 0 && g.Version != 0:
		p.version = uint8(g.Version)
	case v == 0:
		p.version = 2
	case v == 2 || v == 3:
		p.version = uint8(v)
	default:
		return fail("version %d, want 2 or 3", v)
	}
	if p.version != 2 && p.version != 3 {
		return fail("vrrp_version %d, want 2 or 3", p.version)
	}
	if p.family == IPv6 {
		p.version = 3 // "IPv6 instances always 3"
	}

	switch {
	case in.Priority == 0 && in.State == StateMaster:
		// keepalived's gotcha: state MASTER without priority is the owner.
		p.basePrio = PrioOwner
	case in.Priority == 0:
		p.basePrio = 100
	case in.Priority < 1 || in.Priority > 255:
		return fail("priority %d out of range 1..255", in.Priority)
	default:
		p.basePrio = uint8(in.Priority)
	}
	switch in.State {
	case StateMaster:
		p.wantMast = true
	case StateInit:
		p.wantMast = p.basePrio == PrioOwner
	case StateBackup:
	default:
		return fail("state %v, want MASTER or BACKUP", in.State)
	}

	adv := in.AdvertInt
	if adv == 0 {
		adv = time.Second
	}
	if adv < 10*time.Millisecond || adv > 255*time.Second {
		return fail("advert_int %v out of range 0.01..255 s", adv)
	}
	if p.version == 2 {
		s := int(math.Round(adv.Seconds()))
		s = max(s, 1)
		p.advField = uint16(s)
		p.adverInt = time.Duration(s) * time.Second
	} else {
		cs := int(math.Round(float64(adv) / float64(10*time.Millisecond)))
		cs = min(max(cs, 1), 4095)
		p.advField = uint16(cs)
		p.adverInt = time.Duration(cs) * 10 * time.Millisecond
	}

	p.nopreempt = in.Nopreempt
	if in.PreemptDelay < 0 || in.PreemptDelay > 1000*time.Second {
		return fail("preempt_delay %v out of range 0..1000 s", in.PreemptDelay)
	}
	p.preemptDl = in.PreemptDelay

	p.downAdv = firstNonZero(in.DownTimerAdverts, g.DownTimerAdverts, 3)
	if p.downAdv < 1 || p.downAdv > 100 {
		return fail("down_timer_adverts %d out of range 1..100", p.downAdv)
	}
	p.lowerPrioNoAdvert = boolOr(in.LowerPrioNoAdvert, g.LowerPrioNoAdvert)
	p.higherPrioSendAdvert = boolOr(in.HigherPrioSendAdvert, g.HigherPrioSendAdvert)
	p.skipCheckAdvAddr = boolOr(in.SkipCheckAdvAddr, g.SkipCheckAdvAddr)
	p.checksumAsV2 = boolOr(in.V3ChecksumAsV2, g.V3ChecksumAsV2)

	if p.version == 2 {
		// keepalived ignores authentication with v3 (RFC 5798 removed it).
		switch in.AuthType {
		case AuthNone:
		case AuthPass, AuthAH:
			if p.family == IPv6 && in.AuthType == AuthAH {
				return fail("auth_type AH is IPv4 only")
			}
			p.auth = in.AuthType
			copy(p.authKey[:], in.AuthPass) // "auth_pass STR (<=8 used)"
		default:
			return fail("auth_type %v", in.AuthType)
		}
	}

	p.unicast = len(in.UnicastPeers) > 0
	p.peers = append([]Peer(nil), in.UnicastPeers...)
	p.checkSrc = g.CheckUnicastSrc
	for _, pe := range p.peers {
		if FamilyOf(pe.Addr) != p.family {
			return fail("unicast_peer %v is not %v", pe.Addr, p.family)
		}
		if pe.MinTTL != 0 || pe.MaxTTL != 0 {
			p.checkSrc = true
		}
	}
	p.srcIP = in.UnicastSrcIP
	if !p.srcIP.IsValid() || !p.unicast {
		if in.McastSrcIP.IsValid() && !p.unicast {
			p.srcIP = in.McastSrcIP
		}
	}
	if p.srcIP.IsValid() && FamilyOf(p.srcIP) != p.family {
		return fail("source address %v is not %v", p.srcIP, p.family)
	}
	p.group4 = g.McastGroup4
	if !p.group4.IsValid() {
		p.group4 = Group4
	}
	p.group6 = g.McastGroup6
	if !p.group6.IsValid() {
		p.group6 = Group6
	}
	if d := in.McastDstIP; d.IsValid() {
		// mcast_dst_ip: the instance's own group.
		switch {
		case !d.IsMulticast():
			return fail("mcast_dst_ip %v is not a multicast address", d)
		case FamilyOf(d) != p.family:
			return fail("mcast_dst_ip %v is not %v", d, p.family)
		case p.family == IPv6 && !d.IsLinkLocalMulticast():
			return fail("mcast_dst_ip %v: IPv6 groups must be link-local (ffX2::)", d)
		case p.family == IPv6:
			p.group6 = d
		default:
			p.group4 = d
		}
	}
	p.ttl = TTL
	if p.unicast && in.UnicastTTL != nil {
		if t := *in.UnicastTTL; t < 0 || t > 255 {
			return fail("unicast_ttl %d out of range 0..255", t)
		}
		p.ttl = uint8(*in.UnicastTTL)
	}
	p.faultNoPeer = in.UnicastFaultNoPeer && !p.unicast

	// GARP: global defaults, vrrp_min_garp, then per-instance values.
	delay, repeat := g.GARPMasterDelay, firstNonZero(g.GARPMasterRepeat, 5)
	refresh, refreshRep := g.GARPMasterRefresh, firstNonZero(g.GARPMasterRefreshRepeat, 1)
	switch {
	case delay == 0:
		delay = 5 * time.Second
	case delay < 0:
		delay = 0
	}
	if g.MinGARP {
		// "vrrp_min_garp: if still at defaults sets garp repeat 1,
		// refresh 0, refresh_repeat 0, delay 0".
		if g.GARPMasterRepeat == 0 {
			repeat = 1
		}
		if g.GARPMasterDelay == 0 {
			delay = 0
		}
		if g.GARPMasterRefresh == 0 {
			refresh = 0
		}
		if g.GARPMasterRefreshRepeat == 0 {
			refreshRep = 0
		}
	}
	if in.GARPMasterDelay != nil {
		delay = max(*in.GARPMasterDelay, 0)
	}
	if in.GARPMasterRepeat != nil {
		repeat = *in.GARPMasterRepeat
	}
	if in.GARPMasterRefresh != nil {
		refresh = *in.GARPMasterRefresh
	}
	if in.GARPMasterRefreshRepeat != nil {
		refreshRep = *in.GARPMasterRefreshRepeat
	}
	lowerDelay, lowerRep := delay, repeat
	if g.GARPLowerPrioDelay != nil {
		lowerDelay = *g.GARPLowerPrioDelay
	}
	if g.GARPLowerPrioRepeat != nil {
		lowerRep = *g.GARPLowerPrioRepeat
	}
	if in.GARPLowerPrioDelay != nil {
		lowerDelay = *in.GARPLowerPrioDelay
	}
	if in.GARPLowerPrioRepeat != nil {
		lowerRep = *in.GARPLowerPrioRepeat
	}
	p.garpDelay, p.garpRepeat = delay, repeat
	p.garpRefresh, p.garpRefreshRep = refresh, refreshRep
	p.garpLowerDelay, p.garpLowerRep = max(lowerDelay, 0), lowerRep
	return p, nil
}

// dst returns the multicast group adverts go to.
func (p *params) dst() netip.Addr {
	if p.family == IPv6 {
		return p.group6
	}
	return p.group4
}

// proto is the IP protocol of the instance's adverts.
func (p *params) proto() uint8 {
	if p.auth == AuthAH {
		return ProtoAH
	}
	return ProtoVRRP
}

func firstNonZero(v ...int) int {
	for _, x := range v {
		if x != 0 {
			return x
		}
	}
	return 0
}

func boolOr(p *bool, def bool) bool {
	if p != nil {
		return *p
	}
	return def
}
