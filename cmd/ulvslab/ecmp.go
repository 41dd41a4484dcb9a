package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/sched"
)

// The ECMP lab (`up --ecmp --directors N`): a router running Debian's BIRD
// 2 in front of N directors that announce the VIP over BGP; the router puts
// one multipath route into its kernel (merge paths) and hashes flows on
// their L4 ports (fib_multipath_hash_policy=1). The client sits behind the
// router on 198.18.2.0/24 with many addresses (distinct clients); the real
// servers answer by DR and route back through the router.

const (
	roleRouter = "router"
	procBird   = "bird"
	// maxECMPDirectors bounds --directors with --ecmp.
	maxECMPDirectors = 8
	// ecmpClients is how many client addresses the client holds.
	ecmpClients = 200
)

var clientNet = netip.MustParsePrefix("198.18.2.0/24")

// routerAddr is the router's address on the directors' side (where the
// client sits in the other labs).
func routerAddr() netip.Addr { return host(frontNet, 1) }

// clientAddr is the i-th extra client address (0-based): 198.18.2.10...
func clientAddr(i int) netip.Addr { return host(clientNet, 10+i) }

// ecmpNodes is the ECMP lab's layout.
func ecmpNodes(l layout) []*nodeState {
	out := []*nodeState{
		{Name: "router", Role: roleRouter, Addrs: []netip.Prefix{hostPrefix(frontNet, 1), hostPrefix(clientNet, 1)}},
		{Name: "client", Role: roleClient, Addrs: []netip.Prefix{hostPrefix(clientNet, 2)}, Gateway: host(clientNet, 1)},
	}
	for i := 1; i <= l.Directors; i++ {
		out = append(out, &nodeState{Name: fmt.Sprintf("director%d", i), Role: roleDirector,
			Addrs: []netip.Prefix{netip.PrefixFrom(directorAddr(i), 24)}})
	}
	for i := 1; i <= l.Reals; i++ {
		out = append(out, &nodeState{Name: fmt.Sprintf("rs%d", i), Role: roleReal,
			Addrs: []netip.Prefix{netip.PrefixFrom(realAddr(modeDR, i), 24)}, Gateway: routerAddr(), LoVIPs: l.VIPs})
	}
	return out
}

// ecmpKeepalived is every director's keepalived.conf: no VRRP (all are
// active), mh over the real servers (ulvsd gives it the mh-ecmp table).
func ecmpKeepalived(l layout, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `! ulvslab's ECMP lab: director%d of %d, all active behind the router.
! Written by `+"`ulvslab up --ecmp`"+`; the BGP file beside it announces the VIP.

virtual_server %s 80 {
    delay_loop 1
    lb_algo mh                  # every director picks the same real server (mh-ecmp table)
    lb_kind DR
    protocol TCP
`, i, l.Directors, vipAddr(0))
	for r := 1; r <= l.Reals; r++ {
		fmt.Fprintf(&b, "    real_server %s 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n", realAddr(modeDR, r))
	}
	b.WriteString("}\n")
	return b.String()
}

// ecmpBGPFile is director i's BGP file.
func ecmpBGPFile(i int) string {
	return fmt.Sprintf(`! ulvslab's ECMP lab: director%d announces the VIP to the router.
bgp {
    router_id %s
    local_as 65001
    shutdown_grace 2            # after SIGTERM: withdrawn, then 2 s more forwarding
}
neighbor %s {
    remote_as 65000
    hold_time 9                 # generous: BFD finds a cut link first
    bfd                         # 300 ms x 3: a cut link is found in under a second
}
prefix %s/32 {
    quorum 1                    # announced while at least one real server is alive
}
`, i, directorAddr(i), routerAddr(), vipAddr(0))
}

// birdConfig is the router's BIRD 2 configuration.
func birdConfig(directors int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# ulvslab's ECMP router: BGP with every director, their routes merged into one
# multipath route in the kernel; BFD finds a cut link in 300 ms x 3.
router id %s;
log stderr all;
protocol device { scan time 10; }
protocol kernel {
    ipv4 { export all; import none; };
    merge paths on;             # ECMP: one route, a next hop per director
}
protocol bfd {
    interface "eth0" { min rx interval 300 ms; min tx interval 300 ms; multiplier 3; };
}
template bgp directors {
    local %s as 65000;
    ipv4 { import all; export none; };
    hold time 9;
    keepalive time 3;
    connect retry time 1;
    error wait time 1, 5;
    direct;
    bfd on;
}
`, routerAddr(), routerAddr())
	for i := 1; i <= directors; i++ {
		fmt.Fprintf(&b, "protocol bgp director%d from directors { neighbor %s as 65001; }\n", i, directorAddr(i))
	}
	return b.String()
}

// ecmpNodeConfig adds the router's and client's settings.
func ecmpNodeConfig(n *nodeState, c topo.NodeConfig) topo.NodeConfig {
	switch n.Role {
	case roleRouter:
		c.Sysctls = map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.fib_multipath_hash_policy": "1",
			// The router routes between two subnets on one link: no
			// redirects, or the client would be told to skip it.
			"net.ipv4.conf.all.send_redirects": "0", "net.ipv4.conf.eth0.send_redirects": "0",
			"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.eth0.rp_filter": "0"}
	case roleClient:
		c.Sysctls = map[string]string{"net.ipv4.conf.all.accept_redirects": "0", "net.ipv4.conf.eth0.accept_redirects": "0"}
	}
	return c
}

// setupECMP writes the BGP files, adds the client's addresses and starts
// BIRD on the router.
func (l *lab) setupECMP() error {
	var batch strings.Builder
	for i := range ecmpClients {
		fmt.Fprintf(&batch, "addr add %s/24 dev eth0\n", clientAddr(i))
	}
	bf := filepath.Join(l.st.Dir, "client-addrs.batch")
	if err := os.WriteFile(bf, []byte(batch.String()), 0o644); err != nil {
		return fmt.Errorf("ulvslab: %w", err)
	}
	if err := l.nodes["client"].IP("-batch", bf); err != nil {
		return err
	}
	r := l.st.node("router")
	r.Config = filepath.Join(l.st.Dir, "bird.conf")
	r.Socket = filepath.Join(l.st.Dir, "bird.ctl")
	if err := os.WriteFile(r.Config, []byte(birdConfig(l.st.Directors)), 0o644); err != nil {
		return fmt.Errorf("ulvslab: %w", err)
	}
	return l.startBird(r)
}

func (l *lab) startBird(r *nodeState) error {
	bird, err := lookBird()
	if err != nil {
		return err
	}
	return l.spawn(r, procBird, []string{bird, "-f", "-c", r.Config, "-s", r.Socket, "-P", filepath.Join(l.st.Dir, "bird.pid")})
}

// lookBird finds BIRD 2.
func lookBird() (string, error) {
	for _, p := range []string{"bird", "/usr/sbin/bird"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("ulvslab: BIRD is not installed (apt-get install bird2; make deps does it)")
}

var viaRE = regexp.MustCompile(`via (\S+)`)

// nextHops is the router's FIB next hops for the VIP, sorted.
func (l *lab) nextHops() []netip.Addr {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := l.nodes["router"].Output(ctx, "ip", "route", "show", vipAddr(0).String())
	var hops []netip.Addr
	for _, m := range viaRE.FindAllStringSubmatch(out, -1) {
		if a, err := netip.ParseAddr(m[1]); err == nil {
			hops = append(hops, a)
		}
	}
	slices.SortFunc(hops, netip.Addr.Compare)
	return hops
}

// announcing lists the directors that should be in the router's route:
// ulvsd running, link up.
func (l *lab) announcing() []netip.Addr {
	var out []netip.Addr
	for _, d := range l.st.byRole(roleDirector) {
		if len(d.Failed) == 0 {
			out = append(out, d.addr4())
		}
	}
	return out
}

// waitHops waits until the router routes the VIP through exactly want.
func (l *lab) waitHops(want []netip.Addr, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	err := waitFor(timeout, fmt.Sprintf("the router to route %s through %v", vipAddr(0), want), func() (bool, error) {
		return slices.Equal(l.nextHops(), want), nil
	})
	return time.Since(start), err
}

// slotOf rebuilds a director's mh table from its real servers (as
// ulvsadm -Ln shows them) and explains the flow's choice: the table is the
// same on every director, so this is what each of them computes.
func slotOf(svc *ctl.Service, f *sched.Flow) (sched.SlotInfo, error) {
	s, err := sched.New(sched.Config{Scheduler: svc.Sched, Flags: sched.FlagECMP | svc.Flags&(sched.FlagSched1|sched.FlagSched2)})
	if err != nil {
		return sched.SlotInfo{}, err
	}
	for _, d := range svc.Dests {
		if _, err := s.AddDest(sched.DestConfig{Addr: d.Addr, Port: d.Port, Weight: int32(d.Weight)}); err != nil {
			return sched.SlotInfo{}, err
		}
	}
	info, ok := s.Slot(f)
	if !ok {
		return info, fmt.Errorf("ulvslab: %s schedules with %s, not mh", svc.Addr, svc.Sched)
	}
	return info, nil
}

// traceECMP follows one flow: the router's ECMP hash picks a director (seen
// in that director's connection table: Linux hashes a forwarded packet's L4
// header, or reuses the L4 hash the sender's socket put on it, which a
// route lookup from the command line cannot know), the director's mh-ecmp
// slot picks a real server, and every other director computes the same slot
// from its own table.
func (l *lab) traceECMP(t netip.AddrPort, path string, clientIdx int) error {
	out := l.out
	src := clientAddr(clientIdx % ecmpClients)
	sport := uint16(40000 + clientIdx%20000)
	out.step("one flow, hop by hop: %s:%d → %s", src, sport, t)
	out.line("1. router: %s is one multipath route, a next hop per announcing director; the flow's L4 hash picks one", t.Addr())
	out.cmd("ip netns exec %s ip route show %s", l.nodes["router"].NS, t.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	fib, _ := l.nodes["router"].Output(ctx, "ip", "route", "show", t.Addr().String())
	cancel()
	out.block(fib)
	body, err := getFrom(l.st.node("client").NS, src, int(sport), t, path, 3*time.Second)
	if err != nil {
		return err
	}
	var dn *nodeState
	var holders []string
	views := map[string]*ctl.Service{}
	for _, d := range l.st.byRole(roleDirector) {
		if len(d.Failed) > 0 {
			continue
		}
		cr, err := ctlCall(d.Socket, ctl.OpConns)
		if err != nil {
			return fmt.Errorf("ulvslab: %s: %w", d.Name, err)
		}
		for _, c := range cr.Conns {
			if c.Source == netip.AddrPortFrom(src, sport) {
				holders = append(holders, d.Name)
				dn = d
				out.line("   → %s: its table holds %s %s %s → %s", d.Name, c.Proto, c.Source, c.State, c.Dest)
			}
		}
		resp, err := ctlCall(d.Socket, ctl.OpIPVS)
		if err != nil {
			return fmt.Errorf("ulvslab: %s: %w", d.Name, err)
		}
		for i := range resp.IPVS.Services {
			if sv := &resp.IPVS.Services[i]; sv.Addr == t.Addr() && sv.Port == t.Port() {
				views[d.Name] = sv
			}
		}
	}
	if len(holders) != 1 {
		return fmt.Errorf("ulvslab: the connection from %s:%d is in the tables of %v, want exactly one director", src, sport, holders)
	}
	svc := views[dn.Name]
	if svc == nil {
		return fmt.Errorf("ulvslab: %s has no service %s", dn.Name, t)
	}
	f := &sched.Flow{Src: src, Dst: t.Addr(), SrcPort: sport, DstPort: t.Port(), Proto: sched.ProtoTCP}
	info, err := slotOf(svc, f)
	if err != nil {
		return err
	}
	owner, chosen := "-", "-"
	if info.Owner != nil {
		owner = info.Owner.String()
	}
	if info.Chosen != nil {
		chosen = info.Chosen.String()
	}
	out.line("2. %s: mh-ecmp table of %d slots over %d real servers in address order; the source address hashes to slot %d",
		dn.Name, sched.MHTableSize, len(svc.Dests), info.Slot)
	out.line("   slot %d belongs to %s → %s", info.Slot, owner, chosen)
	for name, v := range views {
		if name == dn.Name {
			continue
		}
		oi, err := slotOf(v, f)
		if err != nil {
			return err
		}
		if oi.Chosen == nil || info.Chosen == nil || oi.Chosen.Addr != info.Chosen.Addr || oi.Slot != info.Slot {
			return fmt.Errorf("ulvslab: %s's table would send the flow elsewhere (slot %d)", name, oi.Slot)
		}
		out.line("   %s's table: the same slot %d → %s (had the router picked it)", name, oi.Slot, chosen)
	}
	out.line("3. the connection from %s:%d was answered by %s", src, sport, body)
	var rs *nodeState
	for _, n := range l.st.byRole(roleReal) {
		if info.Chosen != nil && n.addr4() == info.Chosen.Addr {
			rs = n
		}
	}
	if rs == nil || rs.Name != body {
		return fmt.Errorf("ulvslab: the slot says %s, but %s answered", chosen, body)
	}
	out.line("   ✓ router hash → %s → slot %d → %s", dn.Name, info.Slot, rs.Name)
	return nil
}

// getFrom is get from a chosen client address and port.
func getFrom(ns string, src netip.Addr, port int, target netip.AddrPort, path string, timeout time.Duration) (string, error) {
	return getWith(ns, &net.TCPAddr{IP: src.AsSlice(), Port: port}, target, path, timeout)
}

// ecmpSpread sends n requests from n distinct client addresses and counts
// them per real server and per director (the directors' connection
// counters before and after).
func (l *lab) ecmpSpread(t netip.AddrPort, path string, n int) (*tally, map[string]int) {
	before := l.directorConns(t)
	client := l.st.node("client")
	r := &tally{url: "http://" + t.String() + path, n: n, by: map[string]int{}}
	start := time.Now()
	for i := range n {
		body, err := getFrom(client.NS, clientAddr(i%ecmpClients), 0, t, path, 2*time.Second)
		if err != nil {
			r.failed++
			if r.firstErr == nil {
				r.firstErr = err
			}
			continue
		}
		r.by[body]++
	}
	r.took = time.Since(start)
	after := l.directorConns(t)
	per := map[string]int{}
	for k, v := range after {
		per[k] = v - before[k]
	}
	return r, per
}

// directorConns is each running director's connection count for t.
func (l *lab) directorConns(t netip.AddrPort) map[string]int {
	out := map[string]int{}
	for _, d := range l.st.byRole(roleDirector) {
		if len(d.Failed) > 0 {
			continue
		}
		resp, err := ctlCall(d.Socket, ctl.OpIPVS)
		if err != nil || resp.IPVS == nil {
			continue
		}
		for _, s := range resp.IPVS.Services {
			if s.Addr == t.Addr() && s.Port == t.Port() {
				out[d.Name] = int(s.Stats.Conns)
			}
		}
	}
	return out
}

func printPerDirector(out *printer, per map[string]int, n int) {
	var names []string
	for k := range per {
		names = append(names, k)
	}
	sort.Strings(names)
	out.line("per director (the router's ECMP choice):")
	for _, k := range names {
		out.line("    %-10s %4d  %s", k, per[k], strings.Repeat("█", per[k]*40/max(n, 1)))
	}
}
