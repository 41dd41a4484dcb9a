package conf

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const bgpGood = `! a director behind ECMP
bgp {
    router_id 198.18.0.2
    local_as 65001
    shutdown_grace 2
    maintenance_file /run/ulvs/maintenance
}
$ROUTER=198.18.0.1
neighbor $ROUTER {
    remote_as 65000
    local_address 198.18.0.2
    hold_time 9
    bfd {
        interval 100
    }
}
neighbor 198.18.0.9 { remote_as 65009
  bfd
  passive }
prefix 198.18.0.100/32 {
    virtual_server 198.18.0.100 80
    virtual_server 198.18.0.100 53 udp
    quorum 2
    track_instance VI_1
    med 100
    community 65000:100 65000:7
}
prefix 198.18.0.128/25 {
    directors single
}
`

func TestParseBGP(t *testing.T) {
	t.Parallel()
	b, diags, err := ParseBGP("bgp.conf", []byte(bgpGood), Options{ConfigID: "d1"})
	if err != nil {
		t.Fatalf("%v\n%s", err, diags)
	}
	want := &BGP{
		Files: []string{"bgp.conf"}, Pos: Pos{"bgp.conf", 2},
		RouterID: netip.MustParseAddr("198.18.0.2"), LocalAS: 65001, Grace: 2 * time.Second,
		MaintenanceFile: "/run/ulvs/maintenance",
		Neighbors: []*BGPNeighbor{
			{Pos: Pos{"bgp.conf", 9}, Addr: netip.MustParseAddr("198.18.0.1"), RemoteAS: 65000,
				LocalAddr: netip.MustParseAddr("198.18.0.2"), Port: 179, HoldTime: 9 * time.Second,
				Keepalive: 3 * time.Second, ConnectRetry: time.Second,
				BFD: &BGPBFD{Pos: Pos{"bgp.conf", 13}, Interval: 100 * time.Millisecond, Multiplier: 3}},
			{Pos: Pos{"bgp.conf", 17}, Addr: netip.MustParseAddr("198.18.0.9"), RemoteAS: 65009, Port: 179,
				HoldTime: 3 * time.Second, Keepalive: time.Second, ConnectRetry: time.Second, Passive: true,
				BFD: &BGPBFD{Pos: Pos{"bgp.conf", 18}, Interval: 300 * time.Millisecond, Multiplier: 3}},
		},
		Prefixes: []*BGPPrefix{
			{Pos: Pos{"bgp.conf", 20}, Prefix: netip.MustParsePrefix("198.18.0.100/32"),
				VirtualServers: []BGPVirtualServer{
					{Pos: Pos{"bgp.conf", 21}, Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Protocol: "TCP"},
					{Pos: Pos{"bgp.conf", 22}, Addr: netip.MustParseAddr("198.18.0.100"), Port: 53, Protocol: "UDP"}},
				Quorum: 2, TrackInstance: "VI_1", MED: 100, MEDSet: true, Communities: []uint32{65000<<16 | 100, 65000<<16 | 7}},
			{Pos: Pos{"bgp.conf", 28}, Prefix: netip.MustParsePrefix("198.18.0.128/25"), Single: true},
		},
	}
	if diff := cmp.Diff(want, b, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(diags) != 0 {
		t.Errorf("diagnostics: %s", diags)
	}
}

// TestParseBGPErrors: every mistake is reported at its file and line, and
// a broken file returns an error (ulvsd keeps what runs).
func TestParseBGPErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text, want string
	}{
		{"no bgp block", "neighbor 198.18.0.1 { remote_as 1 }\n", "b.conf:1: error: no bgp block"},
		{"router id v6", "bgp {\nrouter_id 2001:db8::1\nlocal_as 1\n}\n", "b.conf:2: error: router_id: BGP identifiers are IPv4"},
		{"no local as", "bgp {\nrouter_id 198.18.0.2\n}\n", "b.conf:1: error: bgp: local_as missing"},
		{"bad as", "bgp {\nrouter_id 198.18.0.2\nlocal_as 0\n}\n", "b.conf:3: error: local_as: '0' is not a number"},
		{"unknown keyword", "bgp {\nrouter_id 198.18.0.2\nlocal_as 1\nfoo 1\n}\n", "b.conf:4: error: unknown keyword 'foo' in bgp"},
		{"hold time", "bgp {\nrouter_id 198.18.0.2\nlocal_as 1\n}\nneighbor 198.18.0.1 {\nremote_as 2\nhold_time 2\n}\n", "b.conf:7: error: hold_time: 2 s"},
		{"no remote as", "bgp {\nrouter_id 198.18.0.2\nlocal_as 1\n}\nneighbor 198.18.0.1 {\n}\n", "b.conf:5: error: neighbor 198.18.0.1: remote_as missing"},
		{"dup neighbor", "bgp {\nrouter_id 198.18.0.2\nlocal_as 1\n}\nneighbor 198.18.0.1 {\nremote_as 2\n}\nneighbor 198.18.0.1 {\nremote_as 2\n}\n", "b.conf:8: error: neighbor 198.18.0.1: already defined at b.conf:5"},
		{"bfd multihop", "bgp {\nrouter_id 198.18.0.2\nlocal_as 1\n}\nneighbor 198.18.0.1 {\nremote_as 2\nmultihop 2\nbfd\n}\n", "b.conf:8: error: neighbor 198.18.0.1: bfd: GoBGP's BFD is single-hop"},
		{"host bits", "bgp {\nrouter_id 198.18.0.2\nlocal_as 1\n}\nprefix 198.18.0.1/24 {\n}\n", "b.conf:5: error: prefix: 198.18.0.1/24 has host bits set"},
		{"vs outside", "bgp {\nrouter_id 198.18.0.2\nlocal_as 1\n}\nprefix 198.18.0.100/32 {\nvirtual_server 198.18.0.7 80\n}\n", "b.conf:6: error: virtual_server: 198.18.0.7 is outside prefix"},
		{"unclosed", "bgp {\nrouter_id 198.18.0.2\nlocal_as 1\n", "b.conf:1: error: bgp: block opened here is never closed"},
		{"directors", "bgp {\nrouter_id 198.18.0.2\nlocal_as 1\n}\nprefix 198.18.0.100/32 {\ndirectors many\n}\n", "b.conf:6: error: directors: 'many' is not multi or single"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, diags, err := ParseBGP("b.conf", []byte(tc.text), Options{ConfigID: "x"})
			if err == nil {
				t.Fatalf("no error; diagnostics:\n%s", diags)
			}
			if !strings.Contains(diags.String(), tc.want) {
				t.Errorf("diagnostics:\n%swant a line containing %q", diags, tc.want)
			}
		})
	}
}

const keepalivedForBGP = `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        198.18.0.200
    }
}
virtual_server 198.18.0.100 80 {
    lb_algo mh
    lb_kind DR
    protocol TCP
    real_server 198.18.0.11 80 {
    }
}
virtual_server 198.18.0.100 53 {
    lb_algo rr
    lb_kind DR
    protocol UDP
    real_server 198.18.0.11 53 {
    }
}
virtual_server 198.18.0.101 80 {
    lb_algo mh
    lb_kind NAT
    protocol TCP
    real_server 198.18.0.11 80 {
    }
}
`

func TestCheckBGP(t *testing.T) {
	t.Parallel()
	kc, err := Parse("keepalived.conf", []byte(keepalivedForBGP), Options{ConfigID: "x"})
	if err != nil {
		t.Fatalf("%v", err)
	}
	const head = "bgp {\nrouter_id 198.18.0.2\nlocal_as 1\n}\n"
	for _, tc := range []struct {
		name, text string
		vss        []string // per prefix, "proto addr:port" joined with ","
		want       []string // diagnostics, in order
	}{
		{"auto", head + "prefix 198.18.0.100/32 {\n}\n", []string{"TCP 198.18.0.100:80,UDP 198.18.0.100:53"},
			[]string{"b.conf:5: warning: prefix 198.18.0.100/32: virtual_server UDP 198.18.0.100:53 schedules with rr, which is not consistent"}},
		{"named", head + "prefix 198.18.0.100/32 {\nvirtual_server 198.18.0.100 80\ntrack_instance VI_1\n}\n", []string{"TCP 198.18.0.100:80"}, nil},
		{"nat multi", head + "prefix 198.18.0.101/32 {\n}\n", []string{"TCP 198.18.0.101:80"},
			[]string{"b.conf:5: error: prefix 198.18.0.101/32: virtual_server TCP 198.18.0.101:80 (keepalived.conf:22) forwards by NAT"}},
		{"nat single", head + "prefix 198.18.0.101/32 {\ndirectors single\n}\n", []string{"TCP 198.18.0.101:80"}, nil},
		{"missing", head + "prefix 198.18.0.100/32 {\nvirtual_server 198.18.0.100 81\n}\nprefix 198.18.1.0/24 {\n}\n", []string{"", ""},
			[]string{"b.conf:6: error: virtual_server TCP 198.18.0.100:81: no such virtual_server in keepalived.conf",
				"b.conf:8: error: prefix 198.18.1.0/24: no virtual_server of keepalived.conf"}},
		{"instance", head + "prefix 198.18.0.100/32 {\nvirtual_server 198.18.0.100 80\ntrack_instance VI_9\n}\n", []string{"TCP 198.18.0.100:80"},
			[]string{"b.conf:5: error: prefix 198.18.0.100/32: track_instance VI_9: no such vrrp_instance"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, diags, err := ParseBGP("b.conf", []byte(tc.text), Options{ConfigID: "x"})
			if err != nil {
				t.Fatalf("%v\n%s", err, diags)
			}
			res, cd := CheckBGP(b, kc.Config)
			var got []string
			for _, vss := range res {
				var names []string
				for _, vs := range vss {
					names = append(names, bgpVSName(vs))
				}
				got = append(got, strings.Join(names, ","))
			}
			if diff := cmp.Diff(tc.vss, got); diff != "" {
				t.Errorf("virtual servers (-want +got):\n%s", diff)
			}
			if len(cd) != len(tc.want) {
				t.Fatalf("diagnostics:\n%swant %d", cd, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(cd[i].String(), w) {
					t.Errorf("diagnostic %d: %s\nwant prefix %s", i, cd[i], w)
				}
			}
		})
	}
}

// FuzzParseBGP: no input makes the BGP reader panic.
func FuzzParseBGP(f *testing.F) {
	f.Add([]byte(bgpGood))
	f.Add([]byte("bgp { router_id 1.2.3.4 local_as 1 }\nprefix ::/0 { directors single }"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = ParseBGP("fuzz.conf", data, Options{ConfigID: "x", noInclude: true})
	})
}
