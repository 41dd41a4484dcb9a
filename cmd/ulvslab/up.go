package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/topo"
)

// upOptions are `ulvslab up`'s settings.
type upOptions struct {
	mode      string
	directors int
	servers   int
	configs   []string
	http      string // auto, nginx or builtin
	ecmp      bool
	// ulvsdArgs and paced are chaos's: see state.UlvsdArgs, state.Paced.
	ulvsdArgs []string
	paced     bool
}

func runUp(g *globals, args []string, out *printer) error {
	o := upOptions{}
	fs := flags("up")
	fs.StringVar(&o.mode, "mode", "dr", "forwarding mode: dr, nat or tun")
	fs.IntVar(&o.directors, "directors", 2, "directors running ulvsd: 1, or 2 in VRRP")
	fs.IntVar(&o.servers, "servers", 3, "real servers (1-9) for the default config")
	fs.StringArrayVar(&o.configs, "config", nil, "your keepalived.conf, mapped onto the lab (twice: director1's, then director2's)")
	fs.StringVar(&o.http, "http", "auto", "real servers' HTTP server: auto (nginx if installed), nginx or builtin")
	fs.BoolVar(&o.ecmp, "ecmp", false, "N active directors behind a BIRD router with ECMP, the VIP announced over BGP (docs/ecmp.md)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if o.ecmp && len(o.configs) > 0 {
		return usagef("--ecmp builds its own configuration; it does not take --config")
	}
	if o.ecmp && !fs.Changed("directors") {
		o.directors = 3
	}
	if len(o.configs) > 0 && fs.Changed("servers") {
		return usagef("--servers applies to the default config; with --config the lab has the real servers your file names")
	}
	switch o.http {
	case "auto", "nginx", "builtin":
	default:
		return usagef("--http must be auto, nginx or builtin")
	}
	mode, err := parseMode(o.mode)
	if err != nil {
		return usageError{err}
	}
	if err := needRoot(); err != nil {
		return err
	}
	_, err = up(g, o, mode, fs.Changed("mode"), out)
	return err
}

// up builds the lab. On any failure it removes what it made.
func up(g *globals, o upOptions, mode string, modeGiven bool, out *printer) (_ *lab, err error) {
	dir := labDir(g.stateDir, g.prefix)
	if _, err := os.Stat(statePath(dir)); err == nil {
		return nil, fmt.Errorf("ulvslab: a lab with prefix %q is already up: `ulvslab down` first", g.prefix)
	}
	if left, _ := topo.Namespaces(g.prefix); len(left) > 0 {
		return nil, fmt.Errorf("ulvslab: namespaces %s are left from an earlier lab: `ulvslab down` removes them", strings.Join(left, " "))
	}
	st := &state{Prefix: g.prefix, Dir: dir, Created: time.Now().UTC().Truncate(time.Second), Directors: o.directors,
		UlvsdArgs: o.ulvsdArgs, Paced: o.paced}
	if err := findBins(st); err != nil {
		return nil, err
	}
	if o.http == "nginx" {
		if _, err := lookNginx(); err != nil {
			return nil, err
		}
	}

	var l layout
	var configs []string
	var realPorts [][]uint16
	var sorryPorts, directorPorts []uint16
	var paths []string
	if len(o.configs) > 0 {
		var files []userConfig
		for _, f := range o.configs {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("ulvslab: %w", err)
			}
			files = append(files, userConfig{Name: f, Text: string(b)})
		}
		m, err := mapConfigs(files, o.directors)
		if err != nil {
			return nil, err
		}
		if modeGiven && m.Layout.Mode != mode {
			return nil, usagef("--mode %s, but the config's lb_kind is %s (the lab follows the file)", mode, m.Layout.Mode)
		}
		l, configs, realPorts, sorryPorts, directorPorts, paths = m.Layout, m.Configs, m.RealPorts, m.SorryPorts, m.DirectorPorts, m.Paths
		st.Source, st.Mapping, st.Targets, st.Instances = strings.Join(o.configs, ", "), m.Notes, m.Targets, m.Instances
	} else {
		l = layout{Mode: mode, Directors: o.directors, Reals: o.servers, VIPs: []netip.Addr{vipAddr(0)}, ECMP: o.ecmp}
		if mode == modeNAT {
			l.Gateway = natGateway()
		}
		if err := l.validate(); err != nil {
			return nil, err
		}
		for i := 1; i <= l.Directors; i++ {
			if l.ECMP {
				configs = append(configs, ecmpKeepalived(l, i))
				continue
			}
			c, err := defaultConfig(l, i)
			if err != nil {
				return nil, err
			}
			configs = append(configs, c)
		}
		for range l.Reals {
			realPorts = append(realPorts, []uint16{80})
		}
		st.Source = "the embedded default keepalived.conf"
		st.Targets = []netip.AddrPort{netip.AddrPortFrom(vipAddr(0), 80)}
		st.Instances = []string{"VI_1"}
		if l.ECMP {
			st.Source, st.Instances, st.ECMP = "ulvslab's ECMP keepalived.conf and BGP files", nil, true
		}
	}
	st.Mode = l.Mode
	st.Nodes = l.nodes()
	ri := 0
	for _, n := range st.Nodes {
		n.Procs = map[string]*procState{}
		switch n.Role {
		case roleReal:
			n.HTTPPorts, n.HTTPPaths = realPorts[ri], paths
			ri++
		case roleSorry:
			n.HTTPPorts, n.HTTPPaths = sorryPorts, paths
		case roleDirector:
			n.HTTPPorts = directorPorts
		}
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ulvslab: %w", err)
	}
	// The state is written before anything runs, so that `down` finds a
	// half-built lab after a crash (it also cleans up by prefix).
	if err := st.save(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			out.line("up failed; removing what was made")
			if derr := teardown(st, out); derr != nil {
				err = fmt.Errorf("%w\n%w", err, derr)
			}
		}
	}()

	out.step("building the %s lab %q: %d director(s), %d real server(s)", modeName(l.Mode), g.prefix, l.Directors, l.Reals)
	tp, err := topo.New(g.prefix)
	if err != nil {
		return nil, err
	}
	tp.Log = out.debug
	lb := &lab{st: st, tp: tp, nodes: map[string]*topo.Node{}, out: out}
	for _, n := range st.Nodes {
		nc := nodeConfig(l.Mode, n)
		if l.ECMP {
			nc = ecmpNodeConfig(n, nc)
		}
		tn, err := tp.AddNode(n.Name, nc)
		if err != nil {
			return nil, err
		}
		lb.nodes[n.Name] = tn
		n.NS, n.Port = tn.NS, tn.Port
		mac, err := tn.MAC("eth0")
		if err != nil {
			return nil, err
		}
		n.MAC = mac.String()
		for _, v := range n.LoVIPs {
			if err := tn.IP("addr", "add", v.String()+"/32", "dev", "lo"); err != nil {
				return nil, err
			}
		}
		if err := st.save(); err != nil {
			return nil, err
		}
	}
	builtin := o.http == "builtin"
	if o.http == "auto" {
		if _, err := lookNginx(); err != nil {
			builtin = true
			out.line("nginx is not installed: the real servers run ulvslab's built-in HTTP server")
		}
	}
	for _, n := range st.Nodes {
		if len(n.HTTPPorts) > 0 {
			if err := lb.startHTTP(n, builtin); err != nil {
				return nil, err
			}
		}
		if l.Mode == modeTUN && (n.Role == roleReal || n.Role == roleSorry) {
			if err := lb.startDecap(n); err != nil {
				return nil, err
			}
		}
		if err := st.save(); err != nil {
			return nil, err
		}
	}
	if l.ECMP {
		out.line("starting BIRD on the router (ECMP, BFD) and adding %d client addresses", ecmpClients)
		if err := lb.setupECMP(); err != nil {
			return nil, err
		}
	}
	for i, n := range st.byRole(roleDirector) {
		n.Config = filepath.Join(dir, n.Name+".conf")
		n.Socket = filepath.Join(dir, n.Name+".sock")
		if err := os.WriteFile(n.Config, []byte(configs[i]), 0o644); err != nil {
			return nil, fmt.Errorf("ulvslab: %w", err)
		}
		if l.ECMP {
			n.BGP = filepath.Join(dir, n.Name+"-bgp.conf")
			if err := os.WriteFile(n.BGP, []byte(ecmpBGPFile(i+1)), 0o644); err != nil {
				return nil, fmt.Errorf("ulvslab: %w", err)
			}
		}
		if err := lb.startUlvsd(n); err != nil {
			return nil, err
		}
		if err := st.save(); err != nil {
			return nil, err
		}
	}
	if l.ECMP {
		out.line("waiting for every director's announcement in the router's FIB and for the VIP to answer")
	} else {
		out.line("waiting for a VRRP master and for the VIP to answer")
	}
	if err := lb.waitReady(30 * time.Second); err != nil {
		return nil, err
	}
	lb.summary()
	return lb, nil
}

// nodeConfig is how a node is made: real servers of DR and TUN answer
// ARP only for addresses on eth0 (the VIP on lo stays the director's), and
// TUN real servers accept packets arriving through the tunnel device.
func nodeConfig(mode string, n *nodeState) topo.NodeConfig {
	c := topo.NodeConfig{Addrs: n.Addrs, Gateway: n.Gateway}
	if (n.Role == roleReal || n.Role == roleSorry) && mode != modeNAT && mode != modeVRRP {
		c.Sysctls = map[string]string{
			"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2",
			"net.ipv4.conf.eth0.arp_ignore": "1", "net.ipv4.conf.eth0.arp_announce": "2",
		}
		if mode == modeTUN {
			c.Sysctls["net.ipv4.conf.all.rp_filter"] = "0"
			c.Sysctls["net.ipv4.conf.eth0.rp_filter"] = "0"
		}
	}
	return c
}

func modeName(mode string) string {
	if mode == modeVRRP {
		return "VRRP-only"
	}
	return mode
}

// waitReady waits until every VRRP instance has a master among the
// running directors and every target answers the client.
func (l *lab) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if l.st.ECMP {
		if _, err := l.waitHops(l.announcing(), timeout); err != nil {
			return fmt.Errorf("%w (the router routes through %v)", err, l.nextHops())
		}
	}
	err := waitFor(timeout, "a VRRP master for every instance", func() (bool, error) {
		for _, in := range l.st.Instances {
			if l.master(in) == nil {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, strings.TrimRight(l.vrrpSummary(), "\n"))
	}
	client := l.st.node("client")
	for _, t := range l.st.Targets {
		var last error
		err := waitFor(time.Until(deadline)+5*time.Second, "http://"+t.String()+"/ to answer", func() (bool, error) {
			_, last = get(client.NS, t, "/", 0, 2*time.Second)
			return last == nil, nil
		})
		if err != nil {
			return fmt.Errorf("%w (last: %v)", err, last)
		}
	}
	return nil
}

// master returns the director whose ulvsd reports the instance MASTER.
func (l *lab) master(instance string) *nodeState {
	for _, d := range l.st.byRole(roleDirector) {
		if d.failed("node") {
			continue
		}
		resp, err := ctlCall(d.Socket, ctl.OpVRRP)
		if err != nil {
			continue
		}
		for _, in := range resp.VRRP {
			if in.Name == instance && in.State == "MASTER" {
				return d
			}
		}
	}
	return nil
}

// vrrpSummary is one line per director and instance.
func (l *lab) vrrpSummary() string {
	var b strings.Builder
	for _, d := range l.st.byRole(roleDirector) {
		if d.failed("node") {
			fmt.Fprintf(&b, "%s: down (`ulvslab fail %s`; `ulvslab heal` brings it back)\n", d.Name, d.Name)
			continue
		}
		resp, err := ctlCall(d.Socket, ctl.OpVRRP)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", d.Name, err)
			continue
		}
		for _, in := range resp.VRRP {
			fmt.Fprintf(&b, "%s: %s %s (priority %d)\n", d.Name, in.Name, in.State, in.EffectivePriority)
		}
	}
	return b.String()
}

// summary tells what was built and what to try next.
func (l *lab) summary() {
	out := l.out
	out.line("")
	out.line("lab %q is up: %s mode, configuration from %s", l.st.Prefix, modeName(l.st.Mode), l.st.Source)
	for _, m := range l.st.Mapping {
		out.line("    mapped: %s", m)
	}
	out.line("")
	l.nodesTable()
	out.line("")
	if l.st.ECMP {
		out.line("next: ulvslab curl 30 | ulvslab status | ulvslab trace | ulvslab fail director2 --term|--kill|--link | ulvslab heal | ulvslab down")
	} else {
		out.line("next: ulvslab curl 30 | ulvslab status | ulvslab fail rs1 | ulvslab fail director1 | ulvslab heal | ulvslab trace | ulvslab down")
	}
	out.line("      or by hand: ip netns exec %sclient curl http://%s/", l.st.Prefix, l.st.Targets[0])
}

// nodesTable prints every node with its addresses and role.
func (l *lab) nodesTable() {
	for _, n := range l.st.Nodes {
		var addrs []string
		for _, a := range n.Addrs {
			addrs = append(addrs, a.String())
		}
		what := n.Role
		switch {
		case n.Role == roleDirector && n.BGP != "":
			what = "director: ulvsd, " + filepath.Base(n.Config) + " --bgp " + filepath.Base(n.BGP)
		case n.Role == roleRouter:
			what = "router: BIRD 2, ECMP over the directors, " + filepath.Base(n.Config)
		case n.Role == roleDirector:
			what = "director: ulvsd, " + filepath.Base(n.Config)
		case len(n.LoVIPs) > 0:
			what += fmt.Sprintf(", VIP on lo, HTTP %v", n.HTTPPorts)
		case n.Gateway.IsValid():
			what += fmt.Sprintf(", default via %s, HTTP %v", n.Gateway, n.HTTPPorts)
		}
		if n.Procs[procDecap] != nil {
			what += ", IPIP decapsulator"
		}
		if len(n.Failed) > 0 {
			what += "  [FAILED: " + strings.Join(n.Failed, ",") + "]"
		}
		l.out.line("  %-10s %-20s %-30s %s", n.Name, n.NS, strings.Join(addrs, " "), what)
	}
}

// lookNginx finds nginx on PATH or where Debian puts it.
func lookNginx() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", fmt.Errorf("ulvslab: nginx is not installed (apt-get install nginx, or --http builtin)")
}
