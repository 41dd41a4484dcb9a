package conf

import (
	"net/netip"
	"strconv"
	"strings"
)

// parsePrefix reads "IP" or "IP/len"; a bare address gets a full-length
// prefix.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// ipAddress parses one virtual_ipaddress, virtual_ipaddress_excluded or
// static_ipaddress line as keepalived's alloc_ipaddress does
// (vrrp_ipaddress.c): an option it does not know is reported and ignored,
// the address kept; a bad address or option value drops the line.
func (b *builder) ipAddress(n *Node, what string) (*IPAddress, bool) {
	w := n.Args
	static := what == "static_ipaddress"
	addr := w[0]
	p, ok := parsePrefix(addr)
	if !ok {
		if i := strings.IndexByte(addr, '/'); i > 0 {
			if a, err := netip.ParseAddr(addr[:i]); err == nil {
				// parse_ipaddress: "Invalid address prefix len %s for
				// address %s - using %d".
				b.d.kaf(n.Pos, ClassGeneral, "%s: invalid address prefix length %s for address %s - using %d",
					what, addr[i+1:], addr[:i], a.BitLen())
				p, ok = netip.PrefixFrom(a, a.BitLen()), true
			}
		}
		if !ok {
			// "VRRP parsed invalid IP %s. skipping IP...".
			b.d.kaf(n.Pos, ClassGeneral, "%s: invalid IP address %s - skipping it", what, addr)
			return nil, false
		}
	}
	a := &IPAddress{Pos: n.Pos, Prefix: p}
	v6 := p.Addr().Is6() && !p.Addr().Is4In6()
	for i := 1; i < len(w); i++ {
		opt := w[i]
		val := ""
		takes := map[string]bool{"dev": true, "scope": true, "broadcast": true, "brd": true, "label": true,
			"peer": true, "preferred_lft": true, "track_group": static}[opt]
		if takes {
			if i+1 >= len(w) {
				// "No %s parameter specified for %s".
				b.d.kaf(n.Pos, ClassGeneral, "%s: no %s parameter specified for %s - skipping the address", what, opt, addr)
				return nil, false
			}
			i++
			val = w[i]
		}
		switch opt {
		case "dev":
			if a.Dev != "" {
				// "Cannot specify ipaddress device more than once for %s".
				b.d.kaf(n.Pos, ClassGeneral, "%s: cannot give the device more than once for %s - skipping the address", what, addr)
				return nil, false
			}
			a.Dev = val
		case "scope":
			if !validScope(val) {
				// "Invalid scope '%s' specified for %s - ignoring".
				b.d.kaf(n.Pos, ClassGeneral, "%s: invalid scope '%s' for %s - ignoring the scope", what, val, addr)
				continue
			}
			a.Scope = val
		case "broadcast", "brd":
			if v6 {
				// "VRRP is trying to assign a broadcast %s to the IPv6
				// address %s !!?? WTF... skipping VIP...".
				b.d.kaf(n.Pos, ClassGeneral, "%s: a broadcast %s for the IPv6 address %s - skipping the address", what, val, addr)
				return nil, false
			}
			if val != "+" && val != "-" {
				if _, err := netip.ParseAddr(val); err != nil {
					// "VRRP is trying to assign invalid broadcast %s.
					// skipping VIP...".
					b.d.kaf(n.Pos, ClassGeneral, "%s: invalid broadcast %s - skipping the address", what, val)
					return nil, false
				}
			}
			a.Broadcast = val
		case "label":
			if len(val) >= 16 {
				// "Address label %s is longer than maximum length %d -
				// removing address".
				b.d.kaf(n.Pos, ClassGeneral, "%s: address label %s is longer than 15 characters - skipping the address", what, val)
				return nil, false
			}
			a.Label = val
		case "peer":
			pp, ok := parsePrefix(val)
			if !ok {
				// "Invalid peer address %s".
				b.d.kaf(n.Pos, ClassGeneral, "%s: invalid peer address %s - skipping the address", what, val)
				return nil, false
			}
			a.Peer = pp
		case "preferred_lft":
			if val != "forever" {
				if _, err := strconv.ParseUint(val, 10, 32); err != nil {
					// "preferred_lft %s is invalid".
					b.d.kaf(n.Pos, ClassGeneral, "%s: preferred_lft %s is invalid", what, val)
					continue
				}
			}
			a.PreferredLft = val
		case "track_group":
			a.TrackGroup = val
		case "home":
			a.Home = true
		case "-nodad":
			a.NoDAD = true
		case "mngtmpaddr":
			a.MngTmpAddr = true
		case "noprefixroute":
			a.NoPrefixRoute = true
		case "autojoin":
			a.AutoJoin = true
		case "no_track":
			a.NoTrack = true
		case "use_vmac":
			if static {
				b.d.kaf(n.Pos, ClassGeneral, "%s: unknown configuration entry '%s' for ip address - ignoring", what, opt)
				continue
			}
			a.UseVMAC = true
		default:
			// "Unknown configuration entry '%s' for ip address - ignoring".
			b.d.kaf(n.Pos, ClassGeneral, "%s: unknown configuration entry '%s' for ip address - ignoring", what, opt)
		}
	}
	if a.Peer.IsValid() && a.Broadcast != "" {
		// "Cannot specify broadcast and peer addresses - ignoring
		// broadcast address".
		b.d.kaf(n.Pos, ClassGeneral, "%s: cannot give broadcast and peer addresses - ignoring the broadcast", what)
		a.Broadcast = ""
	}
	if v6 && a.Scope != "" {
		// "Cannot specify scope for IPv6 addresses (%s) - ignoring scope".
		b.d.kaf(n.Pos, ClassGeneral, "%s: cannot give a scope for IPv6 addresses (%s) - ignoring the scope", what, addr)
		a.Scope = ""
	}
	if v6 && a.Label != "" {
		// "Cannot specify label for IPv6 addresses (%s) - ignoring label".
		b.d.kaf(n.Pos, ClassGeneral, "%s: cannot give a label for IPv6 addresses (%s) - ignoring the label", what, addr)
		a.Label = ""
	}
	if static && a.Dev == "" {
		// CONFIG_FATAL: "Static address %s requires either an interface
		// or default_interface".
		if b.cfg.Global.DefaultInterface == "" {
			b.d.refusef(n.Pos, ClassFatal, "%s: static address %s requires either an interface or default_interface", what, addr)
			return nil, false
		}
		a.Dev = b.cfg.Global.DefaultInterface
	}
	if a.TrackGroup != "" && a.Dev == "" {
		b.d.kaf(n.Pos, ClassGeneral, "%s: a static address cannot have track_group if no interface is given", what)
		a.TrackGroup = ""
	}
	return a, true
}
