package vrrp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// The no_accept firewall, laid out as keepalived's nftables support lays
// it out (vrrp_nftables.c; checked against Debian's keepalived 2.2.7 with
// "nft list ruleset"), so that what operators and monitoring know of
// keepalived's table holds for ulvs:
//
//	table ip keepalived {
//		set vips { type ipv4_addr }
//		chain out { type filter hook output priority filter - 1; policy accept; ip saddr @vips drop }
//		chain in { type filter hook input priority filter - 1; policy accept; ip daddr @vips drop }
//	}
//	table ip6 keepalived {
//		set vips { type ipv6_addr }
//		set neighbor-discovery { type icmpv6_type; flags constant; elements = { nd-neighbor-solicit, nd-neighbor-advert } }
//		chain out { ...; icmpv6 type @neighbor-discovery accept; ip6 saddr fe80::/10 goto out_link_local; ip6 saddr @vips drop }
//		chain in { ...; icmpv6 type @neighbor-discovery accept; ip6 daddr fe80::/10 goto in_link_local; ip6 daddr @vips drop }
//		chain in_link_local { }
//		chain out_link_local { }
//	}
//
// Link-local VIPs (the same address may live on several links) go into a
// set of address and interface name that the link-local chains drop.
//
// Each call replaces both tables in one nft transaction, so the set is
// never seen half-updated.

// noAcceptRuleset is the nft script that replaces both tables with ones
// blocking addrs. Sets and chains are declared first and the rules added
// after, in keepalived's order, so that "nft list table" shows what
// keepalived's table shows.
func noAcceptRuleset(fw Firewall, ipv4, ipv6 bool, addrs []BlockedAddr) string {
	var v4, v6, ll []string
	for _, a := range addrs {
		switch {
		case a.Addr.Is4() || a.Addr.Is4In6():
			v4 = append(v4, a.Addr.Unmap().String())
		case a.Addr.IsLinkLocalUnicast():
			ll = append(ll, a.Addr.String()+" . \""+a.Dev+"\"")
		default:
			v6 = append(v6, a.Addr.String())
		}
	}
	for _, l := range [][]string{v4, v6, ll} {
		sort.Strings(l)
	}
	elems := func(l []string) string {
		if len(l) == 0 {
			return ""
		}
		return " elements = { " + strings.Join(l, ", ") + " };"
	}
	drop := "drop"
	if fw.Counters {
		drop = "counter drop"
	}
	t, prio := fw.table(), fw.priority()
	base := func(hook string) string {
		return fmt.Sprintf("type filter hook %s priority %s; policy accept;", hook, prio)
	}
	var b strings.Builder
	// Declaring a table and deleting it in the same transaction removes
	// whatever an earlier run left, without failing when there is none.
	b.WriteString(clearRuleset(fw))
	if ipv4 || len(v4) > 0 {
		fmt.Fprintf(&b, "table ip %s {\n\tset vips { type ipv4_addr;%s }\n\tchain out { %s }\n\tchain in { %s }\n}\n",
			t, elems(v4), base("output"), base("input"))
		fmt.Fprintf(&b, "add rule ip %s out ip saddr @vips %s\n", t, drop)
		fmt.Fprintf(&b, "add rule ip %s in ip daddr @vips %s\n", t, drop)
	}
	if !ipv6 && len(v6)+len(ll) == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "table ip6 %s {\n\tset vips { type ipv6_addr;%s }\n", t, elems(v6))
	b.WriteString("\tset neighbor-discovery { type icmpv6_type; flags constant; elements = { nd-neighbor-solicit, nd-neighbor-advert }; }\n")
	if len(ll) > 0 {
		fmt.Fprintf(&b, "\tset vips_link_local { type ipv6_addr . ifname;%s }\n", elems(ll))
	}
	fmt.Fprintf(&b, "\tchain out { %s }\n\tchain in { %s }\n\tchain in_link_local { }\n\tchain out_link_local { }\n}\n",
		base("output"), base("input"))
	for _, dir := range []struct{ chain, addr string }{{"out", "saddr"}, {"in", "daddr"}} {
		fmt.Fprintf(&b, "add rule ip6 %s %s icmpv6 type @neighbor-discovery accept\n", t, dir.chain)
		fmt.Fprintf(&b, "add rule ip6 %s %s ip6 %s fe80::/10 goto %s_link_local\n", t, dir.chain, dir.addr, dir.chain)
		fmt.Fprintf(&b, "add rule ip6 %s %s ip6 %s @vips %s\n", t, dir.chain, dir.addr, drop)
	}
	if len(ll) > 0 {
		fmt.Fprintf(&b, "add rule ip6 %s in_link_local ip6 daddr . iifname @vips_link_local %s\n", t, drop)
		fmt.Fprintf(&b, "add rule ip6 %s out_link_local ip6 saddr . oifname @vips_link_local %s\n", t, drop)
	}
	return b.String()
}

func clearRuleset(fw Firewall) string {
	t := fw.table()
	return fmt.Sprintf("table ip %s {}\ndelete table ip %s\ntable ip6 %s {}\ndelete table ip6 %s\n", t, t, t, t)
}

// nft runs an nft script as one transaction.
func nft(script string) error {
	path, err := exec.LookPath("nft")
	if err != nil {
		return errors.New("vrrp: no_accept needs the nft command (Debian package nftables)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("vrrp: nft: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (s *netSystem) SetNoAccept(fw Firewall, ipv4, ipv6 bool, addrs []BlockedAddr) error {
	return nft(noAcceptRuleset(fw, ipv4, ipv6, addrs))
}

func (s *netSystem) ClearNoAccept(fw Firewall) error {
	return nft(clearRuleset(fw))
}

func promoteSysctl(dev string) string {
	return filepath.Join("/proc/sys/net/ipv4/conf", dev, "promote_secondaries")
}

// PromoteSecondaries implements System; the value found before the first
// "on" is kept per interface and written back by "off".
func (s *netSystem) PromoteSecondaries(dev string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.promote == nil {
		s.promote = map[string]string{}
	}
	p := promoteSysctl(dev)
	if on {
		if _, saved := s.promote[dev]; !saved {
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("vrrp: promote_secondaries on %s: %w", dev, err)
			}
			s.promote[dev] = strings.TrimSpace(string(b))
		}
		if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("vrrp: promote_secondaries on %s: %w", dev, err)
		}
		return nil
	}
	old, saved := s.promote[dev]
	if !saved {
		return nil
	}
	delete(s.promote, dev)
	if err := os.WriteFile(p, []byte(old), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("vrrp: promote_secondaries on %s: %w", dev, err)
	}
	return nil
}
