package conf

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Routes and rules in ip-route and ip-rule syntax (virtual_routes,
// static_routes, virtual_rules, static_rules), read as keepalived reads
// them (vrrp_iproute.c alloc_route, vrrp_iprule.c alloc_rule): the same
// words, the same messages, and a line keepalived drops is dropped.

// reservedTables are iproute2's own table names (lib/rttables.c
// rttable_default): they hold without rt_tables.
var reservedTables = map[string]int{"unspec": 0, "default": 253, "main": 254, "local": 255}

// RouteTableFiles are the files table names are read from: keepalived's
// /etc/iproute2/rt_tables, and what iproute2 6.x reads besides
// (rt_tables.d/*.conf, the distribution's defaults under /usr/share/iproute2
// and /usr/lib/iproute2).
func RouteTableFiles() []string {
	var files []string
	for _, dir := range []string{"/usr/lib/iproute2", "/usr/share/iproute2", "/etc/iproute2"} {
		files = append(files, filepath.Join(dir, "rt_tables"))
		more, _ := filepath.Glob(filepath.Join(dir, "rt_tables.d", "*.conf"))
		files = append(files, more...)
	}
	return files
}

// ReadRouteTables reads iproute2's "NUMBER NAME" lines from files (later
// files override earlier ones; missing files are skipped), on top of the
// reserved names.
func ReadRouteTables(files ...string) map[string]int {
	m := map[string]int{}
	for k, v := range reservedTables {
		m[k] = v
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			fs := strings.Fields(line)
			if len(fs) != 2 {
				continue
			}
			n, err := strconv.ParseUint(fs[0], 0, 32)
			if err != nil {
				continue
			}
			m[fs[1]] = int(n)
		}
	}
	return m
}

// routeTable resolves a table given by number or by name, as
// find_rttables_table: the result is the number, as a word.
func (b *builder) routeTable(s string) (string, bool) {
	if n, err := strconv.ParseUint(s, 0, 32); err == nil {
		return strconv.FormatUint(n, 10), true
	}
	if b.tables == nil {
		if b.opts.RouteTables != nil {
			b.tables = b.opts.RouteTables
		} else {
			b.tables = ReadRouteTables(RouteTableFiles()...)
		}
	}
	if n, ok := b.tables[s]; ok {
		return strconv.Itoa(n), true
	}
	if n, ok := reservedTables[s]; ok {
		return strconv.Itoa(n), true
	}
	return "", false
}

// Route types (rt_ntypes) and scopes (rt_scopes) keepalived knows by name.
var (
	routeTypes = map[string]bool{
		"unicast": true, "local": true, "broadcast": true, "multicast": true, "throw": true,
		"unreachable": true, "prohibit": true, "blackhole": true, "nat": true, "anycast": true,
	}
	routeScopes = map[string]bool{"global": true, "nowhere": true, "host": true, "link": true, "site": true}
	// routeProtos are rt_protos' names.
	routeProtos = map[string]bool{
		"redirect": true, "kernel": true, "boot": true, "static": true, "gated": true, "ra": true, "mrt": true,
		"zebra": true, "bird": true, "dnrouted": true, "xorp": true, "ntk": true, "dhcp": true, "keepalived": true,
		"babel": true, "bgp": true, "isis": true, "ospf": true, "rip": true, "eigrp": true,
	}
	// routeMetrics take a value, optionally after "lock".
	routeMetrics = map[string]bool{
		"mtu": true, "hoplimit": true, "advmss": true, "rtt": true, "rttvar": true, "reordering": true,
		"window": true, "cwnd": true, "ssthresh": true, "rto_min": true, "initcwnd": true, "initrwnd": true,
		"features": true, "quickack": true, "congctl": true, "pref": true, "ttl-propagate": true,
		"fastopen_no_cookie": true, "realms": true, "expires": true, "encap": true,
	}
)

func validScope(s string) bool {
	if routeScopes[s] {
		return true
	}
	_, err := strconv.ParseUint(s, 0, 8)
	return err == nil
}

func parseDst(s string) (netip.Prefix, bool) {
	if s == "default" || s == "all" || s == "any" {
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	return parsePrefix(s)
}

// route parses one virtual_routes / static_routes line. static says
// whether track_group is allowed.
func (b *builder) route(n *Node, what string, static bool) (*Route, bool) {
	w := n.Args
	r := &Route{Pos: n.Pos}
	family := 0 // 4 or 6 once known
	// drop reports a problem after which keepalived drops the route.
	drop := func(format string, args ...any) (*Route, bool) {
		b.d.kaf(n.Pos, ClassGeneral, what+": "+format+" - the route is ignored", args...)
		return nil, false
	}
	setFamily := func(f int) bool {
		if family == 0 {
			family = f
		}
		return family == f
	}
	famOf := func(a netip.Addr) int {
		if a.Is4() {
			return 4
		}
		return 6
	}
	next := func(i int) string {
		if i+1 < len(w) {
			return w[i+1]
		}
		return ""
	}
	for i := 0; i < len(w); i++ {
		switch t := w[i]; {
		case t == "inet6" || t == "inet":
			f := 4
			if t == "inet6" {
				f = 6
			}
			if !setFamily(f) {
				// "inet6 specified for IPv4 route".
				return drop("%s specified for a route of the other family", t)
			}
		case t == "src":
			a, err := netip.ParseAddr(next(i))
			if err != nil {
				// "invalid route src address %s".
				return drop("invalid route src address %s", next(i))
			}
			if !setFamily(famOf(a)) {
				return drop("cannot mix IPv4 and IPv6 addresses for route")
			}
			r.Src = a
			i++
		case t == "via" || t == "gw":
			if t == "gw" {
				// "\"gw\" for routes is deprecated. Please use \"via\"".
				b.d.kaf(n.Pos, ClassGeneral, "%s: \"gw\" for routes is deprecated, use \"via\"", what)
			}
			i++
			v := next(i - 1)
			if v == "inet" || v == "inet6" {
				f := 4
				if v == "inet6" {
					f = 6
				}
				if !setFamily(f) {
					return drop("cannot mix IPv4 and IPv6 addresses for route")
				}
				i++
				v = next(i - 1)
			}
			a, err := netip.ParseAddr(v)
			if err != nil {
				// "invalid route via address %s".
				return drop("invalid route via address %s", v)
			}
			if !setFamily(famOf(a)) {
				return drop("cannot mix IPv4 and IPv6 addresses for route")
			}
			r.Via = a
		case t == "or":
			// "\"or\" for routes is deprecated. Please use \"nexthop\"".
			b.d.kaf(n.Pos, ClassGeneral, "%s: \"or\" for routes is deprecated, use \"nexthop\"", what)
			a, err := netip.ParseAddr(next(i))
			if err != nil {
				return drop("invalid \"or\" address %s", next(i))
			}
			r.Or = a
			i++
		case t == "table":
			id, ok := b.routeTable(next(i))
			if !ok {
				// "Routing table %s not found for route".
				return drop("routing table %s not found (iproute2's rt_tables names no such table)", next(i))
			}
			r.Table = id
			i++
		case t == "protocol" || t == "proto":
			p := next(i)
			if _, err := strconv.ParseUint(p, 0, 8); err != nil && !routeProtos[p] {
				// "Protocol %s not found or invalid for route".
				return drop("protocol %s not found or invalid for route", p)
			}
			r.Protocol = p
			i++
		case t == "scope":
			if !validScope(next(i)) {
				// "Scope %s not found or invalid for route".
				return drop("scope %s not found or invalid for route", next(i))
			}
			r.Scope = next(i)
			i++
		case t == "metric" || t == "priority" || t == "preference":
			m, err := strconv.ParseUint(next(i), 10, 32)
			if err != nil {
				return drop("invalid metric %s", next(i))
			}
			r.Metric = int(m)
			i++
		case t == "dev" || t == "oif":
			r.Dev = next(i)
			i++
		case t == "onlink":
			r.OnLink = true
		case t == "tos" || t == "dsfield":
			r.Options = setOpt(r.Options, t, next(i))
			i++
		case routeMetrics[t]:
			v := next(i)
			if v == "lock" {
				i++
				v = next(i)
			}
			r.Options = setOpt(r.Options, t, v)
			i++
		case t == "nexthop":
			// The rest of the line is the next hops.
			r.Options = setOpt(r.Options, "nexthop", strings.Join(w[i+1:], " "))
			i = len(w)
		case t == "no_track":
			r.NoTrack = true
		case t == "track_group" && static:
			r.TrackGroup = next(i)
			i++
		case t == "vrf":
			r.Options = setOpt(r.Options, "vrf", next(i))
			i++
		case t == "add" || t == "prepend" || t == "append":
		default:
			if t == "to" {
				i++
				t = next(i - 1)
			}
			if routeTypes[t] {
				r.Type = t
				i++
				t = next(i - 1)
			}
			d, ok := parseDst(t)
			if !ok {
				// "unknown route keyword %s".
				return drop("unknown route keyword %s", t)
			}
			if t != "default" && !setFamily(famOf(d.Addr())) {
				return drop("cannot mix IPv4 and IPv6 addresses for route (%s)", t)
			}
			r.Dst = d
		}
	}
	if !r.Dst.IsValid() {
		// "Route must have a destination".
		return drop("route must have a destination")
	}
	if family == 6 && r.Dst.Bits() == 0 && r.Dst.Addr().Is4() {
		r.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	if !r.NoTrack && r.Dev == "" {
		// "Warning - cannot track route %s with no interface specified,
		// not tracking".
		b.d.kaf(n.Pos, ClassGeneral, "%s: cannot track route %s with no interface specified, not tracking", what, r.Dst)
		r.NoTrack = true
	}
	if r.TrackGroup != "" && r.Dev == "" {
		// "Static route cannot have track group if no oif specified".
		b.d.kaf(n.Pos, ClassGeneral, "%s: a static route cannot have a track group if no interface is given - ignoring track_group", what)
		r.TrackGroup = ""
	}
	if r.Type == "" {
		r.Type = "unicast"
	}
	return r, true
}

// rule parses one virtual_rules / static_rules line.
func (b *builder) rule(n *Node, what string, static bool) (*Rule, bool) {
	w := n.Args
	r := &Rule{Pos: n.Pos, Priority: -1}
	drop := func(format string, args ...any) (*Rule, bool) {
		b.d.kaf(n.Pos, ClassGeneral, what+": "+format+" - the rule is ignored", args...)
		return nil, false
	}
	family := 0
	next := func(i int) string {
		if i+1 < len(w) {
			return w[i+1]
		}
		return ""
	}
	hasAction := false
	for i := 0; i < len(w); i++ {
		t := w[i]
		switch t {
		case "inet", "inet6":
			f := 4
			if t == "inet6" {
				f = 6
			}
			if family != 0 && family != f {
				return drop("%s specified for a rule of the other family", t)
			}
			family = f
		case "from", "to":
			v := next(i)
			p, ok := parseDst(v)
			if !ok {
				// "Invalid rule from address %s".
				return drop("invalid rule %s address %s", t, v)
			}
			if v != "all" && v != "default" && v != "any" {
				f := 4
				if p.Addr().Is6() {
					f = 6
				}
				if family != 0 && family != f {
					// "rule specification has mixed IPv4 and IPv6".
					return drop("rule specification has mixed IPv4 and IPv6")
				}
				family = f
			}
			if t == "from" {
				r.From = p
			} else {
				r.To = p
			}
			i++
		case "table", "lookup":
			id, ok := b.routeTable(next(i))
			if !ok {
				// "Routing table %s not found for rule".
				return drop("routing table %s not found (iproute2's rt_tables names no such table)", next(i))
			}
			if id == "0" {
				// "Table 0 is not valid".
				return drop("table 0 is not valid")
			}
			r.Table, hasAction = id, true
			i++
		case "preference", "order", "priority", "pref", "prio":
			v, err := strconv.ParseUint(next(i), 0, 32)
			if err != nil {
				// "Invalid rule preference %s specified".
				return drop("invalid rule preference %s", next(i))
			}
			r.Priority = int(v)
			i++
		case "fwmark":
			r.Fwmark = next(i)
			i++
		case "dev", "iif":
			r.IIf = next(i)
			i++
		case "oif":
			r.OIf = next(i)
			i++
		case "no_track":
			r.NoTrack = true
		case "track_group":
			if !static {
				return drop("unknown rule option %s", t)
			}
			r.TrackGroup = next(i)
			i++
		case "tos", "dsfield", "realms", "suppress_prefixlength", "sup_pl", "suppress_ifgroup", "sup_group",
			"tunnel-id", "uidrange", "protocol", "ipproto", "sport", "dport":
			r.Options = setOpt(r.Options, t, next(i))
			i++
		case "l3mdev":
			r.Options = setOpt(r.Options, t, "")
			hasAction = true
		case "not":
			r.Options = setOpt(r.Options, t, "")
		default:
			a := t
			if a == "type" {
				i++
				a = next(i - 1)
			}
			switch a {
			case "goto":
				r.Action = "goto"
				r.Options = setOpt(r.Options, "goto", next(i))
				i++
			case "nop", "blackhole", "unreachable", "prohibit":
				r.Action = a
			default:
				// "Unknown rule option %s".
				return drop("unknown rule option %s", t)
			}
			hasAction = true
		}
	}
	if !hasAction {
		// "No action specified for rule - ignoring".
		return drop("no action specified for rule")
	}
	if r.TrackGroup != "" && r.IIf == "" {
		// "Static rule cannot have track_group if dev/iif not specified".
		b.d.kaf(n.Pos, ClassGeneral, "%s: a static rule cannot have track_group if dev/iif is not given - ignoring track_group", what)
		r.TrackGroup = ""
	}
	if r.Priority < 0 {
		// "Rule has no preference specified - setting to %u. This is
		// probably not what you want."
		b.d.kaf(n.Pos, ClassGeneral, "%s: rule has no preference specified - setting it as keepalived does; this is probably not what you want", what)
	}
	if !r.From.IsValid() && !r.To.IsValid() {
		r.From = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if family == 6 {
			r.From = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
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
