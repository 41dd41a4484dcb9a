package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/vm"
)

// The bench topology: one bridge, a client, a director and two real
// servers, addressed from 198.18.0.0/15.
var (
	clientAddr = netip.MustParseAddr("198.18.0.1")
	// directAddr is the client's second address, the source of the direct
	// runs: a real server must never see one 4-tuple both directly and
	// through a NAT balancer (TIME_WAIT and PAWS would drop connections).
	directAddr   = netip.MustParseAddr("198.18.0.3")
	directorAddr = netip.MustParseAddr("198.18.0.2")
	vip          = netip.MustParseAddr("198.18.0.100")
	realAddrs    = []netip.Addr{netip.MustParseAddr("198.18.0.11"), netip.MustParseAddr("198.18.0.12")}
)

// Ports every real server serves.
const (
	httpPort  = 80
	iperfPort = 5201
	udpPort   = 9 // discard: counted and dropped in the real server's prerouting
)

// lab is the running topology.
// wireChecksums is -wire-checksums: the client's and real servers' TX
// checksum offload off.
var wireChecksums bool

type lab struct {
	tp       *topo.Topology
	dir      string
	client   *topo.Node
	director *topo.Node
	reals    []*topo.Node
	macs     map[string]net.HardwareAddr // node name → eth0 MAC
	log      func(format string, args ...any)
	// self is this program, run in the namespaces for its subcommands;
	// ulvsd is the daemon of the ulvs scenarios.
	self, ulvsd string
	// vm is the QEMU guest of the VM scenarios (nil without -vm).
	vm *vm.Machine
}

func newLab(prefix, dir string, log func(string, ...any)) (*lab, error) {
	tp, err := topo.New(prefix)
	if err != nil {
		return nil, err
	}
	l := &lab{tp: tp, dir: dir, macs: map[string]net.HardwareAddr{}, log: log}
	ok := false
	defer func() {
		if !ok {
			_ = tp.Close()
		}
	}()
	// Wide port ranges and fast TIME_WAIT reuse: Connection: close at tens
	// of thousands of connections per second.
	tcp := map[string]string{"net.ipv4.ip_local_port_range": "1024 65535", "net.ipv4.tcp_tw_reuse": "1",
		"net.core.somaxconn": "4096", "net.ipv4.tcp_max_syn_backlog": "4096"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range tcp {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	if l.client, err = tp.AddNode("client", topo.NodeConfig{
		Addrs:   []netip.Prefix{netip.PrefixFrom(clientAddr, 24), netip.PrefixFrom(directAddr, 24)},
		Sysctls: with(nil)}); err != nil {
		return nil, err
	}
	if l.director, err = tp.AddNode("dir", topo.NodeConfig{
		Addrs:   []netip.Prefix{netip.PrefixFrom(directorAddr, 24), netip.PrefixFrom(vip, 32)},
		Sysctls: with(map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.send_redirects": "0", "net.ipv4.conf.eth0.send_redirects": "0"})}); err != nil {
		return nil, err
	}
	for i, a := range realAddrs {
		n, err := tp.AddNode(fmt.Sprintf("rs%d", i+1), topo.NodeConfig{Addrs: []netip.Prefix{netip.PrefixFrom(a, 24)},
			// DR and TUN: the VIP on lo, neither answered nor announced.
			Sysctls: with(map[string]string{"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2"})})
		if err != nil {
			return nil, err
		}
		l.reals = append(l.reals, n)
	}
	// Direct runs leave from the client's second address.
	for _, a := range realAddrs {
		if err := l.client.IP("route", "add", netip.PrefixFrom(a, 32).String(), "dev", "eth0", "src", directAddr.String()); err != nil {
			return nil, err
		}
	}
	for _, n := range append([]*topo.Node{l.client, l.director}, l.reals...) {
		mac, err := n.MAC("eth0")
		if err != nil {
			return nil, err
		}
		l.macs[n.Name] = mac
		// No offloads: every balancer sees the same packets (and a
		// userspace one on AF_PACKET would otherwise get GRO frames).
		off := []string{"-K", "eth0", "gro", "off", "gso", "off", "tso", "off"}
		if wireChecksums && n != l.director {
			off = append(off, "tx", "off")
		}
		if _, err := n.Output(context.Background(), "ethtool", off...); err != nil {
			l.log("ethtool on %s: %v", n.Name, err)
		}
	}
	// The director's veth gets one receive queue per CPU, as a NIC would
	// (and its switch port as many transmit queues, which spread flows
	// over them): what runs in the kernel does not care, and AF_XDP needs
	// a socket and a worker per queue.
	q := strconv.Itoa(numCPU())
	if _, err := l.director.Output(context.Background(), "ethtool", "-L", "eth0", "rx", q, "tx", q); err != nil {
		l.log("ethtool -L on the director: %v (AF_XDP gets one queue)", err)
	} else if out, err := exec.Command("ip", "netns", "exec", l.tp.Switch, "ethtool", "-L", l.director.Port, "rx", q, "tx", q).CombinedOutput(); err != nil {
		l.log("ethtool -L on the director's switch port: %v: %s", err, out)
	}
	for _, n := range l.reals {
		if err := n.IP("addr", "add", netip.PrefixFrom(vip, 32).String(), "dev", "lo"); err != nil {
			return nil, err
		}
		d := filepath.Join(dir, n.Name)
		if _, err := n.StartNginx(topo.NginxConfig{Dir: d, Listen: []string{fmt.Sprint(httpPort)}}); err != nil {
			return nil, err
		}
		sink := fmt.Sprintf(`table inet lbbench_sink {
  counter udpsink { }
  chain pre {
    type filter hook prerouting priority raw - 10; policy accept;
    udp dport %d counter name udpsink drop
  }
}
`, udpPort)
		if err := nft(n, sink); err != nil {
			return nil, err
		}
	}
	ok = true
	return l, nil
}

func (l *lab) close() error {
	if l.vm != nil {
		_ = l.vm.Close()
	}
	return l.tp.Close()
}

// nft loads a ruleset into a node.
func nft(n *topo.Node, rules string) error {
	f, err := os.CreateTemp("", "lbbench-*.nft")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(rules); err != nil {
		f.Close()
		return err
	}
	f.Close()
	if out, err := n.Output(context.Background(), "nft", "-f", f.Name()); err != nil {
		return fmt.Errorf("nft on %s: %w\n%s\n%s", n.Name, err, out, rules)
	}
	return nil
}

// rps sets the receive packet steering CPU mask of the client's port on
// the switch ("0": off), so that what the client sends is processed from
// the bridge on by those CPUs.
func (l *lab) rps(mask string) error {
	path := fmt.Sprintf("/sys/class/net/%s/queues/rx-0/rps_cpus", l.client.Port)
	out, err := exec.Command("ip", "netns", "exec", l.tp.Switch, "sh", "-c", "echo "+mask+" > "+path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("rps on %s: %w: %s", l.client.Port, err, out)
	}
	return nil
}

// udpDelivered is the sum of the real servers' UDP sink counters.
func (l *lab) udpDelivered() (uint64, error) {
	var sum uint64
	for _, n := range l.reals {
		out, err := n.Output(context.Background(), "nft", "-j", "list", "counter", "inet", "lbbench_sink", "udpsink")
		if err != nil {
			return 0, err
		}
		c, err := parseNftCounter([]byte(out))
		if err != nil {
			return 0, err
		}
		sum += c
		if os.Getenv("LBBENCH_DEBUG") != "" {
			l.log("  %s udp sink: %d", n.Name, c)
		}
	}
	return sum, nil
}

// txPackets is the packets a node's eth0 has sent.
func txPackets(n *topo.Node) (uint64, error) {
	out, err := n.Output(context.Background(), "cat", "/sys/class/net/eth0/statistics/tx_packets")
	if err != nil {
		return 0, err
	}
	var v uint64
	_, err = fmt.Sscan(strings.TrimSpace(out), &v)
	return v, err
}
