package vrrp

import (
	"net/netip"
	"strings"
	"testing"
)

// TestNoAcceptRuleset: nftables TABLE, nftables_priority and
// nftables_counters shape the table; each family's table exists when the
// no_accept instances use that family; link-local VIPs are blocked on their
// interface only.
func TestNoAcceptRuleset(t *testing.T) {
	t.Parallel()
	prio := 5
	got := noAcceptRuleset(Firewall{Table: "fw", Priority: &prio, Counters: true}, true, true, []BlockedAddr{
		{Addr: netip.MustParseAddr("198.18.0.100")},
		{Addr: netip.MustParseAddr("2001:db8::100")},
		{Addr: netip.MustParseAddr("fe80::100"), Dev: "eth0"},
	})
	for _, want := range []string{
		"table ip fw {\n\tset vips { type ipv4_addr; elements = { 198.18.0.100 }; }",
		"chain in { type filter hook input priority filter + 5; policy accept; }",
		"add rule ip fw in ip daddr @vips counter drop",
		"add rule ip fw out ip saddr @vips counter drop",
		"set vips { type ipv6_addr; elements = { 2001:db8::100 }; }",
		`set vips_link_local { type ipv6_addr . ifname; elements = { fe80::100 . "eth0" }; }`,
		"add rule ip6 fw in_link_local ip6 daddr . iifname @vips_link_local counter drop",
		"add rule ip6 fw in ip6 daddr fe80::/10 goto in_link_local",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}
	v4only := noAcceptRuleset(Firewall{}, true, false, nil)
	if strings.Contains(v4only, "table ip6 keepalived {\n") || !strings.Contains(v4only, "priority filter - 1;") {
		t.Errorf("an IPv4-only no_accept configuration:\n%s", v4only)
	}
}
