package kview

import (
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var addrs = cmpopts.EquateComparable(netip.Addr{})

func a(s string) netip.Addr { return netip.MustParseAddr(s) }

// The table the fixtures show: captured from Debian's 6.1 kernel in the
// VM after
//
//	ipvsadm -A -t 198.18.0.100:80 -s wrr -p 50 -M 255.255.255.0
//	ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.11:80 -m -w 2 -x 100 -y 10
//	ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.12:80 -g -w 1
//	ipvsadm -A -u 198.18.0.100:53 -s sh -b sh-fallback,sh-port -o
//	ipvsadm -a -u 198.18.0.100:53 -r 198.18.0.11:53 -m
//	ipvsadm -A -f 7 -s mh -p 20
//	ipvsadm -a -f 7 -r 198.18.0.12 -i
//	ipvsadm -A -t [2001:db8::100]:80 -s rr -p 30 -M 64
//	ipvsadm -a -t [2001:db8::100]:80 -r [2001:db8::11]:80 -m
//
// and one connection attempt to 198.18.0.100:80 (scheduled to .12).
func wantProc() []Service {
	return []Service{
		{Proto: "TCP", Addr: a("2001:db8::100"), Port: 80, Sched: "rr", Timeout: 30, Netmask: 64,
			Dests: []Dest{{Addr: a("2001:db8::11"), Port: 80, Forward: "Masq", Weight: 1}}},
		{Proto: "TCP", Addr: a("198.18.0.100"), Port: 80, Sched: "wrr", Timeout: 50, Netmask: 24,
			Dests: []Dest{
				{Addr: a("198.18.0.12"), Port: 80, Forward: "Route", Weight: 1, Active: 1},
				{Addr: a("198.18.0.11"), Port: 80, Forward: "Masq", Weight: 2},
			}},
		{Proto: "UDP", Addr: a("198.18.0.100"), Port: 53, Sched: "sh", OnePacket: true, Netmask: -1,
			Dests: []Dest{{Addr: a("198.18.0.11"), Port: 53, Forward: "Masq", Weight: 1}}},
		{Proto: "FWM", FWMark: 7, Sched: "mh", Timeout: 20, Netmask: 32,
			Dests: []Dest{{Addr: a("198.18.0.12"), Forward: "Tunnel", Weight: 1}}},
	}
}

func TestParseProc(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/proc_ip_vs.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseProc(b, 250)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantProc(), got, addrs); diff != "" {
		t.Errorf("ParseProc (-want +got):\n%s", diff)
	}
}

func TestParseIpvsadm(t *testing.T) {
	t.Parallel()
	svc := func(proto, addr string, port uint16, mark uint32) Service {
		s := Service{Proto: proto, Port: port, FWMark: mark, Netmask: -1}
		if addr != "" {
			s.Addr = a(addr)
		}
		return s
	}
	// ipvsadm sorts destinations by address.
	def := []Service{
		svc("TCP", "198.18.0.100", 80, 0), svc("UDP", "198.18.0.100", 53, 0), svc("TCP", "2001:db8::100", 80, 0), svc("FWM", "", 0, 7),
	}
	def[0].Sched, def[0].Timeout, def[0].Netmask = "wrr", 50, 24
	def[0].Dests = []Dest{{Addr: a("198.18.0.11"), Port: 80, Forward: "Masq", Weight: 2},
		{Addr: a("198.18.0.12"), Port: 80, Forward: "Route", Weight: 1, Active: 1}}
	def[1].Sched, def[1].Flags, def[1].OnePacket = "sh", []string{"sh-fallback", "sh-port"}, true
	def[1].Dests = []Dest{{Addr: a("198.18.0.11"), Port: 53, Forward: "Masq", Weight: 1}}
	def[2].Sched, def[2].Timeout, def[2].Netmask = "rr", 30, 64
	def[2].Dests = []Dest{{Addr: a("2001:db8::11"), Port: 80, Forward: "Masq", Weight: 1}}
	def[3].Sched, def[3].Timeout = "mh", 20
	def[3].Dests = []Dest{{Addr: a("198.18.0.12"), Forward: "Tunnel", Weight: 1}}

	thr := cloneSvcs(def)
	for i := range thr {
		for j := range thr[i].Dests {
			d := &thr[i].Dests[j]
			d.Forward, d.Weight = "", 0
		}
	}
	thr[0].Dests[0].UThresh, thr[0].Dests[0].LThresh = 100, 10

	per := cloneSvcs(def)
	for i := range per {
		for j := range per[i].Dests {
			per[i].Dests[j].Forward = ""
		}
	}
	per[0].Dests[1].PersistConn = 1

	stats := cloneSvcs(def)
	for i := range stats {
		s := &stats[i]
		s.Sched, s.Flags, s.OnePacket, s.Timeout, s.Netmask = "", nil, false, 0, -1
		s.Stats = &Counters{}
		for j := range s.Dests {
			s.Dests[j] = Dest{Addr: s.Dests[j].Addr, Port: s.Dests[j].Port, Stats: &Counters{}}
		}
	}
	stats[0].Stats = &Counters{Conns: 1, InPkts: 3, InBytes: 180}
	stats[0].Dests[1].Stats = &Counters{Conns: 1, InPkts: 3, InBytes: 180}

	tests := []struct {
		file string
		view View
		want []Service
	}{
		{"ipvsadm_Ln.txt", ViewDefault, def},
		{"ipvsadm_Ln_thresholds.txt", ViewThresholds, thr},
		{"ipvsadm_Ln_persistent.txt", ViewPersistent, per},
		{"ipvsadm_Ln_stats.txt", ViewStats, stats},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got, view, err := ParseIpvsadm(b)
			if err != nil {
				t.Fatal(err)
			}
			if view != tt.view {
				t.Errorf("view %v, want %v", view, tt.view)
			}
			if diff := cmp.Diff(tt.want, got, addrs); diff != "" {
				t.Errorf("ParseIpvsadm (-want +got):\n%s", diff)
			}
		})
	}
}

func cloneSvcs(in []Service) []Service {
	out := make([]Service, len(in))
	for i, s := range in {
		s.Dests = append([]Dest(nil), s.Dests...)
		s.Flags = append([]string(nil), s.Flags...)
		if len(s.Flags) == 0 {
			s.Flags = nil
		}
		out[i] = s
	}
	return out
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	const head = "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
	procBad := []string{
		head + "  -> C612000C:0050      Route   1      1          0\n",
		head + "TCP  C6120064:0050 wrr persistent 12501 FFFFFF00\n",
		head + "TCP  C6120064:0050 wrr persistent 12500 FF00FF00\n",
		head + "ICMP  C6120064:0050 wrr\n",
		head + "TCP  C6120064:050 wrr\n",
		head + "TCP  C6120064:0050 wrr\n  -> C612000C:0050      Bounce   1      1          0\n",
	}
	for _, s := range procBad {
		if _, err := ParseProc([]byte(s), 250); err == nil {
			t.Errorf("ParseProc accepted %q", s)
		}
	}
	admBad := []string{
		"nothing",
		"IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Something\n\n",
		head[:len(head)-len("  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n")] +
			"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\nTCP  198.18.0.100:80 wrr persistent x\n",
		"IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\nTCP  198.18.0.100:80  1K 3 0 180 0\n",
	}
	for _, s := range admBad {
		if _, _, err := ParseIpvsadm([]byte(s)); err == nil {
			t.Errorf("ParseIpvsadm accepted %q", s)
		}
	}
}

func FuzzProc(f *testing.F) {
	if b, err := os.ReadFile("testdata/proc_ip_vs.txt"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("FWM  00000007 mh ops persistent 5000 FFFFFFFF\n  -> C612000C:0000      Tunnel  1      0          0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		svcs, err := ParseProc(b, 250)
		if err != nil {
			return
		}
		out, err := AppendProc(nil, svcs, 250)
		if err != nil {
			t.Fatalf("AppendProc of a parsed table: %v", err)
		}
		again, err := ParseProc(out, 250)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if diff := cmp.Diff(svcs, again, addrs); diff != "" {
			t.Fatalf("not a fixed point (-first +second):\n%s", diff)
		}
	})
}

func FuzzIpvsadm(f *testing.F) {
	for _, n := range []string{"ipvsadm_Ln.txt", "ipvsadm_Ln_thresholds.txt", "ipvsadm_Ln_persistent.txt", "ipvsadm_Ln_stats.txt"} {
		if b, err := os.ReadFile("testdata/" + n); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		svcs, view, err := ParseIpvsadm(b)
		if err != nil {
			return
		}
		out, err := AppendIpvsadm(nil, svcs, view)
		if err != nil {
			t.Fatalf("AppendIpvsadm of a parsed listing: %v", err)
		}
		again, view2, err := ParseIpvsadm(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if view2 != view {
			t.Fatalf("view %v became %v", view, view2)
		}
		if diff := cmp.Diff(svcs, again, addrs); diff != "" {
			t.Fatalf("not a fixed point (-first +second):\n%s", diff)
		}
	})
}
