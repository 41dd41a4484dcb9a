package test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/internal/nodeipvs/nodeipvstest"
	"github.com/ulvs/ulvs/internal/testkit"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
	"github.com/ulvs/ulvs/internal/vm/vmtest"
)

// The node_ipvs scenario: the same services and the same traffic, once
// through a Linux kernel's IPVS in the QEMU guest (TestVMNodeIPVS: procfs
// reads the guest's /proc/net/ip_vs*, node_exporter's collector forms the
// families; the result is testdata/node_ipvs/node_exporter.prom) and once
// through ulvsd (TestNodeIPVS: its --metrics must export the same text).
//
// Traffic is chosen to count the same on any director: one TCP connection
// held open (SYN and ACK reach the director in DR: 2 packets, active on
// wrr's first pick) and four UDP datagrams from four source ports (four
// connections, two per real server by rr, inactive as IPVS counts UDP).
// No firewall-mark service: the userspace forwarder has none (package
// nodeipvs's unit test checks their labels against a kernel's
// /proc/net/ip_vs).
const (
	nipClient = "198.18.0.1"
	nipDir    = "198.18.0.2"
	nipVIP    = "198.18.0.100"
	nipRS1    = "198.18.0.11"
	nipRS2    = "198.18.0.12"
)

// nipIPVSADM programs the services in the kernel, as keepalived would from
// nipConfig's virtual_server blocks.
const nipIPVSADM = `ipvsadm -A -t 198.18.0.100:80 -s wrr
ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 1
ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.12:80 -g -w 3
ipvsadm -A -u 198.18.0.100:53 -s rr
ipvsadm -a -u 198.18.0.100:53 -r 198.18.0.11:53 -g -w 1
ipvsadm -a -u 198.18.0.100:53 -r 198.18.0.12:53 -g -w 1
ipvsadm -A -t [2001:db8::100]:443 -s rr
ipvsadm -a -t [2001:db8::100]:443 -r [2001:db8::11]:443 -g -w 2
`

const nipConfig = `vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 60
    priority 150
    advert_int 1
    virtual_ipaddress {
        198.18.0.100
    }
}
virtual_server 198.18.0.100 80 {
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server 198.18.0.11 80 {
        weight 1
    }
    real_server 198.18.0.12 80 {
        weight 3
    }
}
virtual_server 198.18.0.100 53 {
    lb_algo rr
    lb_kind DR
    protocol UDP
    real_server 198.18.0.11 53 {
        weight 1
    }
    real_server 198.18.0.12 53 {
        weight 1
    }
}
virtual_server 2001:db8::100 443 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 2001:db8::11 443 {
        weight 2
    }
}
`

// nipConns is the number of connections the traffic makes.
const nipConns = 5

// nipTraffic sends the scenario's traffic from the client; the TCP
// connection stays open until the test ends.
func nipTraffic(t *testing.T, client *topo.Node, dir string) {
	t.Helper()
	held, err := client.Start(dir, "sh", "-c", "sleep 120 | socat - TCP4:"+nipVIP+":80")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(held.Kill)
	topotest.Eventually(t, 20*time.Second, "the held TCP connection never established", func() bool {
		out, _ := client.Output(context.Background(), "ss", "-Htn", "state", "established", "dst", nipVIP)
		return strings.TrimSpace(out) != ""
	})
	for range 4 {
		topotest.Run(t, client, "sh", "-c", "printf x | socat -u STDIN UDP4-SENDTO:"+nipVIP+":53")
	}
}

func nipFixture(t *testing.T) string {
	t.Helper()
	root, err := topotest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "test", "testdata", "node_ipvs")
}

// TestNodeIPVS runs the scenario through ulvsd and compares its node_ipvs_*
// families with node_exporter's on the kernel's IPVS for the same services
// and traffic (testdata/node_ipvs/node_exporter.prom, written by
// TestVMNodeIPVS): names, help, types, labels and values.
func TestNodeIPVS(t *testing.T) {
	t.Parallel()
	topotest.Require(t, "socat")
	want, err := os.ReadFile(filepath.Join(nipFixture(t), "node_exporter.prom"))
	if err != nil {
		t.Fatal(err)
	}
	l := newLab(t)
	client := l.node("client", nipClient)
	dn := l.node("dir", nipDir)
	l.drReal("rs1", nipRS1, nipVIP)
	l.drReal("rs2", nipRS2, nipVIP)
	d := l.ulvsd(dn, nipConfig, "--metrics", "127.0.0.1:9650")
	d.waitState("VI_1", "MASTER", 10*time.Second)
	waitReals(t, d, nipRS1+":80", nipRS2+":80", nipRS1+":53", nipRS2+":53")
	nipTraffic(t, client, l.dir)
	var got string
	topotest.Eventually(t, 10*time.Second, "ulvsd never counted the scenario's connections", func() bool {
		body, err := topotest.Curl(dn, 5*time.Second, "http://127.0.0.1:9650/metrics")
		got = nodeipvstest.Families(body)
		return err == nil && strings.Contains(got, fmt.Sprintf("\nnode_ipvs_connections_total %d\n", nipConns))
	})
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("node_ipvs_* (-node_exporter on kernel IPVS +ulvsd):\n%s\nulvsadm -Ln:\n%s", diff, d.mustAdm("-Ln"))
	}
	// The flag turns them off.
	dn2 := l.node("dir2", "198.18.0.3")
	l.ulvsd(dn2, nipConfig[strings.Index(nipConfig, "virtual_server"):], "--metrics", "127.0.0.1:9651", "--metrics-node-ipvs=false")
	body, err := topotest.Curl(dn2, 5*time.Second, "http://127.0.0.1:9651/metrics")
	if err != nil || strings.Contains(body, "node_ipvs_") || !strings.Contains(body, "ulvs_reloads_total") {
		t.Errorf("--metrics-node-ipvs=false: %v\n%s", err, nodeipvstest.Families(body))
	}
}

// TestVMNodeIPVS runs the scenario through the guest kernel's IPVS and
// forms node_exporter's families from its /proc/net/ip_vs and ip_vs_stats
// with procfs. They must equal testdata/node_ipvs/node_exporter.prom; with
// ULVS_UPDATE_FIXTURES=1 the test writes it (and the two proc files beside
// it) instead.
func TestVMNodeIPVS(t *testing.T) {
	kit := vmtest.Require(t)
	topotest.Require(t, "nginx", "socat", "ss")
	tp := topotest.New(t)
	dir := t.TempDir()
	node := func(name, addr string) *topo.Node {
		return topotest.AddNode(t, tp, name, topo.NodeConfig{Addrs: []netip.Prefix{netip.MustParsePrefix(addr + "/24")}})
	}
	client := node("client", nipClient)
	for _, rs := range []struct{ name, addr string }{{"rs1", nipRS1}, {"rs2", nipRS2}} {
		n := node(rs.name, rs.addr)
		topotest.Run(t, n, "ip", "addr", "add", nipVIP+"/32", "dev", "lo")
		for _, kv := range []string{"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"} {
			topotest.Run(t, n, "sysctl", "-qw", kv)
		}
		if _, err := n.StartNginx(topo.NginxConfig{Dir: filepath.Join(dir, rs.name), Listen: []string{"80"},
			Files: map[string][]byte{"/index.html": []byte(rs.name + "\n")}}); err != nil {
			t.Fatal(err)
		}
	}
	vmtest.AddTap(t, tp, "vmtap0")
	m := vmtest.Boot(t, kit, vmtest.Options{Modules: []string{"ip_vs", "ip_vs_rr", "ip_vs_wrr"}, NetNS: tp.Switch, Tap: "vmtap0"})
	shell := func(script string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := m.Shell(ctx, script)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
	shell(fmt.Sprintf("ip link set eth0 up\nip addr add %s/24 dev eth0\nip addr add %s/32 dev eth0\n", nipDir, nipVIP) + nipIPVSADM)
	topotest.Eventually(t, 30*time.Second, "the guest does not reach the client", func() bool {
		_, err := m.Exec(context.Background(), "ping", "-c1", "-W1", nipClient)
		return err == nil
	})
	nipTraffic(t, client, dir)
	// The kernel folds its per-CPU counters into the totals every 2 s.
	var ipvs, stats, got string
	counted := func() bool {
		ipvs, stats = shell("cat /proc/net/ip_vs"), shell("cat /proc/net/ip_vs_stats")
		proc := t.TempDir()
		if err := nodeipvstest.WriteProc(proc, ipvs, stats); err != nil {
			t.Fatal(err)
		}
		out, err := nodeipvstest.Exposition(proc)
		if err != nil {
			t.Fatal(err)
		}
		got = out
		return strings.Contains(got, fmt.Sprintf("\nnode_ipvs_connections_total %d\n", nipConns))
	}
	if !testkit.Poll(15*time.Second, 500*time.Millisecond, counted) {
		t.Fatalf("the kernel never counted the scenario's %d connections:\n%s\n%s\n%s", nipConns, ipvs, stats, got)
	}
	t.Logf("guest /proc/net/ip_vs:\n%s\nip_vs_stats:\n%s\nipvsadm -Ln:\n%s", ipvs, stats, shell("ipvsadm -Ln"))
	fixture := nipFixture(t)
	if os.Getenv("ULVS_UPDATE_FIXTURES") == "1" {
		for name, body := range map[string]string{"node_exporter.prom": got, "proc_net_ip_vs.txt": ipvs, "proc_net_ip_vs_stats.txt": stats} {
			if err := os.WriteFile(filepath.Join(fixture, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want, err := os.ReadFile(filepath.Join(fixture, "node_exporter.prom"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("node_exporter on the kernel's IPVS no longer gives the fixture (-fixture +now):\n%s", diff)
	}
}
