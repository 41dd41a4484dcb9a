package main

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/conf"
)

// modeVRRP is the lab's "mode" for a config with VRRP instances and no
// virtual_server (nginx behind keepalived): the directors serve HTTP
// themselves.
const modeVRRP = "VRRP"

// userConfig is one file given with --config.
type userConfig struct {
	Name string
	Text string
}

// mapped is a user's configuration mapped onto the lab.
type mapped struct {
	Layout layout
	// Configs are the directors' keepalived.conf texts, director1 first.
	Configs []string
	// Targets are the services the client reaches (lab VIP and port).
	Targets   []netip.AddrPort
	Instances []string
	// RealPorts[i] are the ports real server i+1 serves; SorryPorts the
	// sorry server's; DirectorPorts the directors' (VRRP-only configs).
	RealPorts     [][]uint16
	SorryPorts    []uint16
	DirectorPorts []uint16
	// Paths are the URL paths the health checkers ask for.
	Paths []string
	// Notes say, one line each, what was mapped and what was left.
	Notes []string
}

// addrMap rewrites IPv4 addresses of a config text.
type addrMap map[netip.Addr]netip.Addr

// dotted matches a maximal run of digits and dots: an address is mapped
// only when a whole run is one (198.18.0.1 inside 198.18.0.11, or inside a
// version number such as 1.192.168.0.1, is not).
var dotted = regexp.MustCompile(`[0-9.]+`)

// apply rewrites every mapped address in s.
func (m addrMap) apply(s string) string {
	return dotted.ReplaceAllStringFunc(s, func(run string) string {
		tok := strings.TrimRight(run, ".") // an address ending a sentence
		a, err := netip.ParseAddr(tok)
		if err != nil || !a.Is4() {
			return run
		}
		to, ok := m[a]
		if !ok {
			return run
		}
		return to.String() + run[len(tok):]
	})
}

// mapConfigs maps one or two user files onto a lab of `directors`
// directors. With one file and two directors, director2 gets the same file
// with its VRRP roles swapped (swapRoles).
func mapConfigs(files []userConfig, directors int) (*mapped, error) {
	if len(files) == 0 || len(files) > 2 {
		return nil, fmt.Errorf("ulvslab: --config takes one file (both directors) or two (director1, director2)")
	}
	if len(files) == 2 && directors != 2 {
		return nil, fmt.Errorf("ulvslab: two --config files need --directors 2")
	}
	var cfgs []*conf.Config
	for _, f := range files {
		res, err := conf.Parse(f.Name, []byte(f.Text), conf.Options{ConfigID: "ulvslab"})
		if err == nil {
			// keepalived runs a file cut off inside a block; the lab
			// does not map one.
			for _, d := range res.Diags {
				if d.Class == conf.ClassMissingClose {
					return nil, fmt.Errorf("ulvslab: %s is cut off:\n%s", f.Name, d)
				}
			}
		}
		if err != nil {
			if res != nil {
				return nil, fmt.Errorf("ulvslab: %s does not load (as keepalived would refuse it):\n%s", f.Name, res.Diags.Errors())
			}
			return nil, fmt.Errorf("ulvslab: %s: %w", f.Name, err)
		}
		if len(res.Config.Files) > 1 {
			return nil, fmt.Errorf("ulvslab: %s includes other files; the lab maps one file: flatten it with `ulvsd -d -f %s > flat.conf`", f.Name, f.Name)
		}
		cfgs = append(cfgs, res.Config)
	}
	m := &mapped{}
	mode, err := configMode(cfgs)
	if err != nil {
		return nil, err
	}
	l := layout{Mode: mode, Directors: directors}

	common := addrMap{}
	note := func(format string, args ...any) { m.Notes = append(m.Notes, fmt.Sprintf(format, args...)) }
	var vips []netip.Addr
	addVIP := func(a netip.Addr, why string) {
		if _, ok := common[a]; ok || !a.Is4() {
			return
		}
		common[a] = vipAddr(len(vips))
		note("%-18s → %-14s %s", a, common[a], why)
		vips = append(vips, a)
	}
	// Real servers, in order of appearance over all files.
	var reals []netip.Addr
	realPorts := map[netip.Addr][]uint16{}
	var sorries []netip.Addr
	sorryPorts := []uint16{}
	for _, c := range cfgs {
		for _, vs := range c.VirtualServers {
			addVIP(vs.Addr, "VIP of virtual_server "+vs.Addr.String()+" "+strconv.Itoa(int(vs.Port)))
			if !slices.Contains(m.Targets, netip.AddrPortFrom(vs.Addr, vs.Port)) {
				m.Targets = append(m.Targets, netip.AddrPortFrom(vs.Addr, vs.Port))
			}
			for _, rs := range vs.RealServers {
				if !slices.Contains(reals, rs.Addr) {
					reals = append(reals, rs.Addr)
				}
				if !slices.Contains(realPorts[rs.Addr], rs.Port) {
					realPorts[rs.Addr] = append(realPorts[rs.Addr], rs.Port)
				}
				for _, ck := range rs.Checkers {
					if ck.HTTP == nil {
						continue
					}
					for _, u := range ck.HTTP.URLs {
						if u.Path != "" && !slices.Contains(m.Paths, u.Path) {
							m.Paths = append(m.Paths, u.Path)
						}
					}
				}
			}
			if s := vs.SorryServer; s != nil && !slices.Contains(reals, s.Addr) {
				if !slices.Contains(sorries, s.Addr) {
					sorries = append(sorries, s.Addr)
				}
				if !slices.Contains(sorryPorts, s.Port) {
					sorryPorts = append(sorryPorts, s.Port)
				}
			}
		}
	}
	if len(reals) > maxReals {
		return nil, fmt.Errorf("ulvslab: the config names %d real servers; the lab has room for %d", len(reals), maxReals)
	}
	// VRRP addresses not used by a virtual server; in NAT, the one on the
	// real servers' network is their gateway.
	for _, c := range cfgs {
		for _, in := range c.Instances {
			for _, v := range in.VIPs {
				a := v.Prefix.Addr()
				if !a.Is4() {
					note("%-18s   left as written (the lab is IPv4)", a)
					continue
				}
				if mode == modeNAT && !l.Gateway.IsValid() && onNetOf(a, reals) {
					if _, ok := common[a]; !ok {
						common[a] = natGateway()
						l.Gateway = natGateway()
						note("%-18s → %-14s the real servers' gateway (VRRP address in %s)", a, common[a], in.Name)
					}
					continue
				}
				addVIP(a, "VRRP address of "+in.Name)
			}
		}
	}
	if mode == modeNAT && !l.Gateway.IsValid() && len(reals) > 0 {
		// No VRRP-held gateway: route through director1, which breaks
		// NAT replies after a failover (as it would on real machines).
		l.Gateway = host(backNet, 2)
		note("%-18s   no VRRP address on the real servers' network: they route via director1 (%s); "+
			"after a failover NAT replies are lost", "(gateway)", l.Gateway)
	}
	for i, r := range reals {
		common[r] = realAddr(mode, i+1)
		note("%-18s → %-14s rs%d", r, common[r], i+1)
		m.RealPorts = append(m.RealPorts, realPorts[r])
	}
	sorryLoop := false
	for _, s := range sorries {
		if s.IsLoopback() {
			// The director itself (IPVS's local node): mapped to the sorry
			// node until ulvsd's forwarder serves a local sorry server,
			// and only on sorry_server lines (smtp_server 127.0.0.1 stays).
			sorryLoop = true
			note("%-18s → %-14s the sorry node (sorry_server on the director itself)", s, sorryAddr(mode))
			continue
		}
		common[s] = sorryAddr(mode)
		note("%-18s → %-14s the sorry node", s, common[s])
	}
	l.Reals, l.Sorry, l.VIPs = len(reals), len(sorries) > 0, nil
	for _, v := range vips {
		l.VIPs = append(l.VIPs, common[v])
	}
	m.SorryPorts = sorryPorts
	for i, t := range m.Targets {
		m.Targets[i] = netip.AddrPortFrom(common[t.Addr()], t.Port())
	}
	if mode == modeVRRP {
		for _, v := range l.VIPs {
			m.Targets = append(m.Targets, netip.AddrPortFrom(v, 80))
		}
		m.DirectorPorts = []uint16{80}
	}
	if len(m.Targets) == 0 {
		return nil, fmt.Errorf("ulvslab: the config has no IPv4 virtual server or VRRP address to reach")
	}
	for _, in := range cfgs[0].Instances {
		m.Instances = append(m.Instances, in.Name)
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	m.Layout = l

	ifaces := interfaceNames(cfgs)
	for _, ifc := range ifaces {
		note("%-18s → %-14s interface", ifc, "eth0")
	}
	for i := 1; i <= directors; i++ {
		src := files[0]
		c := cfgs[0]
		if i == 2 && len(files) == 2 {
			src, c = files[1], cfgs[1]
		}
		am := addrMap{}
		for k, v := range common {
			am[k] = v
		}
		selfMap(am, c, i, directors)
		text := am.apply(src.Text)
		if sorryLoop {
			text = mapSorryLines(text, c, sorryAddr(mode))
		}
		text = renameInterfaces(text, ifaces)
		if i == 2 && len(files) == 1 {
			text = swapRoles(text, c)
		}
		m.Configs = append(m.Configs, text)
	}
	for _, sc := range cfgs[0].Scripts {
		if sc.Script == nil {
			continue
		}
		for _, w := range []string{"killall", "pidof", "pgrep"} {
			if strings.Contains(sc.Script.Cmd, w) {
				note("vrrp_script %s runs %s: the lab's namespaces share one PID space, so it sees every node's processes "+
					"(docs/lab.md shows a check that looks only at its own node)", sc.Name, w)
				break
			}
		}
	}
	if directors == 2 && len(files) == 1 && len(cfgs[0].Instances) > 0 {
		note("director2 runs the same file with each vrrp_instance's state swapped and priority moved by 10")
	}
	return m, nil
}

// configMode is the lb_kind shared by every virtual server and real server.
func configMode(cfgs []*conf.Config) (string, error) {
	mode := ""
	instances := 0
	for _, c := range cfgs {
		instances += len(c.Instances)
		if len(c.VirtualServerGroups) > 0 {
			return "", fmt.Errorf("ulvslab: virtual_server_group is not mapped onto the lab; list the virtual servers instead")
		}
		for _, vs := range c.VirtualServers {
			switch {
			case vs.Fwmark != 0 || vs.Group != "":
				return "", fmt.Errorf("ulvslab: %s: fwmark and group virtual servers cannot run in the lab "+
					"(the userspace forwarder does not see firewall marks)", vs.Pos)
			case !vs.Addr.Is4():
				return "", fmt.Errorf("ulvslab: %s: virtual server %s: the lab is IPv4 only", vs.Pos, vs.Addr)
			case vs.Protocol != "" && vs.Protocol != "TCP":
				return "", fmt.Errorf("ulvslab: %s: %s virtual servers are not served by the lab's HTTP servers (TCP only)", vs.Pos, vs.Protocol)
			}
			kinds := []string{vs.Method.Kind}
			for _, rs := range vs.RealServers {
				if !rs.Addr.Is4() {
					return "", fmt.Errorf("ulvslab: %s: real server %s: the lab is IPv4 only", rs.Pos, rs.Addr)
				}
				kinds = append(kinds, rs.Method.Kind)
			}
			for _, k := range kinds {
				if k == "" {
					continue
				}
				if mode != "" && k != mode {
					return "", fmt.Errorf("ulvslab: %s: the config mixes lb_kind %s and %s; the lab prepares its real servers for one mode", vs.Pos, mode, k)
				}
				mode = k
			}
		}
	}
	if mode == "" {
		if instances == 0 {
			return "", fmt.Errorf("ulvslab: the config has neither vrrp_instance nor virtual_server")
		}
		return modeVRRP, nil
	}
	return mode, nil
}

// onNetOf reports whether a shares a /24 with any of addrs.
func onNetOf(a netip.Addr, addrs []netip.Addr) bool {
	p, _ := a.Prefix(24)
	for _, r := range addrs {
		if p.Contains(r) {
			return true
		}
	}
	return false
}

// selfMap maps a director's own addresses (mcast_src_ip, unicast_src_ip)
// to director i and its unicast peers to the other director.
func selfMap(am addrMap, c *conf.Config, i, directors int) {
	other := 2
	if i == 2 {
		other = 1
	}
	for _, in := range c.Instances {
		for _, a := range []netip.Addr{in.UnicastSrcIP, in.McastSrcIP} {
			if a.Is4() {
				am[a] = directorAddr(i)
			}
		}
		for _, p := range in.UnicastPeers {
			if p.Addr.Is4() && directors == 2 {
				am[p.Addr] = directorAddr(other)
			}
		}
	}
}

// mapSorryLines maps the loopback sorry servers on their own lines.
func mapSorryLines(text string, c *conf.Config, to netip.Addr) string {
	lines := strings.Split(text, "\n")
	for _, vs := range c.VirtualServers {
		s := vs.SorryServer
		if s == nil || !s.Addr.IsLoopback() || s.Pos.Line < 1 || s.Pos.Line > len(lines) {
			continue
		}
		lines[s.Pos.Line-1] = addrMap{s.Addr: to}.apply(lines[s.Pos.Line-1])
	}
	return strings.Join(lines, "\n")
}

// interfaceNames lists the interfaces a config names, other than lo and
// eth0, in order.
func interfaceNames(cfgs []*conf.Config) []string {
	var out []string
	add := func(s string) {
		if s != "" && s != "lo" && s != "eth0" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, c := range cfgs {
		if c.Global.LVSSyncDaemon != nil {
			add(c.Global.LVSSyncDaemon.Interface)
		}
		for _, a := range c.StaticAddresses {
			add(a.Dev)
		}
		for _, r := range c.StaticRoutes {
			add(r.Dev)
		}
		for _, g := range c.SyncGroups {
			for _, t := range g.TrackInterfaces {
				add(t.Name)
			}
		}
		for _, in := range c.Instances {
			add(in.Interface)
			add(in.LVSSyncDaemonInterface)
			for _, v := range in.VIPs {
				add(v.Dev)
			}
			for _, r := range in.Routes {
				add(r.Dev)
			}
			for _, t := range in.TrackInterfaces {
				add(t.Name)
			}
		}
		for _, vs := range c.VirtualServers {
			for _, rs := range vs.RealServers {
				for _, ck := range rs.Checkers {
					add(ck.BindIf)
				}
			}
		}
	}
	return out
}

// renameInterfaces replaces each interface name, as a whole word, by eth0.
func renameInterfaces(text string, ifaces []string) string {
	for _, ifc := range ifaces {
		re := regexp.MustCompile(`(^|[\s{])` + regexp.QuoteMeta(ifc) + `($|[\s}])`)
		for range 2 { // adjacent matches share a separator
			text = re.ReplaceAllString(text, "${1}eth0${2}")
		}
	}
	return text
}

var (
	stateLine    = regexp.MustCompile(`^(\s*state\s+)(MASTER|BACKUP)\b`)
	priorityLine = regexp.MustCompile(`^(\s*priority\s+)([0-9]+)\b`)
)

// swapRoles gives the second director its version of a file written for
// the first: in each vrrp_instance, state MASTER becomes BACKUP with its
// priority lowered by 10, and BACKUP becomes MASTER with it raised by 10.
// A dual-master file (VI_1 MASTER 100, VI_2 BACKUP 90) thus becomes its
// mirror (VI_1 BACKUP 90, VI_2 MASTER 100), as the user's documents write
// the second node. An instance without a priority line gets one.
func swapRoles(text string, c *conf.Config) string {
	lines := strings.Split(text, "\n")
	type insert struct {
		after int
		line  string
	}
	var inserts []insert
	for _, in := range c.Instances {
		start := in.Pos.Line - 1
		if start < 0 || start >= len(lines) {
			continue
		}
		end := blockEnd(lines, start)
		master := in.State == "MASTER"
		prio := in.Priority
		if master {
			prio = max(1, prio-10)
		} else {
			prio = min(254, prio+10)
		}
		stateAt, hasPrio := -1, false
		for j := start; j <= end; j++ {
			if sm := stateLine.FindStringSubmatch(lines[j]); sm != nil {
				to := "MASTER"
				if sm[2] == "MASTER" {
					to = "BACKUP"
				}
				lines[j] = stateLine.ReplaceAllString(lines[j], "${1}"+to)
				stateAt = j
			}
			if priorityLine.MatchString(lines[j]) {
				lines[j] = priorityLine.ReplaceAllString(lines[j], "${1}"+strconv.Itoa(prio))
				hasPrio = true
			}
		}
		if !hasPrio {
			at := stateAt
			if at < 0 {
				at = start
			}
			inserts = append(inserts, insert{at, "    priority " + strconv.Itoa(prio) + "    # added by ulvslab for director2"})
		}
	}
	slices.SortFunc(inserts, func(a, b insert) int { return b.after - a.after })
	for _, ins := range inserts {
		lines = slices.Insert(lines, ins.after+1, ins.line)
	}
	return strings.Join(lines, "\n")
}

// blockEnd returns the line where the block opening on line start closes
// (braces counted outside comments), or the last line.
func blockEnd(lines []string, start int) int {
	depth, opened := 0, false
	for j := start; j < len(lines); j++ {
		l := lines[j]
		if i := strings.IndexAny(l, "#!"); i >= 0 {
			l = l[:i]
		}
		for _, r := range l {
			switch r {
			case '{':
				depth++
				opened = true
			case '}':
				depth--
			}
		}
		if opened && depth <= 0 {
			return j
		}
	}
	return len(lines) - 1
}
