package guard

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRules(t *testing.T) {
	t.Parallel()
	got := Rules([]Tuple{
		{Addr: netip.MustParseAddr("198.18.0.100"), Proto: 6, Port: 80},
		{Addr: netip.MustParseAddr("198.18.0.100"), Proto: 17, Port: 53},
		{Addr: netip.MustParseAddr("2001:db8::100"), Proto: 6, Port: 0},
		{Addr: netip.MustParseAddr("198.18.0.101"), Proto: 99, Port: 1},
	}, []Tuple{{Addr: netip.MustParseAddr("198.18.0.11"), Proto: 6, Port: 8080},
		{Addr: netip.MustParseAddr("198.18.0.11"), Proto: 17, Port: 53}})
	want := `  chain prerouting {
    type filter hook prerouting priority -450; policy accept;
    ip daddr 198.18.0.100 icmp type { destination-unreachable, source-quench, time-exceeded, parameter-problem } drop
    ip daddr 198.18.0.100 ip protocol udp ip frag-off & 0x1fff != 0 drop
    ip daddr 198.18.0.100 tcp dport 80 drop
    ip daddr 198.18.0.100 udp dport 53 drop
    ip saddr 198.18.0.11 icmp type { destination-unreachable, source-quench, time-exceeded, parameter-problem } fib daddr type != local drop
    ip saddr 198.18.0.11 ip protocol udp ip frag-off & 0x1fff != 0 fib daddr type != local drop
    ip saddr 198.18.0.11 tcp sport 8080 fib daddr type != local drop
    ip saddr 198.18.0.11 udp sport 53 fib daddr type != local drop
    ip6 daddr 2001:db8::100 icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } drop
    ip6 daddr 2001:db8::100 meta l4proto tcp drop
  }
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if Rules(nil, nil) != "" {
		t.Fatal("rules for nothing")
	}
}

func TestRulesetInterfacesAndLocal(t *testing.T) {
	t.Parallel()
	vip := netip.MustParseAddr("198.18.0.100")
	vip6 := netip.MustParseAddr("2001:db8::100")
	tests := []struct {
		name string
		r    Ruleset
		want string
	}{
		{
			name: "drops on the tapped interfaces only",
			r:    Ruleset{Interfaces: []string{"eth1", "eth0"}, Services: []Tuple{{Addr: vip, Proto: 6, Port: 80}}},
			want: `  chain prerouting {
    type filter hook prerouting priority -450; policy accept;
    iifname != { "eth0", "eth1" } return
    ip daddr 198.18.0.100 icmp type { destination-unreachable, source-quench, time-exceeded, parameter-problem } drop
    ip daddr 198.18.0.100 tcp dport 80 drop
  }
`,
		},
		{
			name: "local device without port maps",
			r:    Ruleset{Interfaces: []string{"eth0"}, Local: Local{Device: "ulvs-local"}},
			want: `  chain prerouting {
    type filter hook prerouting priority -450; policy accept;
    iifname "ulvs-local" fib daddr type != local drop
  }
`,
		},
		{
			name: "port maps",
			r: Ruleset{Interfaces: []string{"eth0"}, Services: []Tuple{{Addr: vip, Proto: 6, Port: 80}},
				Local: Local{Device: "ulvs-local", Maps: []PortMap{
					{Addr: vip, Proto: 6, Port: 80, ToPort: 8080},
					{Addr: vip6, Proto: 17, Port: 0, ToPort: 5353},
					{Addr: vip, Proto: 99, Port: 1, ToPort: 2},
				}}},
			want: `  chain prerouting {
    type filter hook prerouting priority -450; policy accept;
    iifname "ulvs-local" fib daddr type != local drop
    iifname != { "eth0" } return
    ip daddr 198.18.0.100 icmp type { destination-unreachable, source-quench, time-exceeded, parameter-problem } drop
    ip daddr 198.18.0.100 tcp dport 80 drop
  }
  chain local {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "ulvs-local" ip daddr 198.18.0.100 tcp dport 80 dnat ip to 198.18.0.100:8080
    iifname "ulvs-local" ip6 daddr 2001:db8::100 meta l4proto udp dnat ip6 to [2001:db8::100]:5353
  }
`,
		},
		{
			name: "maps without a device are not rendered",
			r:    Ruleset{Local: Local{Maps: []PortMap{{Addr: vip, Proto: 6, Port: 80, ToPort: 8080}}}},
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.r.Render()); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBadInterfaceName(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"", "a b", `x"y`, "eth0}", strings.Repeat("a", 16)} {
		if _, err := New(Config{Interfaces: []string{n}, Nft: "/bin/true"}); err == nil {
			t.Errorf("interface name %q accepted", n)
		}
		g, err := New(Config{Nft: "/bin/true"})
		if err != nil {
			t.Fatal(err)
		}
		if n != "" {
			if err := g.SetLocal(Local{Device: n}); err == nil {
				t.Errorf("local device %q accepted", n)
			}
		}
	}
}

func TestBadTableName(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"a b", "x;flush ruleset", strings.Repeat("a", 40), "1abc"} {
		if _, err := New(Config{Table: n, Nft: "/bin/true"}); err == nil {
			t.Errorf("table name %q accepted", n)
		}
	}
}
