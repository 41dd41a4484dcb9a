package ipvs_test

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
	"github.com/ulvs/ulvs/internal/vm"
	"github.com/ulvs/ulvs/internal/vm/vmtest"
)

// The lab: a client, three nginx real servers (the third one is the sorry
// server) and the VM, whose kernel IPVS is the director, on one bridge.
var (
	clientAddr = netip.MustParseAddr("198.18.0.1")
	guestAddr  = netip.MustParseAddr("198.18.0.2")
	labVIPs    = []netip.Addr{netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101"),
		netip.MustParseAddr("198.18.0.102"), netip.MustParseAddr("198.18.0.103")}
	labReals = []netip.Addr{netip.MustParseAddr("198.18.0.11"), netip.MustParseAddr("198.18.0.12")}
	labSorry = netip.MustParseAddr("198.18.0.13")
	// clientNets holds the extra client addresses of the scheduler oracle,
	// on the same link as everything else.
	clientNets = netip.MustParsePrefix("198.18.64.0/18")
)

// The scheduler oracle gives each case its own port (oracleBase + case):
// the kernel keeps a deleted service's destinations in its trash, with
// the connection counts of their lingering connections, and hands them
// back to a new service with the same address and port.
const (
	oracleBase  = 8000
	oraclePorts = 12
)

// ipvsModules are loaded at boot: the guest has no modprobe, so the kernel
// cannot load a scheduler module on demand.
var ipvsModules = []string{"ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh", "ip_vs_mh"}

type lab struct {
	t      *testing.T
	m      *vm.Machine
	tp     *topo.Topology
	client *topo.Node
	reals  []*topo.Node // rs1, rs2, sorry
	hz     int
}

func newLab(t *testing.T) *lab {
	kit := vmtest.Require(t)
	topotest.Require(t, "nginx", "curl", "socat")
	hzs, err := kit.KernelConfig("CONFIG_HZ")
	if err != nil {
		t.Fatal(err)
	}
	hz, err := strconv.Atoi(hzs)
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, tp: topotest.New(t), hz: hz}
	l.client = topotest.AddNode(t, l.tp, "client", topo.NodeConfig{Addrs: []netip.Prefix{netip.PrefixFrom(clientAddr, 24)}})
	for i, a := range append(append([]netip.Addr(nil), labReals...), labSorry) {
		name := fmt.Sprintf("rs%d", i+1)
		if a == labSorry {
			name = "sorry"
		}
		n := topotest.AddNode(t, l.tp, name, topo.NodeConfig{Addrs: []netip.Prefix{netip.PrefixFrom(a, 24)},
			// DR: the real server holds the VIPs on lo and must neither
			// answer nor announce them on the wire.
			Sysctls: map[string]string{"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2"}})
		for _, v := range labVIPs {
			if err := n.IP("addr", "add", netip.PrefixFrom(v, 32).String(), "dev", "lo"); err != nil {
				t.Fatal(err)
			}
		}
		if err := n.IP("route", "add", clientNets.String(), "dev", "eth0"); err != nil {
			t.Fatal(err)
		}
		listen := []string{"80"}
		for p := range oraclePorts {
			listen = append(listen, fmt.Sprint(oracleBase+p))
		}
		if _, err := n.StartNginx(topo.NginxConfig{Dir: t.TempDir(), Listen: listen}); err != nil {
			t.Fatal(err)
		}
		l.reals = append(l.reals, n)
	}
	vmtest.AddTap(t, l.tp, "vmtap0")
	l.m = vmtest.Boot(t, kit, vmtest.Options{Agent: "./forward/ipvs/internal/ipvsagent", Modules: ipvsModules,
		NetNS: l.tp.Switch, Tap: "vmtap0"})
	script := fmt.Sprintf(`ip link set eth0 up
ip addr add %s/24 dev eth0
echo 1 > /proc/sys/net/ipv4/ip_forward
echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects
echo 0 > /proc/sys/net/ipv4/conf/eth0/send_redirects
ip route add %s dev eth0
`, guestAddr, clientNets)
	for _, v := range labVIPs {
		script += fmt.Sprintf("ip addr add %s/32 dev eth0\n", v)
	}
	l.shell(script)
	topotest.Eventually(t, 30*time.Second, "the guest does not reach the client", func() bool {
		_, err := l.m.Exec(context.Background(), "ping", "-c1", "-W1", clientAddr.String())
		return err == nil
	})
	return l
}

func (l *lab) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

// call runs an agent operation and fails the test on error.
func (l *lab) call(op string, args, result any) {
	l.t.Helper()
	if err := l.try(op, args, result); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) try(op string, args, result any) error {
	ctx, cancel := l.ctx()
	defer cancel()
	return l.m.Call(ctx, op, args, result)
}

func (l *lab) shell(script string) string {
	l.t.Helper()
	ctx, cancel := l.ctx()
	defer cancel()
	out, err := l.m.Shell(ctx, script)
	if err != nil {
		l.t.Fatalf("%v\n%s", err, out)
	}
	return out
}

func (l *lab) services() []forward.ServiceStatus {
	l.t.Helper()
	var s []forward.ServiceStatus
	l.call("ipvs.services", nil, &s)
	return s
}

func (l *lab) conns() []forward.Conn {
	l.t.Helper()
	var c []forward.Conn
	l.call("ipvs.conns", nil, &c)
	return c
}

// natRoutes makes the real servers route replies to the client through
// the director (NAT), or removes those routes (DR: replies go direct).
func (l *lab) natRoutes(on bool) {
	l.t.Helper()
	verb := "add"
	if !on {
		verb = "del"
	}
	for _, n := range l.reals {
		if err := n.IP("route", verb, netip.PrefixFrom(clientAddr, 32).String(), "via", guestAddr.String()); err != nil {
			l.t.Fatal(err)
		}
	}
}

// fetch makes n HTTP requests to url from the client, each on a new
// connection, and counts the real servers that answered (nginx's index
// page is the node's name).
func (l *lab) fetch(url string, n int) map[string]int {
	l.t.Helper()
	args := []string{"-sS", "--max-time", "10", "-H", "Connection: close"}
	for range n {
		args = append(args, url)
	}
	ctx, cancel := l.ctx()
	defer cancel()
	out, err := l.client.Output(ctx, "curl", args...)
	if err != nil {
		l.t.Fatalf("curl through the guest's IPVS: %v\n%s\nguest console:\n%s", err, out, l.m.ConsoleTail(20))
	}
	got := map[string]int{}
	for _, line := range strings.Fields(out) {
		got[line]++
	}
	return got
}
