package vrrp

import (
	"context"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// tsharkFields are the fields compared between keepalived's adverts and
// ulvs's: everything but what must differ (source address, IPv4 id, the
// checksum values, which cover the source, and AH's SPI, sequence number
// and ICV, which do too).
var tsharkFields = []string{
	"ip.version", "ip.hdr_len", "ip.dsfield", "ip.len", "ip.flags", "ip.frag_offset", "ip.ttl", "ip.proto", "ip.dst",
	"ip.checksum.status",
	"ipv6.tclass", "ipv6.plen", "ipv6.nxt", "ipv6.hlim", "ipv6.dst",
	"ah.next_header", "ah.length",
	"vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count", "vrrp.checksum.status",
	"vrrp.auth_type", "vrrp.adver_int", "vrrp.reserved_mbz", "vrrp.short_adver_int", "vrrp.ip_addr", "vrrp.ipv6_addr",
	"vrrp.auth_string",
	"_ws.expert", "_ws.malformed",
}

// TestWireMatchesKeepalived captures keepalived's adverts and ulvs's for
// the same settings and has tshark dissect both: the same fields, no
// checksum or malformed warnings.
func TestWireMatchesKeepalived(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ka   kaInstance
		in   Instance
	}{
		{"v2 pass",
			kaInstance{Version: 2, Advert: "1", Pass: "secret12", VIPs: []string{"198.18.0.100/24", "198.18.0.101/24"}},
			Instance{Version: 2, AdvertInt: time.Second, AuthType: AuthPass, AuthPass: "secret12",
				VIPs: []VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}, {Prefix: netip.MustParsePrefix("198.18.0.101/24")}}}},
		{"v2 ah",
			kaInstance{Version: 2, Advert: "1", AuthType: "AH", Pass: "secret", VIPs: []string{"198.18.0.100/24"}},
			Instance{Version: 2, AdvertInt: time.Second, AuthType: AuthAH, AuthPass: "secret",
				VIPs: []VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}}}},
		{"v3 ipv4",
			kaInstance{Version: 3, Advert: "0.5", VIPs: []string{"198.18.0.100/24"}},
			Instance{Version: 3, AdvertInt: 500 * time.Millisecond, VIPs: []VIP{{Prefix: netip.MustParsePrefix("198.18.0.100/24")}}}},
		{"v3 ipv6",
			kaInstance{Version: 3, Advert: "0.5", VIPs: []string{"2001:db8::100/64"}},
			Instance{Version: 3, AdvertInt: 500 * time.Millisecond, VIPs: []VIP{{Prefix: netip.MustParsePrefix("2001:db8::100/64")}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, "u", "k")
			topotest.Require(t, "tcpdump")
			pcap := filepath.Join(t.TempDir(), "vrrp.pcap")
			dump, err := l.nodes["client"].Start(t.TempDir(), "tcpdump", "-i", "eth0", "-U", "-w", pcap,
				"ip proto 112 or ip proto 51 or ip6 proto 112")
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // tcpdump opens its socket

			ka := tc.ka
			ka.Name, ka.State, ka.Iface, ka.VRID, ka.Prio = "VI_1", "MASTER", "eth0", 51, 255
			k := l.startKeepalived("k", ka.String())
			time.Sleep(2500 * time.Millisecond)
			_ = k.proc.Stop(5 * time.Second)

			in := tc.in
			in.Name, in.State, in.Interface, in.VRID, in.Priority = "VI_1", StateMaster, "eth0", 51, 255
			u := l.startULVS("u", Config{Instances: []Instance{in}})
			time.Sleep(2500 * time.Millisecond)
			_ = u.proc.Stop(5 * time.Second)
			// tcpdump may lag on a loaded machine: wait until both priority 0
			// adverts are in the capture before stopping it.
			ksrc, usrc := l.addrOf("k", ka.VIPs[0]), l.addrOf("u", ka.VIPs[0])
			slowly(t, 15*time.Second, "the capture lacks the priority 0 adverts", func() bool {
				m := dissectQuiet(pcap)
				last := func(src string) string {
					if ps := m[src]; len(ps) > 0 {
						return ps[len(ps)-1]["vrrp.prio"]
					}
					return ""
				}
				return last(ksrc) == "0" && last(usrc) == "0"
			})
			defer func() {
				if t.Failed() {
					out, _ := exec.Command("tshark", "-r", pcap).CombinedOutput()
					t.Logf("capture:\n%s\nulvs:\n%s", out, tail(u.proc.Log(), 20))
				}
			}()
			_ = dump.Stop(2 * time.Second)

			byNode := dissect(t, pcap)
			kp, up := byNode[ksrc], byNode[usrc]
			if len(kp) < 2 || len(up) < 2 {
				t.Fatalf("captured %d adverts from keepalived and %d from ulvs, want at least 2 each (by source: %v)",
					len(kp), len(up), keys(byNode))
			}
			// The first advert (priority 255) and the last (priority 0 on
			// the graceful stop) of each.
			for _, pick := range []struct {
				what string
				k, u map[string]string
			}{{"first advert", kp[0], up[0]}, {"priority 0 advert", kp[len(kp)-1], up[len(up)-1]}} {
				if diff := cmp.Diff(pick.k, pick.u); diff != "" {
					t.Errorf("%s: tshark fields (-keepalived +ulvs):\n%s", pick.what, diff)
				}
				for _, f := range []map[string]string{pick.k, pick.u} {
					if f["_ws.expert"] != "" || f["_ws.malformed"] != "" {
						t.Errorf("%s: tshark warns: %q %q", pick.what, f["_ws.expert"], f["_ws.malformed"])
					}
					// Wireshark's checksum status: 0 bad, 1 good, 2 unverified.
					if s := f["vrrp.checksum.status"]; s != "" && s != "1" {
						t.Errorf("%s: VRRP checksum status %q, want 1 (good)", pick.what, s)
					}
					if s := f["ip.checksum.status"]; s != "" && s != "1" {
						t.Errorf("%s: IPv4 checksum status %q, want 1 (good)", pick.what, s)
					}
				}
			}
			if kp[len(kp)-1]["vrrp.prio"] != "0" {
				t.Errorf("keepalived's last advert has priority %s, want 0", kp[len(kp)-1]["vrrp.prio"])
			}
		})
	}
}

// addrOf returns the node's source address for adverts of vip's family
// (its IPv4 address, or its IPv6 link-local one).
func (l *lab) addrOf(node, vip string) string {
	if !strings.Contains(vip, ":") {
		return l.addr(node).String()
	}
	out, err := l.nodes[node].Output(context.Background(), "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link")
	if err != nil {
		l.t.Fatal(err)
	}
	f := strings.Fields(out)
	for i, x := range f {
		if x == "inet6" && i+1 < len(f) {
			return strings.Split(f[i+1], "/")[0]
		}
	}
	l.t.Fatalf("no link-local address on %s", node)
	return ""
}

func keys(m map[string][]map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// dissect runs tshark over the capture and returns, per source address,
// the compared fields of every VRRP packet in order.
func dissect(t *testing.T, pcap string) map[string][]map[string]string {
	t.Helper()
	m, err := dissectErr(pcap)
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	return m
}

// dissectQuiet is dissect for polling: errors (a capture still being
// written) read as nothing yet.
func dissectQuiet(pcap string) map[string][]map[string]string {
	m, _ := dissectErr(pcap)
	return m
}

func dissectErr(pcap string) (map[string][]map[string]string, error) {
	args := []string{"-r", pcap, "-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
		"-E", "aggregator=,", "-e", "ip.src", "-e", "ipv6.src"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil && len(out) == 0 {
		return nil, err
	}
	res := map[string][]map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		v := strings.Split(line, "|")
		if len(v) != len(tsharkFields)+2 {
			continue
		}
		src := v[0]
		if src == "" {
			src = v[1]
		}
		m := map[string]string{}
		for i, f := range tsharkFields {
			m[f] = v[i+2]
		}
		res[src] = append(res[src], m)
	}
	return res, nil
}
