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
	}, []Tuple{{Addr: netip.MustParseAddr("198.18.0.11"), Proto: 6, Port: 8080}})
	want := `  chain prerouting {
    type filter hook prerouting priority -450; policy accept;
    ip daddr 198.18.0.100 icmp type { destination-unreachable, source-quench, time-exceeded, parameter-problem } drop
    ip daddr 198.18.0.100 ip protocol udp ip frag-off & 0x1fff != 0 drop
    ip daddr 198.18.0.100 tcp dport 80 drop
    ip daddr 198.18.0.100 udp dport 53 drop
    ip saddr 198.18.0.11 icmp type { destination-unreachable, source-quench, time-exceeded, parameter-problem } fib daddr type != local drop
    ip saddr 198.18.0.11 tcp sport 8080 fib daddr type != local drop
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

func TestBadTableName(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"a b", "x;flush ruleset", strings.Repeat("a", 40), "1abc"} {
		if _, err := New(Config{Table: n, Nft: "/bin/true"}); err == nil {
			t.Errorf("table name %q accepted", n)
		}
	}
}
