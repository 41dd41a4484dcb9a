package forward

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestLocalRealServer is IPVS's LOCALNODE: the director's own nginx (on
// *:80 and *:8080) as a real server at the director's address, as the
// sorry server at 127.0.0.1 or ::1 (the user's seed configs), and at the
// loopback address on another port than the service's (the guard's port
// map), answering curl through the VIP in DR and NAT (IPv4) and DR (IPv6);
// an upload with the client's offloads on; nothing left behind after stop.
func TestLocalRealServer(t *testing.T) {
	v6VIP := netip.MustParseAddr("2001:db8:50::100")
	for _, tt := range []struct {
		name                string
		mode                Method
		vip                 netip.Addr
		client, dirAddr     netip.Prefix
		loop                netip.Addr
		listen              []string
		socatListen, socatC string
	}{
		{"DR", DR, labVIP, labClient, labDir, netip.MustParseAddr("127.0.0.1"), []string{"80", "8080"}, "TCP4-LISTEN", "TCP4"},
		{"NAT", NAT, labVIP, labClient, labDir, netip.MustParseAddr("127.0.0.1"), []string{"80", "8080"}, "TCP4-LISTEN", "TCP4"},
		{"DR6", DR, v6VIP, netip.MustParsePrefix("2001:db8:50::1/64"), netip.MustParsePrefix("2001:db8:50::2/64"),
			netip.IPv6Loopback(), []string{"[::]:80", "[::]:8080"}, "TCP6-LISTEN", "TCP6"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			topotest.Require(t, "nginx", "curl", "nft", "socat", "ethtool")
			mode, vip, loop, dirAddr := tt.mode, tt.vip, tt.loop, tt.dirAddr
			tp := topotest.New(t)
			client := topotest.AddNode(t, tp, "client", topo.NodeConfig{Addrs: []netip.Prefix{tt.client}, NoDAD: true})
			dir := topotest.AddNode(t, tp, "dir", topo.NodeConfig{Addrs: []netip.Prefix{dirAddr}, NoDAD: true})
			host := netip.PrefixFrom(vip, vip.BitLen()).String()
			topotest.Run(t, client, "ip", "route", "add", host, "via", dirAddr.Addr().String())
			// The VIP is the director's (as VRRP makes it on the master): a
			// locally delivered packet keeps it as its destination.
			topotest.Run(t, dir, "ip", "addr", "add", host, "dev", "lo")
			if _, err := dir.StartNginx(topo.NginxConfig{Dir: t.TempDir(), Listen: tt.listen}); err != nil {
				t.Fatal(err)
			}
			// A byte counter: what a client uploads through the VIP comes
			// back as its length.
			if _, err := dir.Start(t.TempDir(), "socat", tt.socatListen+":9000,fork,reuseaddr", "SYSTEM:wc -c"); err != nil {
				t.Fatal(err)
			}
			if err := dir.WaitListening("tcp", "9000", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			before := directorState(t, dir)
			web := ServiceKey{Addr: vip, Port: 80, Proto: TCP}
			mapped := ServiceKey{Addr: vip, Port: 81, Proto: TCP}
			upload := ServiceKey{Addr: vip, Port: 9000, Proto: TCP}
			ctl, fwd := startForwarder(t, dir, childConfig{Config: Config{Interfaces: []string{"eth0"}, Workers: 1},
				Services: []childService{
					{Service: ServiceConfig{Key: web, Scheduler: "rr", Method: mode,
						Sorry: &RealConfig{Addr: loop, Port: 80}},
						Reals: []RealConfig{{Addr: dirAddr.Addr(), Port: 80, Weight: 1}}},
					{Service: ServiceConfig{Key: mapped, Scheduler: "rr", Method: mode},
						Reals: []RealConfig{{Addr: loop, Port: 8080, Weight: 1}}},
					{Service: ServiceConfig{Key: upload, Scheduler: "rr", Method: mode},
						Reals: []RealConfig{{Addr: dirAddr.Addr(), Port: 9000, Weight: 1}}},
				}})
			url := func(port uint16) string { return "http://" + netip.AddrPortFrom(vip, port).String() + "/" }
			curls := func(port uint16, n int) {
				t.Helper()
				script := fmt.Sprintf(`for i in $(seq %d); do curl -sS --max-time 5 %s || echo FAIL; done`, n, url(port))
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				out, err := client.Output(ctx, "sh", "-c", script)
				if err != nil || strings.Count(out, "dir\n") != n {
					t.Fatalf("%d requests to the VIP's port %d: %v\n%s\nforwarder:\n%s", n, port, err, out, lastLines(fwd.Log(), 30))
				}
			}
			status := func(k ServiceKey, real netip.AddrPort) RealStatus {
				t.Helper()
				var st []ServiceStatus
				if err := ctl.Call("Ctl.Services", true, &st); err != nil {
					t.Fatal(err)
				}
				for _, s := range st {
					for _, r := range s.Reals {
						if s.Config.Key == k && netip.AddrPortFrom(r.Config.Addr, r.Config.Port) == real {
							return r
						}
					}
				}
				t.Fatalf("no real server %v in %v: %+v", real, k, st)
				return RealStatus{}
			}
			curls(80, 20)
			if r := status(web, netip.AddrPortFrom(dirAddr.Addr(), 80)); r.Method != Local || r.Stats.Conns != 20 {
				t.Fatalf("the director's own address as real server: %+v, want Local with 20 connections", r)
			}
			curls(81, 20)
			if r := status(mapped, netip.AddrPortFrom(loop, 8080)); r.Method != Local || r.Stats.Conns != 20 {
				t.Fatalf("127.0.0.1:8080 behind port 81: %+v, want Local with 20 connections", r)
			}
			// An upload with the client's offloads on (as veth has them by
			// default): partial checksums and GSO frames go into the local
			// stack with their virtio_net_hdr.
			if out := topotest.Run(t, client, "ethtool", "-k", "eth0"); !strings.Contains(out, "tcp-segmentation-offload: on") {
				t.Fatalf("the client's TSO is off:\n%s", out)
			}
			const size = 5 << 20
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, err := client.Output(ctx, "sh", "-c", fmt.Sprintf("head -c %d /dev/zero | socat -t10 - %s:%s", size, tt.socatC,
				netip.AddrPortFrom(vip, 9000)))
			cancel()
			if err != nil || strings.TrimSpace(out) != fmt.Sprint(size) {
				t.Fatalf("upload of %d bytes to a local real server: %v, the server counted %q", size, err, out)
			}
			up := status(upload, netip.AddrPortFrom(dirAddr.Addr(), 9000))
			if up.Method != Local || up.Stats.InBytes < size {
				t.Fatalf("upload real server: %+v", up)
			}
			t.Logf("upload: %d packets, %d bytes through the local device", up.Stats.InPkts, up.Stats.InBytes)
			// The real server gone, the sorry server 127.0.0.1:80 answers.
			if err := ctl.Call("Ctl.DeleteReal", RealArgs{Key: web, Real: RealConfig{Addr: dirAddr.Addr(), Port: 80}}, new(bool)); err != nil {
				t.Fatal(err)
			}
			topotest.Eventually(t, 10*time.Second, "sorry server delivered locally", func() bool {
				return status(web, netip.AddrPortFrom(loop, 80)).NextHop == "local"
			})
			curls(80, 10)
			if r := status(web, netip.AddrPortFrom(loop, 80)); r.Method != Local || r.Stats.Conns != 10 {
				t.Fatalf("sorry server: %+v, want Local with 10 connections", r)
			}
			var drops Drops
			if err := ctl.Call("Ctl.Drops", true, &drops); err != nil {
				t.Fatal(err)
			}
			if drops.Local != 0 || drops.NoHop != 0 {
				t.Errorf("drops %+v", drops)
			}
			out = topotest.Run(t, dir, "ip", "link", "show", "ulvs-local")
			if !strings.Contains(out, "UP") {
				t.Errorf("local device: %s", out)
			}
			// Without the VIP on the director nothing local can answer as
			// the VIP: the local hops go (counted as no route) rather than
			// the kernel routing the packets on.
			topotest.Run(t, dir, "ip", "addr", "del", host, "dev", "lo")
			topotest.Eventually(t, 10*time.Second, "local hop withdrawn without the VIP", func() bool {
				return status(web, netip.AddrPortFrom(loop, 80)).NextHop == ""
			})
			ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
			_, err = client.Output(ctx, "curl", "-sS", "--max-time", "1", url(80))
			cancel()
			if err == nil {
				t.Error("curl answered through a local real server without the VIP on the director")
			}
			if err := ctl.Call("Ctl.Drops", true, &drops); err != nil {
				t.Fatal(err)
			}
			if drops.NoHop == 0 {
				t.Errorf("no drop counted without the VIP: %+v", drops)
			}
			topotest.Run(t, dir, "ip", "addr", "add", host, "dev", "lo")
			if err := fwd.Stop(10 * time.Second); err != nil {
				t.Fatalf("forwarder: %v\n%s", err, fwd.Log())
			}
			if after := directorState(t, dir); after != before {
				t.Fatalf("director state changed by the forwarder:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// directorState renders what the forwarder may touch on the director:
// rules, links, addresses, routes and policy rules.
func directorState(t *testing.T, n *topo.Node) string {
	t.Helper()
	var b strings.Builder
	for _, c := range [][]string{{"nft", "list", "ruleset"}, {"ip", "-o", "link"}, {"ip", "-o", "addr"}, {"ip", "route"},
		{"ip", "-6", "route"}, {"ip", "rule"}} {
		out, _ := n.Output(context.Background(), c[0], c[1:]...)
		fmt.Fprintf(&b, "$ %s\n%s", strings.Join(c, " "), out)
	}
	// Duplicate address detection may end meanwhile.
	return strings.ReplaceAll(b.String(), " tentative", "")
}
