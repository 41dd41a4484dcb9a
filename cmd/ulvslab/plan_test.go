package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/conf"
)

// nodeLine renders a node as one comparable line.
func nodeLine(n *nodeState) string {
	var addrs []string
	for _, a := range n.Addrs {
		addrs = append(addrs, a.String())
	}
	s := n.Name + " " + n.Role + " " + strings.Join(addrs, ",")
	if n.Gateway.IsValid() {
		s += " via " + n.Gateway.String()
	}
	for _, v := range n.LoVIPs {
		s += " lo:" + v.String()
	}
	return s
}

func TestLayoutNodes(t *testing.T) {
	t.Parallel()
	vip := []netip.Addr{vipAddr(0)}
	for _, tc := range []struct {
		name string
		l    layout
		want []string
	}{
		{"DR pair", layout{Mode: modeDR, Directors: 2, Reals: 3, VIPs: vip}, []string{
			"client client 198.18.0.1/24",
			"director1 director 198.18.0.2/24",
			"director2 director 198.18.0.3/24",
			"rs1 real 198.18.0.11/24 lo:198.18.0.100",
			"rs2 real 198.18.0.12/24 lo:198.18.0.100",
			"rs3 real 198.18.0.13/24 lo:198.18.0.100",
		}},
		// NAT real servers sit behind the directors and route through
		// the VRRP-held gateway.
		{"NAT pair", layout{Mode: modeNAT, Directors: 2, Reals: 2, Gateway: natGateway(), VIPs: vip}, []string{
			"client client 198.18.0.1/24",
			"director1 director 198.18.0.2/24,198.18.1.2/24",
			"director2 director 198.18.0.3/24,198.18.1.3/24",
			"rs1 real 198.18.1.11/24 via 198.18.1.1",
			"rs2 real 198.18.1.12/24 via 198.18.1.1",
		}},
		{"TUN single with sorry", layout{Mode: modeTUN, Directors: 1, Reals: 1, Sorry: true, VIPs: vip}, []string{
			"client client 198.18.0.1/24",
			"director1 director 198.18.0.2/24",
			"rs1 real 198.18.0.11/24 lo:198.18.0.100",
			"sorry sorry 198.18.0.20/24 lo:198.18.0.100",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.l.validate(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range tc.l.nodes() {
				got = append(got, nodeLine(n))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("nodes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLayoutValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		l    layout
		want string
	}{
		{layout{Mode: modeDR, Directors: 3, Reals: 1}, "--directors must be 1 or 2"},
		{layout{Mode: modeDR, Directors: 0, Reals: 1}, "--directors must be 1 or 2"},
		{layout{Mode: modeDR, Directors: 1, Reals: 10}, "room for 1 to 9 real servers"},
		{layout{Mode: modeNAT, Directors: 1, Reals: 1}, "need a gateway"},
	} {
		err := tc.l.validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error with %q", tc.l, err, tc.want)
		}
	}
}

func TestParseMode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"dr": modeDR, "NAT": modeNAT, "Tun": modeTUN} {
		if got, err := parseMode(in); err != nil || got != want {
			t.Errorf("parseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseMode("fullnat"); err == nil {
		t.Error("parseMode(fullnat) succeeded")
	}
}

// TestDefaultConfig renders the embedded config for every mode and
// director, and reads it back as ulvsd would.
func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{modeDR, modeNAT, modeTUN} {
		for _, directors := range []int{1, 2} {
			l := layout{Mode: mode, Directors: directors, Reals: 3, VIPs: []netip.Addr{vipAddr(0)}}
			if mode == modeNAT {
				l.Gateway = natGateway()
			}
			for i := 1; i <= directors; i++ {
				t.Run(mode+"/"+nodeName(i), func(t *testing.T) {
					t.Parallel()
					text, err := defaultConfig(l, i)
					if err != nil {
						t.Fatal(err)
					}
					res, err := conf.Parse("lab.conf", []byte(text), conf.Options{ConfigID: "x"})
					if err != nil {
						t.Fatalf("the default config does not load: %v\n%s", err, text)
					}
					c := res.Config
					if len(c.Instances) != 1 || len(c.VirtualServers) != 1 {
						t.Fatalf("want one instance and one virtual server, got %d and %d", len(c.Instances), len(c.VirtualServers))
					}
					in, vs := c.Instances[0], c.VirtualServers[0]
					got := []string{in.State, strings.Join(vipStrings(in.VIPs), " "), vs.Addr.String(), vs.Method.Kind, vs.Sched}
					for _, rs := range vs.RealServers {
						got = append(got, rs.Addr.String()+" "+rs.Checkers[0].Type)
					}
					state := "BACKUP"
					if i == 1 {
						state = "MASTER"
					}
					vips := "198.18.0.100/32"
					if mode == modeNAT {
						vips += " 198.18.1.1/24"
					}
					want := []string{state, vips, "198.18.0.100", mode, "rr",
						realAddr(mode, 1).String() + " HTTP_GET", realAddr(mode, 2).String() + " HTTP_GET", realAddr(mode, 3).String() + " HTTP_GET"}
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("config (-want +got):\n%s", diff)
					}
					if in.Priority != labPriority(i) {
						t.Errorf("priority %d, want %d", in.Priority, labPriority(i))
					}
				})
			}
		}
	}
}

func nodeName(i int) string { return "director" + string(rune('0'+i)) }

func vipStrings(vips []*conf.IPAddress) []string {
	var out []string
	for _, v := range vips {
		out = append(out, v.Prefix.String())
	}
	return out
}
