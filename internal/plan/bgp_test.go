package plan

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/health"
	"github.com/ulvs/ulvs/route"
	"github.com/ulvs/ulvs/sched"
)

// TestNeighbors: every neighbour setting reaches route's speaker, BFD only
// where the file has it.
func TestNeighbors(t *testing.T) {
	t.Parallel()
	b := &conf.BGP{Neighbors: []*conf.BGPNeighbor{
		{Addr: netip.MustParseAddr("198.18.0.1"), RemoteAS: 65000, LocalAddr: netip.MustParseAddr("198.18.0.2"),
			Port: 1179, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second, ConnectRetry: 2 * time.Second,
			Passive: true, MultihopTTL: 2, Password: "pw", BFD: &conf.BGPBFD{Interval: 100 * time.Millisecond, Multiplier: 5}},
		{Addr: netip.MustParseAddr("2001:db8::1"), RemoteAS: 65001},
	}}
	got := Neighbors(b)
	want := []route.Neighbor{
		{Addr: netip.MustParseAddr("198.18.0.1"), RemoteAS: 65000, LocalAddr: netip.MustParseAddr("198.18.0.2"),
			Port: 1179, HoldTime: 9 * time.Second, Keepalive: 3 * time.Second, ConnectRetry: 2 * time.Second,
			Passive: true, MultihopTTL: 2, Password: "pw", BFD: &route.BFD{Interval: 100 * time.Millisecond, Multiplier: 5}},
		{Addr: netip.MustParseAddr("2001:db8::1"), RemoteAS: 65001},
	}
	if len(got) != len(want) {
		t.Fatalf("%d neighbours, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if (g.BFD == nil) != (w.BFD == nil) || g.BFD != nil && *g.BFD != *w.BFD {
			t.Errorf("neighbour %d: BFD %+v, want %+v", i, g.BFD, w.BFD)
		}
		g.BFD, w.BFD = nil, nil
		if g != w {
			t.Errorf("neighbour %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// TestECMPAdjust: the virtual servers of a prefix several directors
// announce get mh-ecmp (userspace; a note for kernel IPVS) and
// inhibit_on_failure, each once; a single director's are left alone.
func TestECMPAdjust(t *testing.T) {
	t.Parallel()
	vs := func(port uint16, s string, inhibit bool) *conf.VirtualServer {
		return &conf.VirtualServer{Pos: conf.Pos{File: "k.conf", Line: int(port)}, Port: port, Sched: s,
			InhibitOnFailure: inhibit, RealServers: []*conf.RealServer{{}, {}}}
	}
	for _, kernel := range []bool{false, true} {
		mh, rr, done, single := vs(1, "mh", false), vs(2, "rr", false), vs(3, "mh", true), vs(4, "mh", false)
		b := &conf.BGP{Prefixes: []*conf.BGPPrefix{{}, {}, {Single: true}}}
		if !ECMP(b) || ECMP(&conf.BGP{Prefixes: []*conf.BGPPrefix{{Single: true}}}) || ECMP(nil) {
			t.Fatal("ECMP does not say whether some prefix is announced by several directors")
		}
		// mh is named by two prefixes: it is adjusted (and noted) once.
		notes := ECMPAdjust(b, [][]*conf.VirtualServer{{mh, rr}, {mh, done}, {single}}, kernel)
		for _, v := range []*conf.VirtualServer{mh, rr, done} {
			if !v.InhibitOnFailure || !v.RealServers[0].InhibitOnFailure || !v.RealServers[1].InhibitOnFailure {
				t.Errorf("kernel %t: %s: inhibit_on_failure not implied", kernel, v.Pos)
			}
		}
		if single.InhibitOnFailure || single.SchedFlags != 0 || single.RealServers[0].InhibitOnFailure {
			t.Errorf("kernel %t: a single director's virtual server was changed: %+v", kernel, single)
		}
		wantFlag := uint32(sched.FlagECMP)
		if kernel {
			wantFlag = 0
		}
		if mh.SchedFlags != wantFlag || done.SchedFlags != wantFlag || rr.SchedFlags != 0 {
			t.Errorf("kernel %t: flags mh %#x, mh (inhibiting) %#x, rr %#x; want %#x on mh", kernel, mh.SchedFlags,
				done.SchedFlags, rr.SchedFlags, wantFlag)
		}
		implied := 0
		kernelNotes := 0
		for _, n := range notes {
			switch {
			case strings.Contains(n, "inhibit_on_failure implied"):
				implied++
			case strings.Contains(n, "kernel IPVS's mh"):
				kernelNotes++
			default:
				t.Errorf("kernel %t: unexpected note %q", kernel, n)
			}
		}
		wantKernel := 0
		if kernel {
			wantKernel = 2
		}
		if implied != 2 || kernelNotes != wantKernel {
			t.Errorf("kernel %t: notes %q: want 2 inhibit_on_failure notes and %d kernel notes", kernel, notes, wantKernel)
		}
	}
}

// TestServiceInstances: the instances holding a virtual service's
// address, each once and sorted; an address no instance holds names none.
func TestServiceInstances(t *testing.T) {
	t.Parallel()
	p, ds := Build(parse(t, `vrrp_instance VI_B {
    interface lo
    virtual_router_id 52
    virtual_ipaddress {
        198.18.0.101
    }
}
vrrp_instance VI_A {
    interface lo
    virtual_router_id 51
    virtual_ipaddress {
        198.18.0.100
    }
    virtual_ipaddress_excluded {
        198.18.0.103
    }
}
vrrp_instance VI_C {
    interface lo
    virtual_router_id 53
    virtual_ipaddress {
        198.18.0.200
    }
}
virtual_server 198.18.0.101 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.18.1.1 80 {
    }
}
virtual_server 198.18.0.100 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.18.1.1 80 {
    }
}
virtual_server 198.18.0.100 443 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.18.1.1 443 {
    }
}
virtual_server 198.18.0.103 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.18.1.1 80 {
    }
}
virtual_server 198.18.0.102 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.18.1.1 80 {
    }
}
`), all)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	if got, want := p.ServiceInstances(), []string{"VI_A", "VI_B"}; !slices.Equal(got, want) {
		t.Errorf("ServiceInstances = %q, want %q", got, want)
	}
}

// TestPrefixHealth: each virtual server's alive weight against its quorum
// (the prefix's, where it sets one), named for messages; not ready while a
// virtual server is unreported or a checker has not finished its first
// round.
func TestPrefixHealth(t *testing.T) {
	t.Parallel()
	a := &conf.VirtualServer{Protocol: "TCP", Addr: netip.MustParseAddr("198.18.0.100"), Port: 80, Quorum: 2}
	b := &conf.VirtualServer{Protocol: "UDP", Addr: netip.MustParseAddr("198.18.0.100"), Port: 53, Quorum: 1}
	ran := health.RealStatus{Checkers: []health.CheckerStatus{{Up: true, HasRun: true}}}
	pending := health.RealStatus{Checkers: []health.CheckerStatus{{HasRun: true}, {HasRun: false}}}
	hs := map[string]health.ServiceStatus{
		HealthKey(a): {AliveWeight: 3, Reals: []health.RealStatus{ran, ran}},
		HealthKey(b): {AliveWeight: 1, Reals: []health.RealStatus{ran}},
	}
	for _, tc := range []struct {
		name   string
		quorum int
		hs     map[string]health.ServiceStatus
		want   []route.ServiceHealth
		ready  bool
	}{
		{"reported", 0, hs, []route.ServiceHealth{{Name: "TCP 198.18.0.100:80", Alive: 3, Quorum: 2},
			{Name: "UDP 198.18.0.100:53", Alive: 1, Quorum: 1}}, true},
		{"prefix quorum", 5, hs, []route.ServiceHealth{{Name: "TCP 198.18.0.100:80", Alive: 3, Quorum: 5},
			{Name: "UDP 198.18.0.100:53", Alive: 1, Quorum: 5}}, true},
		{"unreported", 0, map[string]health.ServiceStatus{HealthKey(a): hs[HealthKey(a)]},
			[]route.ServiceHealth{{Name: "TCP 198.18.0.100:80", Alive: 3, Quorum: 2}, {Name: "UDP 198.18.0.100:53", Quorum: 1}}, false},
		{"first round", 0, map[string]health.ServiceStatus{HealthKey(a): hs[HealthKey(a)],
			HealthKey(b): {AliveWeight: 1, Reals: []health.RealStatus{pending}}},
			[]route.ServiceHealth{{Name: "TCP 198.18.0.100:80", Alive: 3, Quorum: 2}, {Name: "UDP 198.18.0.100:53", Alive: 1, Quorum: 1}}, false},
	} {
		got, ready := PrefixHealth(&conf.BGPPrefix{Quorum: tc.quorum}, []*conf.VirtualServer{a, b}, tc.hs)
		if !slices.Equal(got, tc.want) || ready != tc.ready {
			t.Errorf("%s: %+v, ready %t; want %+v, ready %t", tc.name, got, ready, tc.want, tc.ready)
		}
	}
}
