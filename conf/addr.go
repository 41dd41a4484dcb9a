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

// ipAddress parses one virtual_ipaddress / static_ipaddress line.
func (b *builder) ipAddress(n *Node, what string) (*IPAddress, bool) {
	w := n.Args
	p, ok := parsePrefix(w[0])
	if !ok {
		b.d.errorf(n.Pos, "%s: invalid address '%s'", what, w[0])
		return nil, false
	}
	a := &IPAddress{Pos: n.Pos, Prefix: p}
	val := func(i int) (string, bool) {
		if i+1 >= len(w) {
			b.d.errorf(n.Pos, "%s %s: '%s' needs a value", what, w[0], w[i])
			return "", false
		}
		return w[i+1], true
	}
	for i := 1; i < len(w); i++ {
		switch w[i] {
		case "brd", "broadcast":
			v, ok := val(i)
			if !ok {
				return nil, false
			}
			if v != "+" && v != "-" {
				if _, err := netip.ParseAddr(v); err != nil {
					b.d.errorf(n.Pos, "%s %s: invalid broadcast '%s'", what, w[0], v)
					return nil, false
				}
			}
			a.Broadcast = v
			i++
		case "dev":
			v, ok := val(i)
			if !ok {
				return nil, false
			}
			a.Dev = v
			i++
		case "scope":
			v, ok := val(i)
			if !ok {
				return nil, false
			}
			if !validScope(v) {
				b.d.errorf(n.Pos, "%s %s: invalid scope '%s'", what, w[0], v)
				return nil, false
			}
			a.Scope = v
			i++
		case "label":
			v, ok := val(i)
			if !ok {
				return nil, false
			}
			a.Label = v
			i++
		case "peer":
			v, ok := val(i)
			if !ok {
				return nil, false
			}
			pp, ok := parsePrefix(v)
			if !ok {
				b.d.errorf(n.Pos, "%s %s: invalid peer '%s'", what, w[0], v)
				return nil, false
			}
			a.Peer = pp
			i++
		case "preferred_lft":
			v, ok := val(i)
			if !ok {
				return nil, false
			}
			a.PreferredLft = v
			i++
		case "home":
			a.Home = true
		case "-nodad", "nodad":
			a.NoDAD = true
		case "mngtmpaddr":
			a.MngTmpAddr = true
		case "noprefixroute":
			a.NoPrefixRoute = true
		case "autojoin":
			a.AutoJoin = true
		case "no_track":
			a.NoTrack = true
		case "track_group":
			v, ok := val(i)
			if !ok {
				return nil, false
			}
			a.TrackGroup = v
			i++
		case "use_vmac":
			a.UseVMAC = true
		default:
			b.d.errorf(n.Pos, "%s %s: unknown option '%s'", what, w[0], w[i])
			return nil, false
		}
	}
	return a, true
}

func validScope(s string) bool {
	switch s {
	case "global", "site", "link", "host", "nowhere":
		return true
	}
	_, err := strconv.ParseUint(s, 10, 8)
	return err == nil
}

var routeTypes = map[string]bool{
	"unicast": true, "blackhole": true, "unreachable": true, "prohibit": true, "throw": true,
	"local": true, "broadcast": true, "anycast": true, "multicast": true, "nat": true,
}

// routeOptions are ip-route attributes kept as name/value pairs.
var routeOptions = map[string]bool{
	"mtu": true, "advmss": true, "rtt": true, "rttvar": true, "reordering": true, "window": true,
	"cwnd": true, "ssthresh": true, "realms": true, "rto_min": true, "initcwnd": true,
	"initrwnd": true, "features": true, "quickack": true, "congctl": true, "pref": true,
	"expires": true, "fastopen_no_cookie": true, "tos": true, "hoplimit": true, "nexthop": true,
	"weight": true, "encap": true, "ttl-propagate": true, "lock": true,
}

// route parses one virtual_routes / static_routes line.
func (b *builder) route(n *Node, what string) (*Route, bool) {
	w := n.Args
	r := &Route{Pos: n.Pos}
	bad := func(format string, args ...any) (*Route, bool) {
		b.d.errorf(n.Pos, what+": "+format, args...)
		return nil, false
	}
	val := func(i int) (string, bool) {
		if i+1 >= len(w) {
			b.d.errorf(n.Pos, "%s: '%s' needs a value", what, w[i])
			return "", false
		}
		return w[i+1], true
	}
	addrVal := func(i int) (netip.Addr, bool) {
		v, ok := val(i)
		if !ok {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			b.d.errorf(n.Pos, "%s: invalid address '%s' after %s", what, v, w[i])
			return netip.Addr{}, false
		}
		return a, true
	}
	for i := 0; i < len(w); i++ {
		var ok bool
		switch t := w[i]; {
		case t == "src":
			if r.Src, ok = addrVal(i); !ok {
				return nil, false
			}
			i++
		case t == "via" || t == "gw":
			if r.Via, ok = addrVal(i); !ok {
				return nil, false
			}
			i++
		case t == "or":
			if r.Or, ok = addrVal(i); !ok {
				return nil, false
			}
			i++
		case t == "dev" || t == "oif":
			if r.Dev, ok = val(i); !ok {
				return nil, false
			}
			i++
		case t == "scope":
			if r.Scope, ok = val(i); !ok {
				return nil, false
			}
			if !validScope(r.Scope) {
				return bad("invalid scope '%s'", r.Scope)
			}
			i++
		case t == "table":
			if r.Table, ok = val(i); !ok {
				return nil, false
			}
			i++
		case t == "metric" || t == "preference" || t == "priority":
			v, ok := val(i)
			if !ok {
				return nil, false
			}
			m, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return bad("invalid metric '%s'", v)
			}
			r.Metric = int(m)
			i++
		case t == "proto" || t == "protocol":
			if r.Protocol, ok = val(i); !ok {
				return nil, false
			}
			i++
		case t == "onlink":
			r.OnLink = true
		case t == "no_track":
			r.NoTrack = true
		case t == "track_group":
			if r.TrackGroup, ok = val(i); !ok {
				return nil, false
			}
			i++
		case t == "to":
			v, ok := val(i)
			if !ok {
				return nil, false
			}
			if r.Dst, ok = parseDst(v); !ok {
				return bad("invalid destination '%s'", v)
			}
			i++
		case routeTypes[t]:
			r.Type = t
		case routeOptions[t]:
			v, ok := val(i)
			if !ok {
				return nil, false
			}
			if r.Options == nil {
				r.Options = map[string]string{}
			}
			r.Options[t] = v
			i++
		default:
			if r.Dst.IsValid() {
				return bad("unknown route option '%s'", t)
			}
			var ok bool
			if r.Dst, ok = parseDst(t); !ok {
				return bad("invalid destination or unknown option '%s'", t)
			}
		}
	}
	if !r.Dst.IsValid() {
		return bad("no destination given")
	}
	if r.Type == "" {
		r.Type = "unicast"
	}
	return r, true
}

func parseDst(s string) (netip.Prefix, bool) {
	if s == "default" {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	return parsePrefix(s)
}

// rule parses one virtual_rules / static_rules line.
func (b *builder) rule(n *Node, what string) (*Rule, bool) {
	w := n.Args
	r := &Rule{Pos: n.Pos, Priority: -1}
	bad := func(format string, args ...any) (*Rule, bool) {
		b.d.errorf(n.Pos, what+": "+format, args...)
		return nil, false
	}
	for i := 0; i < len(w); i++ {
		t := w[i]
		hasVal := i+1 < len(w)
		next := ""
		if hasVal {
			next = w[i+1]
		}
		switch t {
		case "from", "to":
			if !hasVal {
				return bad("'%s' needs a value", t)
			}
			p, ok := parseDst(next)
			if next == "all" {
				p, ok = netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
			}
			if !ok {
				return bad("invalid address '%s'", next)
			}
			if t == "from" {
				r.From = p
			} else {
				r.To = p
			}
			i++
		case "table", "lookup":
			if !hasVal {
				return bad("'%s' needs a value", t)
			}
			r.Table = next
			i++
		case "priority", "preference", "pref", "order":
			if !hasVal {
				return bad("'%s' needs a value", t)
			}
			v, err := strconv.ParseUint(next, 10, 32)
			if err != nil {
				return bad("invalid priority '%s'", next)
			}
			r.Priority = int(v)
			i++
		case "fwmark":
			if !hasVal {
				return bad("'%s' needs a value", t)
			}
			r.Fwmark = next
			i++
		case "iif", "dev":
			if !hasVal {
				return bad("'%s' needs a value", t)
			}
			r.IIf = next
			i++
		case "oif":
			if !hasVal {
				return bad("'%s' needs a value", t)
			}
			r.OIf = next
			i++
		case "goto":
			if !hasVal {
				return bad("'%s' needs a value", t)
			}
			r.Action = "goto"
			r.Options = setOpt(r.Options, "goto", next)
			i++
		case "blackhole", "unreachable", "prohibit":
			r.Action = t
		case "no_track":
			r.NoTrack = true
		case "track_group":
			if !hasVal {
				return bad("'%s' needs a value", t)
			}
			r.TrackGroup = next
			i++
		case "tos", "dsfield", "realms", "nat", "map-to", "suppress_prefixlength", "suppress_ifgroup",
			"uidrange", "sport", "dport", "ipproto", "tun_id", "protocol":
			if !hasVal {
				return bad("'%s' needs a value", t)
			}
			r.Options = setOpt(r.Options, t, next)
			i++
		case "l3mdev", "not":
			r.Options = setOpt(r.Options, t, "")
		default:
			return bad("unknown rule option '%s'", t)
		}
	}
	if !r.From.IsValid() && !r.To.IsValid() {
		return bad("a rule needs from or to")
	}
	return r, true
}

func setOpt(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}
