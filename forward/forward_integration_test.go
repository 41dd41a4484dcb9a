package forward

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"net/rpc"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/packet"

	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

var (
	labVIP     = netip.MustParseAddr("198.18.50.100")
	labClient  = netip.MustParsePrefix("198.18.50.1/24")
	labClient2 = netip.MustParsePrefix("198.18.50.3/24")
	labDir     = netip.MustParsePrefix("198.18.50.2/24")
	labDirNAT  = netip.MustParsePrefix("198.18.51.2/24")
)

type lab struct {
	t                  *testing.T
	tp                 *topo.Topology
	client, dir, sorry *topo.Node
	rs                 []*topo.Node
	mode               Method
	ctl                *rpc.Client
	fwd                *topo.Proc
	key                ServiceKey
	capture            *topo.Proc
	capFile            string
}

// rsAddr returns real server i's address: NAT real servers sit on a
// subnet of their own, routed through the director.
func rsAddr(mode Method, i int) netip.Prefix {
	if mode == NAT {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 51, byte(11 + i)}), 24)
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 50, byte(11 + i)}), 24)
}

// newLab builds client, director and n real servers running nginx (each
// naming itself), starts the forwarder with svc, and a capture on the
// client. Offloads are off on client and real servers so that every
// checksum on the wire is complete and tshark can judge the director's.
func newLab(t *testing.T, mode Method, n int, svc ServiceConfig, sorry bool, timeouts Timeouts) *lab {
	return newLabIO(t, mode, n, svc, sorry, timeouts, IOAFPacket)
}

// newLabIO is newLab with the forwarder on the given frame I/O. Over
// AF_XDP the client keeps its TX checksum offload: its frames reach the
// director's XDP with partial checksums, which the forwarder must complete.
//
// Each name in bridges becomes a bridge device (an Ethernet interface with
// no native XDP) on the director that the forwarder serves beside eth0.
func newLabIO(t *testing.T, mode Method, n int, svc ServiceConfig, sorry bool, timeouts Timeouts, io string, bridges ...string) *lab {
	return newLabWith(t, mode, n, svc, sorry, timeouts, Config{IO: io}, bridges...)
}

// newLabWith is newLabIO with more of the forwarder's configuration (its
// IO, XDPFastPath); the lab sets Interfaces and Workers.
func newLabWith(t *testing.T, mode Method, n int, svc ServiceConfig, sorry bool, timeouts Timeouts, fc Config, bridges ...string) *lab {
	io := fc.IO
	topotest.Require(t, "nginx", "curl", "tshark", "nft", "ethtool", "socat", "wrk")
	l := &lab{t: t, tp: topotest.New(t), mode: mode, key: svc.Key}
	l.client = topotest.AddNode(t, l.tp, "client", topo.NodeConfig{Addrs: []netip.Prefix{labClient, labClient2}})
	dirAddrs := []netip.Prefix{labDir}
	if mode == NAT {
		dirAddrs = append(dirAddrs, labDirNAT)
	}
	l.dir = topotest.AddNode(t, l.tp, "dir", topo.NodeConfig{Addrs: dirAddrs})
	topotest.Run(t, l.client, "ip", "route", "add", labVIP.String()+"/32", "via", labDir.Addr().String())
	var reals []RealConfig
	for i := range n + btoi(sorry) {
		name := fmt.Sprintf("rs%d", i+1)
		if sorry && i == n {
			name = "sorry"
		}
		cfg := topo.NodeConfig{Addrs: []netip.Prefix{rsAddr(mode, i)},
			Sysctls: map[string]string{"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2",
				"net.ipv4.conf.all.rp_filter": "0"}}
		if mode == NAT {
			cfg.Gateway = labDirNAT.Addr()
		}
		node := topotest.AddNode(t, l.tp, name, cfg)
		if mode != NAT {
			topotest.Run(t, node, "ip", "addr", "add", labVIP.String()+"/32", "dev", "lo")
		}
		topotest.Run(t, node, "ethtool", "-K", "eth0", "tx", "off")
		if _, err := node.StartNginx(topo.NginxConfig{Dir: t.TempDir(), Listen: []string{"80"}, LimitRate: "400k",
			Files: map[string][]byte{"/big": make([]byte, 1<<20)}}); err != nil {
			t.Fatal(err)
		}
		if mode == TUN {
			p := topotest.Reexec(t, node, "TestDecapChild")
			topotest.Eventually(t, 10*time.Second, "decapsulator on "+name, func() bool {
				out, _ := node.Output(context.Background(), "ip", "link", "show", "ulvstun0")
				return strings.Contains(out, "UP")
			})
			_ = p
		}
		if sorry && i == n {
			l.sorry = node
			svc.Sorry = &RealConfig{Addr: rsAddr(mode, i).Addr(), Port: svc.Key.Port}
			continue
		}
		l.rs = append(l.rs, node)
		reals = append(reals, RealConfig{Addr: rsAddr(mode, i).Addr(), Port: svc.Key.Port, Weight: 1})
	}
	// GRO would merge received segments, and tshark would judge the merged
	// frame's checksum: the capture must see frames as they were sent.
	if io == IOXDP {
		topotest.Run(t, l.client, "ethtool", "-K", "eth0", "gro", "off")
	} else {
		topotest.Run(t, l.client, "ethtool", "-K", "eth0", "tx", "off", "gro", "off")
	}
	ifaces := []string{"eth0"}
	for _, d := range bridges {
		topotest.Run(t, l.dir, "ip", "link", "add", d, "type", "bridge")
		topotest.Run(t, l.dir, "ip", "link", "set", d, "up")
		ifaces = append(ifaces, d)
	}
	fc.Interfaces, fc.Workers = ifaces, 1
	l.ctl, l.fwd = startForwarder(t, l.dir, childConfig{Config: fc,
		Timeouts: timeouts, Services: []childService{{Service: svc, Reals: reals}}})
	return l
}

// startCapture starts tshark on the client.
func (l *lab) startCapture() {
	t := l.t
	l.capFile = filepath.Join(t.TempDir(), "client.pcap")
	var err error
	if l.capture, err = l.client.Start(t.TempDir(), "tshark", "-q", "-i", "eth0", "-w", l.capFile); err != nil {
		t.Fatal(err)
	}
	topotest.Eventually(t, 10*time.Second, "tshark capturing", func() bool { return strings.Contains(l.capture.Log(), "Capturing") })
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// curls fetches path n times through the VIP and counts the answers by
// real server name.
func (l *lab) curls(n int, path string, extra ...string) map[string]int {
	l.t.Helper()
	script := fmt.Sprintf(`for i in $(seq %d); do curl -sS --max-time 5 %s http://%s%s || echo FAIL; done`,
		n, strings.Join(extra, " "), labVIP, path)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := l.client.Output(ctx, "sh", "-c", script)
	if err != nil {
		l.t.Fatalf("curl loop: %v\n%s", err, out)
	}
	got := map[string]int{}
	for _, line := range strings.Fields(out) {
		got[line]++
	}
	return got
}

// tsharkCount counts the captured packets matching a display filter, with
// checksum validation on.
func (l *lab) tsharkCount(filter string) int {
	l.t.Helper()
	return len(strings.Fields(l.tsharkList(filter, "frame.number")))
}

// tsharkList prints fields of the captured packets matching a filter.
func (l *lab) tsharkList(filter string, fields ...string) string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"-r", l.capFile, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
		"-o", "udp.check_checksum:TRUE", "-Y", filter, "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := l.client.Output(ctx, "tshark", args...)
	if err != nil {
		l.t.Fatalf("tshark: %v", err)
	}
	return out
}

// stopCapture ends the capture so the file is complete.
//
// tshark's file receives packets a block at a time (the ring's block
// timeout), and a SIGTERM drops the block not handed over yet — the last
// few hundred milliseconds of traffic, the very packets a test has just
// provoked (a TUN run's fragmentation-needed was usually left out). So the
// client first sends a marker frame (a local experimental EtherType, not IP:
// no check counts it) and the capture stops only once its file holds the
// marker, and with it everything the interface carried before.
func (l *lab) stopCapture() {
	if l.capture == nil {
		return
	}
	mac, err := l.client.MAC("eth0")
	if err != nil {
		l.t.Fatal(err)
	}
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	marker := make([]byte, 60)
	copy(marker, bcast)
	copy(marker[6:], mac)
	binary.BigEndian.PutUint16(marker[12:], captureMarker)
	topotest.InNS(l.t, l.client, func() {
		ifi, err := net.InterfaceByName("eth0")
		if err == nil {
			var c *packet.Conn
			if c, err = packet.Listen(ifi, packet.Raw, captureMarker, nil); err == nil {
				_, err = c.WriteTo(marker, &packet.Addr{HardwareAddr: bcast})
				c.Close()
			}
		}
		if err != nil {
			l.t.Fatalf("capture marker: %v", err)
		}
	})
	filter := fmt.Sprintf("eth.type == 0x%04x", captureMarker)
	topotest.Eventually(l.t, 30*time.Second, "the capture holds the marker sent after the traffic", func() bool {
		// The file is still being written: its last packet may be cut
		// short, which tshark reports as an error after printing the rest.
		out, _ := l.client.Output(context.Background(), "tshark", "-r", l.capFile, "-Y", filter, "-T", "fields", "-e", "frame.number")
		return strings.TrimSpace(out) != ""
	})
	_ = l.capture.Stop(5 * time.Second)
}

// captureMarker is the EtherType of stopCapture's marker frame: IEEE 802's
// local experimental EtherType 1.
const captureMarker = 0x88b5

// checkWire asserts the client saw no RST or ICMP from the director, no bad
// checksum and (NAT) no real server's address.
func (l *lab) checkWire(allowFragNeeded bool) {
	l.t.Helper()
	mac, err := l.dir.MAC("eth0")
	if err != nil {
		l.t.Fatal(err)
	}
	clientMAC, err := l.client.MAC("eth0")
	if err != nil {
		l.t.Fatal(err)
	}
	icmp := "icmp"
	if allowFragNeeded {
		icmp = "icmp && !(icmp.type == 3 && icmp.code == 4)"
	}
	checks := map[string]string{
		// The director's own kernel sends with TTL 64; what the forwarder
		// relays from a NAT real server left it with TTL 63.
		"RST or ICMP from the director": fmt.Sprintf("eth.src == %s && ip.ttl == 64 && (tcp.flags.reset == 1 || %s)", mac, icmp),
		// Frames the director sent to the client (what it is answerable
		// for): the bridge may also flood the client a copy of a forwarded
		// GSO frame whose checksum is legitimately partial. An ICMP error's
		// own checksums are the director's; the TCP or UDP header it
		// quotes is the client's, and tshark "verifies" a quoted checksum
		// over the quote's first bytes only, so a correct one reads Bad.
		"bad checksums": fmt.Sprintf("eth.src == %s && eth.dst == %s && (ip.checksum.status == \"Bad\" || "+
			"icmp.checksum.status == \"Bad\" || icmpv6.checksum.status == \"Bad\" || (!icmp && !icmpv6 && "+
			"(tcp.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\")))", mac, clientMAC),
	}
	if l.mode == NAT {
		checks["a real server's address"] = "ip.src == 198.18.51.0/24"
	}
	total := l.tsharkCount("ip")
	if total < 50 {
		l.t.Fatalf("capture holds only %d IP packets", total)
	}
	for what, filter := range checks {
		if n := l.tsharkCount(filter); n != 0 {
			l.t.Errorf("client saw %d packets with %s (%s):\n%s", n, what, filter,
				firstLines(l.tsharkList(filter, "frame.number", "eth.src", "eth.dst", "frame.len", "ip.src", "ip.dst", "_ws.col.Info"), 10))
		}
	}
}

// stopAndCheckClean stops the forwarder and checks it left nothing behind.
func (l *lab) stopAndCheckClean(before string) {
	l.t.Helper()
	if err := l.fwd.Stop(10 * time.Second); err != nil {
		l.t.Fatalf("forwarder: %v\n%s", err, l.fwd.Log())
	}
	if after := l.state(); after != before {
		l.t.Fatalf("director state changed by the forwarder:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// state renders the director's nftables ruleset, tc qdiscs, addresses and
// routes.
func (l *lab) state() string {
	var b strings.Builder
	for _, c := range [][]string{{"nft", "list", "ruleset"}, {"tc", "qdisc", "show"}, {"ip", "-o", "addr"}, {"ip", "route"},
		{"ip", "-6", "route"}} {
		out, _ := l.dir.Output(context.Background(), c[0], c[1:]...)
		// An IPv6 address still in duplicate address detection is
		// "tentative" and then not: the kernel's, not the forwarder's.
		out = strings.ReplaceAll(out, " tentative ", " ")
		fmt.Fprintf(&b, "$ %s\n%s", strings.Join(c, " "), out)
	}
	return b.String()
}

func (l *lab) update(r RealConfig) {
	l.t.Helper()
	if err := l.ctl.Call("Ctl.UpdateReal", RealArgs{Key: l.key, Real: r}, new(bool)); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) delete(r RealConfig) {
	l.t.Helper()
	if err := l.ctl.Call("Ctl.DeleteReal", RealArgs{Key: l.key, Real: r}, new(bool)); err != nil {
		l.t.Fatal(err)
	}
}

func TestModesEndToEnd(t *testing.T) { testModesEndToEnd(t, IOAFPacket) }

// TestModesEndToEndXDP is TestModesEndToEnd with the forwarder on AF_XDP
// (native XDP on the director's veth, copy mode), and the client's
// checksums left to its offload.
func TestModesEndToEndXDP(t *testing.T) { testModesEndToEnd(t, IOXDP) }

func testModesEndToEnd(t *testing.T, io string) {
	for _, mode := range []Method{DR, NAT, TUN} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			key := ServiceKey{Addr: labVIP, Port: 80, Proto: TCP}
			l := newLabIO(t, mode, 2, ServiceConfig{Key: key, Scheduler: "rr", Method: mode}, false, Timeouts{}, io)
			var st []IOStatus
			if err := l.ctl.Call("Ctl.IO", true, &st); err != nil {
				t.Fatal(err)
			}
			if len(st) != 1 || st[0].IO != io {
				t.Fatalf("forwarder I/O %+v, want %s", st, io)
			}
			before := ""
			// Phase 1: the VIP is routed to the director, not on it. rr
			// alternates exactly while every connection is new.
			l.startCapture()
			got := l.curls(200, "/")
			if got["rs1"] != 100 || got["rs2"] != 100 {
				t.Fatalf("200 requests through rr gave %v, want 100 each", got)
			}
			// Phase 2: the VIP also on the director (as a VRRP master adds
			// it): its kernel must still stay out.
			topotest.Run(t, l.dir, "ip", "addr", "add", labVIP.String()+"/32", "dev", "eth0")
			topotest.Run(t, l.client, "ip", "route", "del", labVIP.String()+"/32")
			topotest.Run(t, l.client, "ip", "neigh", "flush", "all")
			got = l.curls(50, "/")
			if got["rs1"]+got["rs2"] != 50 {
				t.Fatalf("with the VIP on the director: %v", got)
			}
			topotest.Run(t, l.dir, "ip", "addr", "del", labVIP.String()+"/32", "dev", "eth0")
			if mode == TUN {
				// A full-size segment does not fit the tunnel: the client
				// gets fragmentation needed from the VIP and still succeeds.
				topotest.Run(t, l.client, "ip", "route", "add", labVIP.String()+"/32", "via", labDir.Addr().String())
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				// The request itself (a 3000-byte header) needs full-size
				// segments, so the error comes before any answer.
				out, err := l.client.Output(ctx, "curl", "-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}",
					"-H", "X-Pad: "+strings.Repeat("x", 3000), "http://"+labVIP.String()+"/")
				cancel()
				if err != nil || out != "200" {
					t.Fatalf("large request through TUN: %v, HTTP %s", err, out)
				}
			}
			l.stopCapture()
			l.checkWire(mode == TUN)
			if mode == TUN {
				// The client's kernel took the fragmentation-needed: its
				// route cache holds the tunnel's path MTU for the VIP.
				out := topotest.Run(t, l.client, "ip", "route", "get", labVIP.String())
				if !strings.Contains(out, "mtu 1480") {
					t.Errorf("no fragmentation-needed reached the client: ip route get %v says %q", labVIP, out)
				}
			}
			// 10 s of wrk (the capture is over: it would be too large to
			// analyse quickly; wrk counts every error itself). Its timeout
			// is 10 s, not 2: the modes run side by side on two cores, and a
			// lost segment costs a retransmission, not a failure; a
			// connection the director drops still stalls past it.
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, err := l.client.Output(ctx, "wrk", "-t2", "-c8", "-d10s", "--timeout", "10s", "http://"+labVIP.String()+"/")
			cancel()
			if err != nil {
				t.Fatalf("wrk: %v\n%s", err, out)
			}
			if strings.Contains(out, "Socket errors") || strings.Contains(out, "Non-2xx") || !strings.Contains(out, "Requests/sec") {
				t.Fatalf("wrk through %v had errors:\n%s", mode, out)
			}
			t.Logf("wrk %v:\n%s", mode, out)
			before = l.stateWithoutForwarder()
			l.stopAndCheckClean(before)
		})
	}
}

// TestIOAutoFallback: with --io auto, an interface where native XDP
// cannot attach (a bridge device) runs AF_PACKET and says why, while the
// veth beside it runs AF_XDP and forwards.
func TestIOAutoFallback(t *testing.T) {
	key := ServiceKey{Addr: labVIP, Port: 80, Proto: TCP}
	l := newLabIO(t, DR, 2, ServiceConfig{Key: key, Scheduler: "rr", Method: DR}, false, Timeouts{}, IOAuto, "br9")
	var st []IOStatus
	if err := l.ctl.Call("Ctl.IO", true, &st); err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].Interface != "eth0" || st[0].IO != IOXDP || st[0].Reason != "" ||
		st[1].Interface != "br9" || st[1].IO != IOAFPacket || !strings.Contains(st[1].Reason, "XDP") {
		t.Fatalf("I/O %+v, want eth0 on %s and br9 on %s with the reason", st, IOXDP, IOAFPacket)
	}
	t.Logf("br9: %s", st[1].Reason)
	if !strings.Contains(l.fwd.Log(), "AF_XDP not available: AF_PACKET instead") {
		t.Errorf("the fallback was not logged:\n%s", l.fwd.Log())
	}
	got := l.curls(40, "/")
	if got["rs1"] != 20 || got["rs2"] != 20 {
		t.Fatalf("40 requests through rr gave %v, want 20 each", got)
	}
	if out := topotest.Run(t, l.dir, "ip", "link", "show", "eth0"); !strings.Contains(out, "xdp") {
		t.Errorf("no XDP program on eth0 while the forwarder runs: %s", out)
	}
	l.stopAndCheckClean(l.stateWithoutForwarder())
	if out := topotest.Run(t, l.dir, "ip", "link", "show", "eth0"); strings.Contains(out, "xdp") {
		t.Errorf("the XDP program stayed after the forwarder stopped: %s", out)
	}
}

// stateWithoutForwarder is the director's state minus the guard's table:
// what must remain once the forwarder stops.
func (l *lab) stateWithoutForwarder() string {
	s := l.state()
	if i := strings.Index(s, "table inet ulvs"); i >= 0 {
		end := strings.Index(s[i:], "\n}\n")
		s = s[:i] + s[i+end+3:]
	}
	return s
}

func TestPersistenceQuiescentSorry(t *testing.T) {
	t.Parallel()
	key := ServiceKey{Addr: labVIP, Port: 80, Proto: TCP}
	l := newLab(t, DR, 2, ServiceConfig{Key: key, Scheduler: "rr", Method: DR, Persistence: 4 * time.Second, Granularity: 24},
		true, Timeouts{TCP: 5 * time.Second, TCPFin: time.Second})
	// One client, then a second address of the same /24: all on one server.
	got := l.curls(10, "/")
	got2 := l.curls(10, "/", "--interface", labClient2.Addr().String())
	if len(got) != 1 || len(got2) != 1 || fmt.Sprint(got) != fmt.Sprint(got2) {
		t.Fatalf("persistence /24 broken: %v then %v", got, got2)
	}
	var first string
	for k := range got {
		first = k
	}
	// Once the connections (FIN_WAIT 1 s) and the template (4 s) are gone,
	// rr moves the client on.
	topotest.Eventually(t, 15*time.Second, "template expiry", func() bool {
		var conns []Conn
		if err := l.ctl.Call("Ctl.Conns", true, &conns); err != nil {
			t.Fatal(err)
		}
		return len(conns) == 0
	})
	moved := l.curls(1, "/")
	if moved[first] != 0 {
		t.Fatalf("after the template expired the client stayed on %s", first)
	}
	var now string
	for k := range moved {
		now = k
	}
	// Weight 0 on that server: a long transfer started before finishes,
	// new connections (after the template expires) go elsewhere.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	long := l.client.Command(ctx, "curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", "http://"+labVIP.String()+"/big")
	var longOut strings.Builder
	long.Stdout = &longOut
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	idx := map[string]int{"rs1": 0, "rs2": 1}[now]
	l.update(RealConfig{Addr: rsAddr(DR, idx).Addr(), Port: 80, Weight: 0})
	topotest.Eventually(t, 15*time.Second, "template of the quiescent server expires", func() bool {
		var conns []Conn
		_ = l.ctl.Call("Ctl.Conns", true, &conns)
		for _, c := range conns {
			if c.Template {
				return false
			}
		}
		return true
	})
	after := l.curls(10, "/", "--interface", labClient2.Addr().String())
	if after[now] != 0 {
		t.Fatalf("the quiescent server %s took new connections: %v", now, after)
	}
	if err := long.Wait(); err != nil || longOut.String() != strconv.Itoa(1<<20) {
		t.Fatalf("long transfer through the quiescent server: %v, %s bytes", err, longOut.String())
	}
	// Every real server gone: the sorry server answers.
	for i := range 2 {
		l.delete(RealConfig{Addr: rsAddr(DR, i).Addr(), Port: 80})
	}
	if got := l.curls(3, "/"); got["sorry"] != 3 {
		t.Fatalf("with no real server: %v, want the sorry server", got)
	}
	l.stopCapture()
	_ = syscall.SIGTERM
}

func TestUDPLargeDatagrams(t *testing.T) {
	// In TUN the client's fragments of the 4000-byte datagram have no DF
	// and no longer fit once encapsulated: they go in outer fragments that
	// the decapsulator's kernel reassembles.
	for _, mode := range []Method{DR, NAT, TUN} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			key := ServiceKey{Addr: labVIP, Port: 53, Proto: UDP}
			l := newLab(t, mode, 1, ServiceConfig{Key: key, Scheduler: "rr", Method: mode}, false, Timeouts{})
			// In DR and TUN the echo must answer from the VIP, so it binds
			// to it.
			listen := "UDP4-RECVFROM:53,fork"
			if mode != NAT {
				listen += ",bind=" + labVIP.String()
			}
			if _, err := l.rs[0].Start(t.TempDir(), "socat", listen, "EXEC:cat"); err != nil {
				t.Fatal(err)
			}
			if err := l.rs[0].WaitListening("udp", "53", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			for _, size := range []int{100, 1400, 4000} {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				out, err := l.client.Output(ctx, "sh", "-c", fmt.Sprintf(
					"f=/tmp/udp.$$; head -c %d /dev/urandom > $f.out; socat -b9000 -t2 -T2 - UDP4:%s:53 < $f.out > $f.in; cmp $f.out $f.in 2>&1 && echo SAME; rm -f $f.out $f.in", size, labVIP))
				cancel()
				if err != nil || !strings.Contains(out, "SAME") {
					t.Fatalf("%d-byte datagram through %v: %v %q", size, mode, err, out)
				}
			}
			l.stopCapture()
		})
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
