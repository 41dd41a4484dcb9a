package ipvsfmt

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/sched"
)

var ip = netip.MustParseAddr

// seedDR is the user's 001 DR service as ulvsd would report it.
func seedDR() *ctl.IPVS {
	return &ctl.IPVS{Version: "1.2.1", Size: 4096, Services: []ctl.Service{{
		Proto: "TCP", Addr: ip("192.168.166.100"), Port: 80, Sched: "rr", Netmask: 32, Enabled: true,
		Dests: []ctl.Dest{
			// Kernel list order is newest first; ipvsadm sorts.
			{Addr: ip("192.168.166.131"), Port: 80, Method: "Route", Weight: 1, Active: 3, Inactive: 12},
			{Addr: ip("192.168.166.129"), Port: 80, Method: "Route", Weight: 1, Active: 2},
		},
	}}}
}

// The expected texts follow ipvsadm 1.31's printf formats column for
// column, trailing blanks included.
func TestTableFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		t    *ctl.IPVS
		f    Format
		want string
	}{
		{
			name: "the user's DR pair",
			t:    seedDR(),
			f:    Numeric,
			want: "IP Virtual Server version 1.2.1 (size=4096)\n" +
				"Prot LocalAddress:Port Scheduler Flags\n" +
				"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
				"TCP  192.168.166.100:80 rr\n" +
				"  -> 192.168.166.129:80           Route   1      2          0         \n" +
				"  -> 192.168.166.131:80           Route   1      3          12        \n",
		},
		{
			name: "persistence, mask, flags, ops; services sorted like libipvs",
			t: &ctl.IPVS{Version: "1.2.1", Size: 4096, Services: []ctl.Service{
				{Proto: "UDP", Addr: ip("198.18.0.100"), Port: 53, Sched: "sh", Flags: sched.FlagSched1 | sched.FlagSched2 | ctl.FlagOnePacket, Netmask: 32},
				{Proto: "TCP", Addr: ip("198.18.0.100"), Port: 443, Sched: "wlc", Flags: ctl.FlagPersistent, Timeout: 360, Netmask: 24,
					Dests: []ctl.Dest{{Addr: ip("198.18.0.12"), Port: 443, Method: "Masq", Weight: 5}}},
				{Proto: "TCP", Addr: ip("198.18.0.100"), Port: 80, Sched: "mh", Flags: sched.FlagSched2, Netmask: 32},
				{FWMark: 7, Sched: "rr", Netmask: 32,
					Dests: []ctl.Dest{{Addr: ip("198.18.0.13"), Port: 0, Method: "Tunnel", Weight: 1}}},
			}},
			f: Numeric,
			want: "IP Virtual Server version 1.2.1 (size=4096)\n" +
				"Prot LocalAddress:Port Scheduler Flags\n" +
				"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
				"TCP  198.18.0.100:80 mh (mh-port)\n" +
				"TCP  198.18.0.100:443 wlc persistent 360 mask 255.255.255.0\n" +
				"  -> 198.18.0.12:443              Masq    5      0          0         \n" +
				"UDP  198.18.0.100:53 sh (sh-fallback,sh-port) ops\n" +
				"FWM  7 rr\n" +
				"  -> 198.18.0.13:0                Tunnel  1      0          0         \n",
		},
		{
			name: "IPv6 service and addresses in brackets",
			t: &ctl.IPVS{Version: "1.2.1", Size: 4096, Services: []ctl.Service{
				{Proto: "TCP", Addr: ip("2001:db8::100"), Port: 80, IPv6: true, Sched: "rr", Flags: ctl.FlagPersistent, Timeout: 50, Netmask: 64,
					Dests: []ctl.Dest{{Addr: ip("2001:db8::11"), Port: 80, Method: "Route", Weight: 1}}},
			}},
			want: "IP Virtual Server version 1.2.1 (size=4096)\n" +
				"Prot LocalAddress:Port Scheduler Flags\n" +
				"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
				"TCP  [2001:db8::100]:80 rr persistent 50 mask 64\n" +
				"  -> [2001:db8::11]:80            Route   1      0          0         \n",
		},
		{
			name: "--stats abbreviates large counters",
			t: &ctl.IPVS{Version: "1.2.1", Size: 4096, Services: []ctl.Service{{
				Proto: "TCP", Addr: ip("198.18.0.100"), Port: 80, Sched: "rr", Netmask: 32,
				Stats: ctl.Stats{Conns: 200, InPkts: 123456789, OutPkts: 99999999, InBytes: 12345678901, OutBytes: 123456789012345},
				Dests: []ctl.Dest{{Addr: ip("198.18.0.11"), Port: 80, Method: "Route", Weight: 1,
					Stats: ctl.Stats{Conns: 100, InPkts: 1000, OutPkts: 0, InBytes: 64000, OutBytes: 0}}},
			}}},
			f: Numeric | Stats,
			want: "IP Virtual Server version 1.2.1 (size=4096)\n" +
				"Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n" +
				"  -> RemoteAddress:Port\n" +
				"TCP  198.18.0.100:80                   200  123456K 99999999   12345M     123T\n" +
				"  -> 198.18.0.11:80                    100     1000        0    64000        0\n",
		},
		{
			name: "--rate",
			t: &ctl.IPVS{Version: "1.2.1", Size: 4096, Services: []ctl.Service{{
				Proto: "TCP", Addr: ip("198.18.0.100"), Port: 80, Sched: "rr", Netmask: 32,
				Rates: ctl.Rates{CPS: 20, InPPS: 200, OutPPS: 180, InBPS: 16000, OutBPS: 240000},
				Dests: []ctl.Dest{{Addr: ip("198.18.0.11"), Port: 80, Method: "Route", Weight: 1,
					Rates: ctl.Rates{CPS: 10, InPPS: 100, OutPPS: 90, InBPS: 8000, OutBPS: 120000}}},
			}}},
			f: Numeric | Rate,
			want: "IP Virtual Server version 1.2.1 (size=4096)\n" +
				"Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n" +
				"  -> RemoteAddress:Port\n" +
				"TCP  198.18.0.100:80                    20      200      180    16000   240000\n" +
				"  -> 198.18.0.11:80                     10      100       90     8000   120000\n",
		},
		{
			name: "-S rules",
			t: &ctl.IPVS{Version: "1.2.1", Size: 4096, Services: []ctl.Service{{
				Proto: "TCP", Addr: ip("198.18.0.100"), Port: 80, Sched: "wrr", Flags: ctl.FlagPersistent, Timeout: 50, Netmask: 24,
				Dests: []ctl.Dest{{Addr: ip("198.18.0.11"), Port: 80, Method: "Route", Weight: 3}},
			}}},
			f: Numeric | Rule,
			want: "-A -t 198.18.0.100:80 -s wrr -p 50 -M 255.255.255.0\n" +
				"-a -t 198.18.0.100:80 -r 198.18.0.11:80 -g -w 3\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			Table(&b, tc.t, tc.f)
			if d := cmp.Diff(tc.want, b.String()); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// libipvs compares addresses by an unsigned difference read as an int, so
// 10.0.0.1 sorts after 192.168.0.1: ipvsadm shows them in that order.
func TestSortOverflowQuirk(t *testing.T) {
	t.Parallel()
	s := []ctl.Service{
		{Proto: "TCP", Addr: ip("10.0.0.1"), Port: 80},
		{Proto: "TCP", Addr: ip("192.168.0.1"), Port: 80},
		{Proto: "TCP", Addr: ip("192.168.0.1"), Port: 22},
	}
	SortServices(s)
	got := []string{s[0].Addr.String() + ":" + itoa(s[0].Port), s[1].Addr.String() + ":" + itoa(s[1].Port), s[2].Addr.String() + ":" + itoa(s[2].Port)}
	want := []string{"192.168.0.1:22", "192.168.0.1:80", "10.0.0.1:80"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func itoa(p uint16) string { return netip.AddrPortFrom(netip.IPv4Unspecified(), p).String()[8:] }

func TestConnsFormat(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	Conns(&b, []ctl.Conn{
		{Proto: "TCP", Expires: 899, State: "ESTABLISHED", Source: netip.MustParseAddrPort("198.18.128.1:40000"),
			Virtual: netip.MustParseAddrPort("198.18.0.100:80"), Dest: netip.MustParseAddrPort("198.18.0.11:80")},
		{Proto: "IP", Expires: 5, State: "NONE", Source: netip.MustParseAddrPort("198.18.128.0:0"),
			Virtual: netip.MustParseAddrPort("0.0.0.7:0"), Dest: netip.MustParseAddrPort("198.18.0.11:0")},
	})
	want := "IPVS connection entries\n" +
		"pro expire state       source             virtual            destination\n" +
		"TCP 14:59  ESTABLISHED 198.18.128.1:40000 198.18.0.100:80    198.18.0.11:80\n" +
		"IP  00:05  NONE        198.18.128.0:0     0.0.0.7:0          198.18.0.11:0\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestTunnelInfoColumn(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	Table(&b, &ctl.IPVS{Version: "1.2.1", Size: 4096, Services: []ctl.Service{{
		Proto: "TCP", Addr: ip("198.18.0.100"), Port: 80, Sched: "rr", Netmask: 32,
		Dests: []ctl.Dest{
			{Addr: ip("198.18.0.11"), Port: 80, Method: "Tunnel", TunnelType: "gue", TunnelPort: 6080, Weight: 1},
			{Addr: ip("198.18.0.12"), Port: 80, Method: "Route", Weight: 1},
		},
	}}}, Numeric)
	want := "IP Virtual Server version 1.2.1 (size=4096)\n" +
		"Prot LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n" +
		"TCP  198.18.0.100:80 rr\n" +
		"  -> 198.18.0.11:80               Tunnel  gue:6080:nocsum 1      0          0         \n" +
		"  -> 198.18.0.12:80               Route   n/a           1      0          0         \n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
