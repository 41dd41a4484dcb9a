package forward

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/forward/xsk"
	"github.com/ulvs/ulvs/internal/testkit"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestFastPathDR: with the XDP fast path on, established DR connections
// are forwarded by the XDP program itself, and nothing a user sees
// changes:
//   - frames with partial checksums (the client's TX offload) never take
//     it: they go to user space, which completes them;
//   - with complete checksums, downloads longer than the established
//     timeout finish (the table reads the program's last packet time
//     before it expires a connection), most of the client's packets take
//     the fast path, and the service's packet count equals the packets the
//     client sent (fast ones included);
//   - the client sees no RST or ICMP from the director and no bad
//     checksum, and the connections close and expire as before.
func TestFastPathDR(t *testing.T) {
	t.Parallel()
	testFastPath(t, DR)
}

// TestFastPathNAT is TestFastPathDR for NAT: the program rewrites the
// client's packets to the real server and the real server's replies to the
// VIP (its checksums judged by tshark on the client), both ways are
// counted (the service's in and out packets equal what the client sent
// and received), and the replies' complete checksums take the fast path
// even while the client's partial ones do not.
func TestFastPathNAT(t *testing.T) {
	t.Parallel()
	testFastPath(t, NAT)
}

func testFastPath(t *testing.T, mode Method) {
	key := ServiceKey{Addr: labVIP, Port: 80, Proto: TCP}
	// Established connections time out after 2 s: every download below
	// outlives that.
	l := newLabWith(t, mode, 2, ServiceConfig{Key: key, Scheduler: "rr", Method: mode}, false,
		Timeouts{TCP: 2 * time.Second, TCPFin: time.Second}, Config{IO: IOXDP, XDPFastPath: true})
	var st []IOStatus
	if err := l.ctl.Call("Ctl.IO", true, &st); err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].IO != IOXDP || !strings.Contains(st[0].Mode, "fast path") {
		t.Fatalf("forwarder I/O %+v, want %s with the fast path", st, IOXDP)
	}
	// XDP_TX on a veth reaches its peer promptly only while the peer runs
	// native XDP: a pass program on the director's switch port.
	if err := topo.InNamespace(l.tp.Switch, func() error {
		ifc, err := net.InterfaceByName(l.dir.Port)
		if err != nil {
			return err
		}
		p, err := xsk.AttachPass(ifc.Index)
		if err != nil {
			return err
		}
		t.Cleanup(func() { p.Close() })
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fast := func() FastPathStats {
		t.Helper()
		var f FastPathStats
		if err := l.ctl.Call("Ctl.FastPath", true, &f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	downloads := func(n int) {
		t.Helper()
		script := fmt.Sprintf(`for i in $(seq %d); do curl -sS --max-time 20 -o /dev/null -w '%%{http_code} %%{size_download}\n' http://%s/big & done; wait`, n, labVIP)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := l.client.Output(ctx, "sh", "-c", script)
		if err != nil {
			t.Fatalf("downloads: %v\n%s", err, out)
		}
		if got := strings.Count(out, "200 1048576"); got != n {
			t.Fatalf("%d of %d downloads of 1 MiB complete:\n%s\n%s", got, n, out, xdpDiag(t, l))
		}
	}

	// Partial checksums: the client's offload is on.
	if got := l.curls(20, "/"); got["rs1"] != 10 || got["rs2"] != 10 {
		t.Fatalf("20 requests through rr gave %v, want 10 each", got)
	}
	downloads(2)
	if f := fast(); !f.On || mode == DR && f.Packets != 0 || f.Failed != 0 {
		t.Fatalf("with partial checksums the fast path forwarded: %+v (want none)", f)
	}

	// Complete checksums: the fast path takes the established packets
	// (and, GSO off, what the client's stack counts is what it sends).
	topotest.Run(t, l.client, "ethtool", "-K", "eth0", "tx", "off", "gso", "off")
	time.Sleep(time.Second) // the last closes settle
	// The client's kernel counts what it sends to the VIP and receives
	// from it (a capture may drop frames on a loaded machine).
	loadNft(t, l.client, fmt.Sprintf(`table ip fastcount {
  counter sent {}
  counter received {}
  chain out { type filter hook output priority 0; ip daddr %[1]s counter name "sent"; }
  chain in { type filter hook input priority 0; ip saddr %[1]s counter name "received"; }
}
`, labVIP))
	l.startCapture()
	stats := func() Stats {
		t.Helper()
		var svcs []ServiceStatus
		if err := l.ctl.Call("Ctl.Services", true, &svcs); err != nil || len(svcs) != 1 {
			t.Fatalf("services: %v %+v", err, svcs)
		}
		return svcs[0].Stats
	}
	before, f0 := stats(), fast()
	downloads(4)
	// The connections' last packets (the client's answer to the server's
	// FIN) may come well after curl exits on a loaded machine: the counts
	// are compared once they agree, or after 5 s.
	var sent, replies uint64
	var got Stats
	if !testkit.Poll(5*time.Second, 100*time.Millisecond, func() bool {
		got = stats()
		sent, replies = nftCounter(t, l.client, "ip", "fastcount", "sent"), nftCounter(t, l.client, "ip", "fastcount", "received")
		if mode == DR {
			replies = 0 // a DR real server answers the client itself
		}
		return got.InPkts-before.InPkts == sent && got.OutPkts-before.OutPkts == replies
	}) {
		t.Errorf("the service counted %d packets in and %d out, the client sent %d and received %d",
			got.InPkts-before.InPkts, got.OutPkts-before.OutPkts, sent, replies)
	}
	l.stopCapture()
	f := fast()
	t.Logf("fast path: %+v (%d before); the client sent %d packets to the VIP and received %d through the director", f, f0.Packets, sent, replies)
	if n := f.Packets - f0.Packets; f.Failed != 0 || n < (sent+replies)/2 {
		t.Errorf("the fast path forwarded %d of the connections' %d packets (failed %d), want most", n, sent+replies, f.Failed)
	}
	l.checkWire(false)
	// Closed connections leave the table (FIN_WAIT 1 s) and the program;
	// a NAT connection, which sees the real server's FIN too, waits in
	// TIME_WAIT (2 minutes) as IPVS's does, or CLOSE after a reset.
	topotest.Eventually(t, 10*time.Second, "connections expire", func() bool {
		var conns []Conn
		if err := l.ctl.Call("Ctl.Conns", true, &conns); err != nil {
			t.Fatal(err)
		}
		for _, c := range conns {
			if mode == DR || c.State != "TIME_WAIT" && c.State != "CLOSE" {
				return false
			}
		}
		return true
	})
	l.stopAndCheckClean(l.stateWithoutForwarder())
}

// xdpDiag is what the director's veth pair says of XDP, for a failure.
func xdpDiag(t *testing.T, l *lab) string {
	t.Helper()
	dir, _ := l.dir.Output(context.Background(), "ethtool", "-S", "eth0")
	port, _ := exec.Command("ip", "netns", "exec", l.tp.Switch, "ethtool", "-S", l.dir.Port).CombinedOutput()
	feat, _ := exec.Command("ip", "netns", "exec", l.tp.Switch, "ethtool", "-k", l.dir.Port).CombinedOutput()
	var f FastPathStats
	_ = l.ctl.Call("Ctl.FastPath", true, &f)
	return fmt.Sprintf("fast path %+v\ndirector eth0:\n%s\nswitch port %s:\n%s\n%s", f, dir, l.dir.Port, port,
		firstLines(grepLines(string(feat), "generic-receive-offload"), 3))
}

func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
