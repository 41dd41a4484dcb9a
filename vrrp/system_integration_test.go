package vrrp

import (
	"context"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// TestSystemOnLinux runs a master with everything the Linux System does:
// VIPs with brd/label/scope, an excluded VIP, a virtual route and rule, an
// IPv6 VIP, use_vmac, and gratuitous ARP / unsolicited NA
// (garp_master_repeat 2, garp_master_delay 1 s). It checks them with ip(8)
// and a capture, then that a graceful stop removes it all, and that a
// restart sweeps stale VIPs a crash left.
func TestSystemOnLinux(t *testing.T) {
	t.Parallel()
	l := newLab(t, "u")
	topotest.Require(t, "tcpdump")
	pcap := filepath.Join(t.TempDir(), "garp.pcap")
	dump, err := l.nodes["client"].Start(t.TempDir(), "tcpdump", "-i", "eth0", "-U", "-w", pcap, "arp or icmp6")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	one, two := 1*time.Second, 2
	cfg := Config{Instances: []Instance{
		{Name: "VI_4", State: StateMaster, Interface: "eth0", VRID: 51, Priority: 255,
			VIPs: []VIP{
				{Prefix: netip.MustParsePrefix("198.18.0.100/24"), BroadcastAuto: true, Label: "eth0:vip", Scope: "global"},
				{Prefix: netip.MustParsePrefix("198.18.9.1/32"), Scope: "host"},
			},
			ExcludedVIPs:     []VIP{{Prefix: netip.MustParsePrefix("198.18.5.1/24")}},
			Routes:           []Route{{Dst: netip.MustParsePrefix("198.19.0.0/16"), Gateway: netip.MustParseAddr("198.18.0.1"), Table: 100}},
			Rules:            []Rule{{From: netip.MustParsePrefix("198.18.0.100/32"), Table: 100, Priority: 1000}},
			GARPMasterRepeat: &two, GARPMasterDelay: &one,
		},
		{Name: "VI_6", State: StateMaster, Interface: "eth0", VRID: 52, Priority: 255,
			VIPs: []VIP{{Prefix: netip.MustParsePrefix("2001:db8::100/64"), NoDAD: true}}, GARPMasterRepeat: &two, GARPMasterDelay: &one},
		{Name: "VI_V", State: StateMaster, Interface: "eth0", VRID: 53, Priority: 255, UseVMAC: true,
			VIPs: []VIP{{Prefix: netip.MustParsePrefix("198.18.0.200/24")}}, GARPMasterRepeat: &two, GARPMasterDelay: &one},
	}}
	u := l.startULVS("u", cfg)
	defer func() {
		if t.Failed() {
			t.Logf("ulvs:\n%s", tail(u.proc.Log(), 30))
		}
	}()
	n := l.nodes["u"]
	ip := func(args ...string) string {
		out, err := n.Output(context.Background(), "ip", args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	topotest.Eventually(t, 5*time.Second, "instances not master", func() bool {
		st := u.Status()
		for _, i := range st.Instances {
			if i.State != StateMaster {
				return false
			}
		}
		return len(st.Instances) == 3
	})
	addrs := ip("-o", "addr", "show")
	for _, want := range []string{
		"inet 198.18.0.100/24 brd 198.18.0.255 scope global secondary eth0:vip",
		"inet 198.18.9.1/32 scope host eth0",
		"inet 198.18.5.1/24 ",
		"inet6 2001:db8::100/64 scope global nodad",
		"vrrp.53    inet 198.18.0.200/24",
	} {
		if !strings.Contains(addrs, want) {
			t.Errorf("ip addr lacks %q:\n%s", want, addrs)
		}
	}
	if r := ip("route", "show", "table", "100"); !strings.Contains(r, "198.19.0.0/16 via 198.18.0.1 dev eth0") {
		t.Errorf("route table 100: %q", r)
	}
	if r := ip("rule", "show"); !strings.Contains(r, "1000:\tfrom 198.18.0.100 lookup 100") {
		t.Errorf("rules: %q", r)
	}
	link := ip("-d", "link", "show", "vrrp.53")
	if !strings.Contains(link, "link/ether 00:00:5e:00:01:35") || !strings.Contains(link, "macvlan mode private") {
		t.Errorf("vmac: %s", link)
	}
	// The VMAC answers ARP for its VIP with the virtual MAC (a connection
	// attempt makes the client resolve it; nothing listens there).
	_, _ = topotest.Curl(l.nodes["client"], time.Second, "http://198.18.0.200/")
	nb, _ := l.nodes["client"].Output(context.Background(), "ip", "neigh", "show", "198.18.0.200")
	if !strings.Contains(nb, "00:00:5e:00:01:35") {
		t.Errorf("client's neighbour entry for the VMAC VIP: %q", nb)
	}

	wants := []string{"garp 198.18.0.100 from", "garp 198.18.9.1 from", "garp 198.18.5.1 from",
		"garp 198.18.0.200 from 00:00:5e:00:01:35", "na 2001:db8::100"}
	counts := func() (map[string]int, []string) {
		out, _ := exec.Command("tshark", "-r", pcap, "-T", "fields", "-e", "eth.src", "-e", "arp.opcode", "-e", "arp.src.proto_ipv4",
			"-e", "arp.dst.proto_ipv4", "-e", "arp.dst.hw_mac", "-e", "icmpv6.type", "-e", "icmpv6.nd.na.target_address",
			"-e", "icmpv6.nd.na.flag.o", "-e", "ipv6.hlim", "-e", "_ws.expert").Output()
		count := map[string]int{}
		var warn []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(line, "\t")
			if len(f) < 10 {
				continue
			}
			ours := true
			switch {
			case f[1] == "1" && f[2] == f[3] && f[4] == "ff:ff:ff:ff:ff:ff":
				count["garp "+f[2]+" from "+f[0]]++
			case f[5] == "136" && f[7] == "1" && f[8] == "255":
				count["na "+f[6]]++
			default:
				ours = false // the client's own ARP and ND traffic
			}
			if ours && f[9] != "" {
				warn = append(warn, line)
			}
		}
		got := map[string]int{}
		for _, want := range wants {
			for k, v := range count {
				if strings.HasPrefix(k, want) {
					got[want] += v
				}
			}
		}
		return got, warn
	}
	// garp_master_repeat 2 at once and 2 after garp_master_delay; wait for
	// both bursts (tcpdump may lag on a loaded machine) before stopping
	// ulvs, which would cancel a late second burst, and tcpdump.
	slowly(t, 15*time.Second, "gratuitous ARP/NA missing from the capture", func() bool {
		got, _ := counts()
		for _, w := range wants {
			if got[w] < 4 {
				return false
			}
		}
		return true
	})
	// The second burst came (above): a graceful stop removes everything.
	_ = u.proc.Stop(5 * time.Second)
	addrs = ip("-o", "addr", "show")
	for _, gone := range []string{"198.18.0.100", "198.18.9.1", "198.18.5.1", "2001:db8::100", "vrrp.53"} {
		if strings.Contains(addrs, gone) {
			t.Errorf("%s still there after a graceful stop:\n%s", gone, addrs)
		}
	}
	if r := ip("route", "show", "table", "100"); strings.TrimSpace(r) != "" {
		t.Errorf("route table 100 after stop: %q", r)
	}
	if r := ip("rule", "show"); strings.Contains(r, "lookup 100") {
		t.Errorf("rule left after stop: %q", r)
	}
	_ = dump.Stop(2 * time.Second)
	got, warn := counts()
	for _, w := range wants {
		if got[w] != 4 {
			t.Errorf("%s: %d packets, want 4 (counts %v)", w, got[w], got)
		}
	}
	for _, w := range warn {
		t.Errorf("tshark warns about %q", w)
	}

	// A crash leaves the VIPs; the next start removes them before it goes
	// backup.
	u = l.startULVS("u", Config{Instances: []Instance{{Name: "VI_4", Interface: "eth0", VRID: 51, Priority: 255,
		VIPs: []VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}}}}})
	topotest.Eventually(t, 5*time.Second, "owner not master", func() bool { return u.Status().Instances[0].State == StateMaster })
	u.proc.Kill()
	if !strings.Contains(ip("-o", "addr", "show"), "198.18.0.100") {
		t.Fatal("kill -9 removed the VIP?")
	}
	u = l.startULVS("u", Config{Instances: []Instance{{Name: "VI_4", State: StateBackup, Interface: "eth0", VRID: 51,
		Priority: 100, VIPs: []VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}}}}})
	topotest.Eventually(t, 5*time.Second, "stale VIP not removed", func() bool {
		return u.Status().Instances[0].State == StateBackup && !strings.Contains(ip("-o", "addr", "show"), "198.18.0.100")
	})
}

// TestAnnounceAfterLinkCut: a master whose link was cut and comes back
// announces its VIP again when it becomes master (garp_master_repeat 1, no
// delayed burst: one gratuitous ARP each time). The kernel leaves
// ENETDOWN pending on the announcing packet socket when the link goes
// down and the next send returned it, so the one announcement after the
// link came back was lost (seen in make chaos's link cut as "cannot send
// gratuitous ARP/NA ... network is down" with the link up).
func TestAnnounceAfterLinkCut(t *testing.T) {
	t.Parallel()
	l := newLab(t, "u")
	topotest.Require(t, "tcpdump")
	pcap := filepath.Join(t.TempDir(), "garp.pcap")
	dump, err := l.nodes["client"].Start(t.TempDir(), "tcpdump", "-i", "eth0", "-U", "-w", pcap, "arp")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	one, none := 1, time.Duration(-1)
	cfg := Config{Instances: []Instance{{Name: "VI_1", State: StateMaster, Interface: "eth0", VRID: 61, Priority: 255,
		VIPs:             []VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}},
		GARPMasterRepeat: &one, GARPMasterDelay: &none}}}
	u := l.startULVS("u", cfg)
	defer func() {
		if t.Failed() {
			t.Logf("ulvs:\n%s", tail(u.proc.Log(), 30))
		}
	}()
	state := func() State {
		st := u.Status()
		if len(st.Instances) != 1 {
			return StateInit
		}
		return st.Instances[0].State
	}
	slowly(t, 10*time.Second, "never master", func() bool { return state() == StateMaster })
	garps := func() int {
		out, _ := exec.Command("tshark", "-r", pcap, "-Y", "arp.opcode == 1 && arp.src.proto_ipv4 == 198.18.0.100 && arp.dst.proto_ipv4 == 198.18.0.100",
			"-T", "fields", "-e", "frame.number").Output()
		return len(strings.Fields(string(out)))
	}
	slowly(t, 10*time.Second, "no gratuitous ARP when it first became master", func() bool { return garps() == 1 })
	n := l.nodes["u"]
	if err := n.IP("link", "set", "eth0", "down"); err != nil {
		t.Fatal(err)
	}
	slowly(t, 10*time.Second, "not FAULT with its link down", func() bool { return state() == StateFault })
	if err := n.IP("link", "set", "eth0", "up"); err != nil {
		t.Fatal(err)
	}
	slowly(t, 15*time.Second, "not master again with its link back", func() bool { return state() == StateMaster })
	slowly(t, 10*time.Second, "no gratuitous ARP when it became master again after the link cut", func() bool { return garps() == 2 })
	if strings.Contains(u.proc.Log(), "cannot send gratuitous ARP") {
		t.Errorf("an announcement failed:\n%s", tail(u.proc.Log(), 20))
	}
	_ = dump.Stop(2 * time.Second)
}
