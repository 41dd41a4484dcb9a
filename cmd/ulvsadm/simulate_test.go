package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	return out.String(), errb.String(), rc
}

func TestUsage(t *testing.T) {
	t.Parallel()
	_, stderr, rc := runCmd(t, "bogus")
	if rc != 2 || !strings.Contains(stderr, "simulate") {
		t.Errorf("bogus: rc %d, stderr %q; want 2 and the command list", rc, stderr)
	}
	// ipvsadm's options (and no options at all) talk to a running ulvsd.
	for _, args := range [][]string{{"--socket", "/nonexistent/ulvsd.sock"}, {"-Ln", "--socket", "/nonexistent/ulvsd.sock"}} {
		_, stderr, rc := runCmd(t, args...)
		if rc != 1 || !strings.Contains(stderr, "is ulvsd running") {
			t.Errorf("%v: rc %d, stderr %q; want 1 and a hint that ulvsd is not running", args, rc, stderr)
		}
	}
}

// TestTrace: wrr with weights 4, 3, 2 added in that order (kernel list
// .13 .12 .11), exactly one line per connection and nothing else.
func TestTrace(t *testing.T) {
	t.Parallel()
	out, stderr, rc := runCmd(t, "simulate", "-s", "wrr", "-r", "198.18.0.11:80:4", "-r", "198.18.0.12:80:3",
		"-r", "198.18.0.13:80:2", "-n", "12", "--trace")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr)
	}
	var want string
	for i, s := range []string{"13", "12", "11", "11", "12", "11", "13", "12", "11", "13", "12", "11"} {
		want += "198.18.128." + strconv.Itoa(i+1) + ":40000 -> 198.18.0." + s + ":80\n"
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	// No dest: "-> none".
	out, _, _ = runCmd(t, "simulate", "-s", "rr", "-r", "198.18.0.11:80:0", "-n", "1", "--trace")
	if out != "198.18.128.1:40000 -> none\n" {
		t.Errorf("trace = %q", out)
	}
}

// TestReportJSON checks the JSON report of an mh run with a removal: the
// removed server's flows move, few others do.
func TestReportJSON(t *testing.T) {
	t.Parallel()
	svg := filepath.Join(t.TempDir(), "load.svg")
	out, stderr, rc := runCmd(t, "simulate", "-s", "mh", "-r", "198.18.0.11:80:1", "-r", "198.18.0.12:80:1",
		"-r", "198.18.0.13:80:1", "-n", "3000", "--at", "1500:remove:198.18.0.12:80", "--json", "--svg", svg)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr)
	}
	var doc jsonReport
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Connections != 3000 || len(doc.Servers) != 3 || !doc.Servers[1].Removed || len(doc.Remaps) != 1 {
		t.Fatalf("report: %+v", doc)
	}
	// About a third of the flows were on .12; Maglev moves few others.
	if f := doc.Remaps[0].Fraction; f < 0.25 || f > 0.40 {
		t.Errorf("remapped fraction %.3f, want about 1/3", f)
	}
	if doc.Jain == nil || *doc.Jain < 0.99 {
		t.Errorf("Jain index %v", doc.Jain)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !bytes.HasPrefix(b, []byte("<svg")) || bytes.Count(b, []byte("<polyline")) != 3 {
		t.Errorf("svg: %v, %d bytes", err, len(b))
	}
}

// TestReportText: closing connections with a constant duration leave
// inactive ones behind until fin-wait ends.
func TestReportText(t *testing.T) {
	t.Parallel()
	out, stderr, rc := runCmd(t, "simulate", "-s", "wlc", "-r", "198.18.0.11:80:1", "-r", "198.18.0.12:80:3",
		"-n", "400", "--rate", "100", "--duration", "1s", "--fin-wait", "2s")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr)
	}
	for _, want := range []string{"scheduler wlc, 400 connections", "198.18.0.12:80", "Jain's fairness index", "decisions:"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestPcapReplay writes a capture with three SYNs and one FIN to the VIP
// and replays it: three connections, in capture order.
func TestPcapReplay(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1700000000, 0)
	pkt := func(at time.Duration, src string, sport int, syn, ack, fin bool) {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP("198.18.0.10")}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: 80, SYN: syn, ACK: ack, FIN: fin, Window: 1000}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, eth, ip, tcp); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(at), CaptureLength: len(b), Length: len(b)}, b); err != nil {
			t.Fatal(err)
		}
	}
	pkt(0, "198.18.200.1", 1000, true, false, false)
	pkt(time.Millisecond, "198.18.200.1", 1000, false, true, false) // ACK: not new
	pkt(2*time.Millisecond, "198.18.200.2", 1001, true, false, false)
	pkt(3*time.Millisecond, "198.18.200.1", 1000, false, true, true) // FIN
	pkt(4*time.Millisecond, "198.18.200.3", 1002, true, false, false)
	f.Close()
	out, stderr, rc := runCmd(t, "simulate", "-s", "rr", "-r", "198.18.0.11:80:1", "-r", "198.18.0.12:80:1", "--pcap", path, "--trace")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr)
	}
	want := "198.18.200.1:1000 -> 198.18.0.12:80\n198.18.200.2:1001 -> 198.18.0.11:80\n198.18.200.3:1002 -> 198.18.0.12:80\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"simulate"}, // no servers
		{"simulate", "-s", "nope", "-r", "198.18.0.11:80:1"},
		{"simulate", "-s", "wrr", "-b", "sh-port", "-r", "198.18.0.11:80:1"},
		{"simulate", "-r", "198.18.0.11:80"},
		{"simulate", "-r", "198.18.0.11:80:1", "--at", "0:remove:198.18.0.11:80"},
	} {
		if _, stderr, rc := runCmd(t, args...); rc != 2 {
			t.Errorf("%v: rc %d (%s), want 2", args, rc, stderr)
		}
	}
}

// TestFromConfig takes the real servers and lb_algo of a virtual_server
// from a keepalived.conf (testdata/seed-configs' 000): wrr over
// .130 and .150 (weight 1 each), which keepalived adds in config order, so
// the kernel list is .150, .130.
func TestFromConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join("..", "..", "testdata", "seed-configs", "000-dr-wrr-tcpcheck-sorry.conf")
	out, stderr, rc := runCmd(t, "simulate", "-f", path, "--vs", "192.168.64.200:80", "-n", "4", "--trace")
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr)
	}
	want := "198.18.128.1:40000 -> 192.168.64.150:80\n198.18.128.2:40000 -> 192.168.64.130:80\n" +
		"198.18.128.3:40000 -> 192.168.64.150:80\n198.18.128.4:40000 -> 192.168.64.130:80\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if _, stderr, rc := runCmd(t, "simulate", "-f", path, "--vs", "192.168.64.201:80"); rc != 2 || !strings.Contains(stderr, "no virtual_server") {
		t.Errorf("unknown vs: rc %d, %s", rc, stderr)
	}
}
