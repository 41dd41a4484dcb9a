package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
)

// scenario is one way for the client's traffic to reach the real servers.
// Adding one is one function: set the director up, say where the client
// sends, and how to undo it.
type scenario struct {
	name string
	// setup prepares the director (and real servers) for this scenario.
	setup func(l *lab) (*target, error)
	// vm marks the scenarios that need the QEMU guest (-vm).
	vm bool
}

// target is where the loads go in a scenario.
type target struct {
	// src is the client's source address.
	src netip.Addr
	// http and iperf are the TCP destinations; udp the flood's, with the
	// next hop's MAC (the flood is raw frames). A zero udp means the
	// scenario cannot carry UDP.
	http, iperf, udp netip.AddrPort
	udpMAC           net.HardwareAddr
	// balancer is the process doing the work, when it is one process; 0
	// for the kernel's peers. lossFree asks for the loss-free rate search
	// on one core (the ulvs and nftables scenarios), with the balancer, if
	// any, pinned to it.
	balancer int
	lossFree bool
	teardown func() error
}

// scenarios are run in this order in every round; "direct" comes first and
// is the reference of every ratio.
var scenarios = []scenario{
	{name: "direct", setup: direct},
	{name: "nft DR", setup: nftDR},
	{name: "nft NAT", setup: nftNAT},
	{name: "HAProxy", setup: haproxy},
	{name: "nginx stream", setup: nginxStream},
	{name: "ulvs DR", setup: ulvsScenario("DR", "afpacket")},
	{name: "ulvs NAT", setup: ulvsScenario("NAT", "afpacket")},
	{name: "ulvs TUN", setup: ulvsScenario("TUN", "afpacket")},
	{name: "ulvs DR XDP", setup: ulvsScenario("DR", "xdp")},
	{name: "ulvs NAT XDP", setup: ulvsScenario("NAT", "xdp")},
	{name: "ulvs DR XDP fast", setup: ulvsVariant("DR", "xdp", fastVariant)},
	{name: "ulvs NAT XDP fast", setup: ulvsVariant("NAT", "xdp", fastVariant)},
	{name: "IPVS DR (VM)", setup: vmScenario("ipvs"), vm: true},
	{name: "ulvs DR (VM)", setup: vmScenario("ulvs"), vm: true},
	{name: "ulvs DR V2 (VM)", setup: vmScenario("ulvs-v2"), vm: true},
	{name: "ulvs DR XDP (VM)", setup: vmScenario("ulvs-xdp"), vm: true},
	{name: "ulvs DR XDP fast (VM)", setup: vmScenario("ulvs-xdp-fast"), vm: true},
}

func vipTarget(l *lab) *target {
	return &target{src: clientAddr, http: netip.AddrPortFrom(vip, httpPort), iperf: netip.AddrPortFrom(vip, iperfPort),
		udp: netip.AddrPortFrom(vip, udpPort), udpMAC: l.macs["dir"]}
}

// direct: the client talks to the first real server itself (the ceiling).
func direct(l *lab) (*target, error) {
	rs := realAddrs[0]
	return &target{src: directAddr, http: netip.AddrPortFrom(rs, httpPort), iperf: netip.AddrPortFrom(rs, iperfPort),
		udp: netip.AddrPortFrom(rs, udpPort), udpMAC: l.macs["rs1"], teardown: func() error { return nil }}, nil
}

// nftDR: the director's netdev ingress hook rewrites the MACs and sends
// the frame back out of the same port to a real server chosen by a hash of
// the source address and port (numgen would split one TCP connection).
func nftDR(l *lab) (*target, error) {
	dir := l.macs["dir"]
	m := func(i int) string { return l.macs[fmt.Sprintf("rs%d", i+1)].String() }
	var rules strings.Builder
	fmt.Fprintf(&rules, "table netdev lbbench_dr {\n  chain ingress {\n    type filter hook ingress device eth0 priority 0;\n")
	for _, p := range []struct {
		proto string
		port  int
		key   string
	}{{"tcp", httpPort, "ip saddr . tcp sport"}, {"udp", udpPort, "ip saddr . udp sport"},
		// iperf3's control and data connections must reach the same server.
		{"tcp", iperfPort, "ip saddr"}} {
		fmt.Fprintf(&rules, "    ip daddr %v %s dport %d ether saddr set %v ether daddr set jhash %s mod 2 map { 0 : %s, 1 : %s } fwd to eth0\n",
			vip, p.proto, p.port, dir, p.key, m(0), m(1))
	}
	rules.WriteString("  }\n}\n")
	if err := nft(l.director, rules.String()); err != nil {
		return nil, err
	}
	t := vipTarget(l)
	t.lossFree = true
	t.teardown = func() error { return nftDelete(l.director, "netdev", "lbbench_dr") }
	return t, nil
}

// nftNAT: dnat in prerouting, real servers in turn (numgen inc); replies
// come back through the director, whose conntrack un-NATs them.
func nftNAT(l *lab) (*target, error) {
	var rules strings.Builder
	fmt.Fprintf(&rules, "table ip lbbench_nat {\n  chain pre {\n    type nat hook prerouting priority dstnat;\n")
	for _, p := range []struct {
		proto string
		port  int
	}{{"tcp", httpPort}, {"udp", udpPort}} {
		fmt.Fprintf(&rules, "    ip daddr %v %s dport %d dnat to numgen inc mod 2 map { 0 : %v, 1 : %v }\n",
			vip, p.proto, p.port, realAddrs[0], realAddrs[1])
	}
	// iperf3's control and data connections must reach the same server.
	fmt.Fprintf(&rules, "    ip daddr %v tcp dport %d dnat to jhash ip saddr mod 2 map { 0 : %v, 1 : %v }\n",
		vip, iperfPort, realAddrs[0], realAddrs[1])
	rules.WriteString("  }\n}\n")
	if err := l.natRoutes(true); err != nil {
		return nil, err
	}
	if err := nft(l.director, rules.String()); err != nil {
		_ = l.natRoutes(false)
		return nil, err
	}
	t := vipTarget(l)
	t.lossFree = true
	t.teardown = func() error {
		err := nftDelete(l.director, "ip", "lbbench_nat")
		if e := l.natRoutes(false); err == nil {
			err = e
		}
		return err
	}
	return t, nil
}

// haproxy: HAProxy in tcp mode on the VIP (no UDP).
func haproxy(l *lab) (*target, error) {
	d := filepath.Join(l.dir, "haproxy")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`global
  maxconn 9000
  nbthread 2
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend web
  bind %[1]v:%[2]d
  default_backend web
backend web
  balance roundrobin
  server rs1 %[3]v:%[2]d
  server rs2 %[4]v:%[2]d
frontend perf
  bind %[1]v:%[5]d
  default_backend perf
backend perf
  balance source
  server rs1 %[3]v:%[5]d
  server rs2 %[4]v:%[5]d
`, vip, httpPort, realAddrs[0], realAddrs[1], iperfPort)
	p := filepath.Join(d, "haproxy.cfg")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	proc, err := l.director.Start(d, "haproxy", "-W", "-db", "-f", p)
	if err != nil {
		return nil, err
	}
	if err := l.director.WaitListening("tcp", fmt.Sprint(httpPort), 5*time.Second); err != nil {
		_ = proc.Stop(time.Second)
		return nil, fmt.Errorf("%w\n%s", err, proc.Log())
	}
	t := vipTarget(l)
	t.udp = netip.AddrPort{}
	t.balancer = proc.Pid()
	t.teardown = func() error { return stop(proc) }
	return t, nil
}

// nginxStream: nginx's stream module on the VIP, TCP and UDP.
func nginxStream(l *lab) (*target, error) {
	d := filepath.Join(l.dir, "nginx-stream")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`load_module /usr/lib/nginx/modules/ngx_stream_module.so;
daemon off;
user root root;
worker_processes 2;
pid %[6]s/nginx.pid;
error_log %[6]s/error.log warn;
events { worker_connections 9000; }
stream {
  upstream web { server %[3]v:%[2]d; server %[4]v:%[2]d; }
  upstream perf { hash $remote_addr; server %[3]v:%[5]d; server %[4]v:%[5]d; }
  upstream sink { server %[3]v:%[7]d; server %[4]v:%[7]d; }
  server { listen %[1]v:%[2]d reuseport; proxy_pass web; }
  server { listen %[1]v:%[5]d; proxy_pass perf; }
  server { listen %[1]v:%[7]d udp reuseport; proxy_pass sink; proxy_responses 0; proxy_timeout 1s; }
}
`, vip, httpPort, realAddrs[0], realAddrs[1], iperfPort, d, udpPort)
	p := filepath.Join(d, "nginx.conf")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	proc, err := l.director.Start(d, "nginx", "-c", p, "-p", d)
	if err != nil {
		return nil, err
	}
	if err := l.director.WaitListening("tcp", fmt.Sprint(httpPort), 5*time.Second); err != nil {
		_ = proc.Stop(time.Second)
		return nil, fmt.Errorf("%w\n%s", err, proc.Log())
	}
	t := vipTarget(l)
	t.balancer = proc.Pid()
	t.teardown = func() error { return stop(proc) }
	return t, nil
}

// natRoutes sends the real servers' replies to the client's balancer
// address through the director (NAT), or stops doing so.
func (l *lab) natRoutes(on bool) error {
	verb := "add"
	if !on {
		verb = "del"
	}
	for _, n := range l.reals {
		if err := n.IP("route", verb, netip.PrefixFrom(clientAddr, 32).String(), "via", directorAddr.String()); err != nil {
			return err
		}
	}
	return nil
}

func nftDelete(n *topo.Node, family, table string) error {
	return nft(n, fmt.Sprintf("delete table %s %s\n", family, table))
}

func stop(p *topo.Proc) error {
	if err := p.Stop(5 * time.Second); err != nil && !strings.Contains(err.Error(), "signal") {
		return err
	}
	return nil
}

// fastVariant runs ulvsd with the XDP fast path.
var fastVariant = variant{label: "fast", args: []string{"--xdp-fastpath"}}
