// Package guard keeps the director's own kernel out of the virtual
// services' traffic while the userspace forwarder runs.
//
// AF_PACKET sockets are taps: the kernel still receives every frame the
// forwarder takes, and would answer a SYN to a local VIP with a RST, send
// ICMP port unreachable for UDP, or (with ip_forward=1) route the packet a
// second time, and in NAT mode forward the real servers' replies un-NATed.
// ETH_P_ALL taps run before netfilter (lb-anchors §2.3), so an nftables rule
// in prerouting, at a priority before defragmentation and conntrack, drops
// exactly the services' packets after the forwarder has seen them:
//
//   - packets to a VIP for the service's protocol and port (any port for a
//     port-0 service), with later IP fragments of UDP and SCTP services;
//   - ICMP errors to a VIP (the forwarder sends them on to the real server);
//   - in NAT mode, packets from a real server's address and port whose
//     destination is not a local address (replies the forwarder rewrites;
//     the director's own health checks to the real server still reach it),
//     with later IP fragments of UDP and SCTP replies.
//
// With Config.Interfaces the drops apply only to packets arriving on the
// tapped interfaces. The forwarder's local delivery (a real server on the
// director itself) hands packets to the kernel through a device of its own:
// SetLocal lets them in, drops any whose destination is not local (rather
// than letting the kernel route them on), and installs connection-tracking
// DNAT for a local real server whose port differs from the service's.
//
// The rules live in a table of their own (inet family), replaced atomically
// by one nft transaction on every Sync or SetLocal and deleted on Close. The nft binary
// (Debian's nftables) is required; New fails with a clear message without it.
//
// Left out: fwmark services (marks are set after the tap; see forward's doc).
package guard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Tuple is one service (Dst) or NAT real server (Src) the guard covers.
type Tuple struct {
	Addr netip.Addr
	// Proto is 6, 17 or 132.
	Proto uint8
	// Port 0 means every port.
	Port uint16
}

// PortMap redirects what the forwarder delivers locally for one service:
// packets to Addr, Proto and Port (0: every port) that arrive from the
// local device go to ToPort, by connection-tracking DNAT, which also maps
// the replies back. It serves a real server on the director whose port
// differs from the service's.
type PortMap struct {
	Addr   netip.Addr
	Proto  uint8
	Port   uint16
	ToPort uint16
}

// Local is what the guard installs for the forwarder's local delivery.
type Local struct {
	// Device is the device through which the forwarder hands packets to
	// the director's own stack (empty: none). Packets from it whose
	// destination is not a local address are dropped, so that the kernel
	// never routes them on.
	Device string
	// Maps are the port redirections (they need the kernel's connection
	// tracking and NAT, loaded only while there is one).
	Maps []PortMap
}

// Config configures a Guard.
type Config struct {
	// Table is the nftables table name (default "ulvs").
	Table string
	// Nft is the nft binary (default: looked up on PATH).
	Nft string
	// Interfaces, when set, limits the drop rules to packets that arrive on
	// these interfaces (the ones the forwarder taps): packets the forwarder
	// hands to the director's own stack through its local device pass.
	Interfaces []string
	// Logger receives applied changes (nil: none).
	Logger *zap.Logger
}

// Guard owns one nftables table.
type Guard struct {
	mu     sync.Mutex
	table  string
	nft    string
	log    *zap.Logger
	rules  Ruleset
	last   string
	active bool
}

var (
	tableName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,30}$`)
	// ifName is what the guard accepts as an interface name: the kernel's
	// rules (no '/', ':' or white space, under IFNAMSIZ) narrowed to
	// characters that need no escaping inside an nft string.
	ifName = regexp.MustCompile(`^[A-Za-z0-9_.+@-]{1,15}$`)
)

// New checks that nft is available. Nothing is installed until Sync.
func New(cfg Config) (*Guard, error) {
	if cfg.Table == "" {
		cfg.Table = "ulvs"
	}
	if !tableName.MatchString(cfg.Table) {
		return nil, fmt.Errorf("guard: bad table name %q", cfg.Table)
	}
	for _, n := range cfg.Interfaces {
		if !ifName.MatchString(n) {
			return nil, fmt.Errorf("guard: bad interface name %q", n)
		}
	}
	if cfg.Nft == "" {
		p, err := exec.LookPath("nft")
		if err != nil {
			return nil, fmt.Errorf("guard: the nft binary is needed to keep the kernel out of forwarded traffic (install nftables): %w", err)
		}
		cfg.Nft = p
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Guard{table: cfg.Table, nft: cfg.Nft, log: cfg.Logger,
		rules: Ruleset{Interfaces: slices.Clone(cfg.Interfaces)}}, nil
}

// Sync installs rules for exactly these services and NAT real servers,
// replacing the previous ones in one transaction. With nothing to cover it
// removes the table.
func (g *Guard) Sync(services, natReals []Tuple) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rules.Services, g.rules.NATReals = slices.Clone(services), slices.Clone(natReals)
	if err := g.applyLocked(); err != nil {
		return err
	}
	g.log.Info("kernel guard synced", zap.String("table", g.table), zap.Int("services", len(services)),
		zap.Int("nat_reals", len(natReals)))
	return nil
}

// SetLocal installs the local-delivery rules, replacing the previous ones
// (in the same transaction as the rest of the table).
func (g *Guard) SetLocal(l Local) error {
	if l.Device != "" && !ifName.MatchString(l.Device) {
		return fmt.Errorf("guard: bad interface name %q", l.Device)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	l.Maps = slices.Clone(l.Maps)
	g.rules.Local = l
	if err := g.applyLocked(); err != nil {
		return err
	}
	g.log.Info("kernel guard: local delivery", zap.String("table", g.table), zap.String("device", l.Device),
		zap.Int("port_maps", len(l.Maps)))
	return nil
}

func (g *Guard) applyLocked() error {
	body := g.rules.Render()
	if body == g.last && g.active {
		return nil
	}
	var script strings.Builder
	// "add" first so that "delete" cannot fail on a missing table: the pair
	// makes the replacement atomic, and removes a table a crashed run left.
	fmt.Fprintf(&script, "add table inet %s\ndelete table inet %s\n", g.table, g.table)
	if body != "" {
		fmt.Fprintf(&script, "table inet %s {\n%s}\n", g.table, body)
	}
	if err := g.run(script.String()); err != nil {
		return err
	}
	g.last, g.active = body, body != ""
	return nil
}

// Close removes the table.
func (g *Guard) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last, g.active = "", false
	return g.run(fmt.Sprintf("add table inet %s\ndelete table inet %s\n", g.table, g.table))
}

func (g *Guard) run(script string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.nft, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("guard: nft: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

var protoName = map[uint8]string{6: "tcp", 17: "udp", 132: "sctp"}

// ErrProto is returned for a tuple whose protocol the guard does not know.
var ErrProto = errors.New("guard: protocol must be tcp, udp or sctp")

// Ruleset is everything a guard table holds.
type Ruleset struct {
	// Interfaces limits the drop rules to these input interfaces (none:
	// every interface).
	Interfaces []string
	// Services and NATReals are the tuples whose packets are dropped.
	Services, NATReals []Tuple
	// Local is the local-delivery part.
	Local Local
}

// Rules renders the chain for the given tuples (empty when there are
// none), in a stable order. Unknown protocols are skipped.
func Rules(services, natReals []Tuple) string {
	return Ruleset{Services: services, NATReals: natReals}.Render()
}

func family(a netip.Addr) (string, string) {
	if a.Is4() {
		return "ip", "icmp"
	}
	return "ip6", "icmpv6"
}

// Render returns the table's body (empty when it holds nothing), in a
// stable order. Tuples of unknown protocols are skipped.
func (r Ruleset) Render() string {
	lines := r.dropLines()
	var b strings.Builder
	if len(lines) > 0 || r.Local.Device != "" {
		// Priority -450: before defragmentation (-400), conntrack (-200) and
		// every user's raw (-300) and mangle (-150) rules.
		b.WriteString("  chain prerouting {\n    type filter hook prerouting priority -450; policy accept;\n")
		if d := r.Local.Device; d != "" {
			fmt.Fprintf(&b, "    iifname %q fib daddr type != local drop\n", d)
		}
		if len(lines) > 0 && len(r.Interfaces) > 0 {
			names := slices.Clone(r.Interfaces)
			slices.Sort(names)
			for i, n := range names {
				names[i] = strconv.Quote(n)
			}
			fmt.Fprintf(&b, "    iifname != { %s } return\n", strings.Join(names, ", "))
		}
		for _, l := range lines {
			b.WriteString("    " + l + "\n")
		}
		b.WriteString("  }\n")
	}
	if maps := r.mapLines(); len(maps) > 0 {
		b.WriteString("  chain local {\n    type nat hook prerouting priority dstnat; policy accept;\n")
		for _, l := range maps {
			b.WriteString("    " + l + "\n")
		}
		b.WriteString("  }\n")
	}
	return b.String()
}

func (r Ruleset) mapLines() []string {
	if r.Local.Device == "" {
		return nil
	}
	var lines []string
	for _, m := range r.Local.Maps {
		p, ok := protoName[m.Proto]
		if !ok || !m.Addr.IsValid() || m.ToPort == 0 {
			continue
		}
		a := m.Addr.Unmap()
		ip, _ := family(a)
		match := fmt.Sprintf("meta l4proto %s", p)
		if m.Port != 0 {
			match = fmt.Sprintf("%s dport %d", p, m.Port)
		}
		to := netip.AddrPortFrom(a, m.ToPort).String()
		lines = append(lines, fmt.Sprintf("iifname %q %s daddr %s %s dnat %s to %s", r.Local.Device, ip, a, match, ip, to))
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

func (r Ruleset) dropLines() []string {
	var lines []string
	fam := family
	icmpErrors := map[string]string{
		"icmp":   "{ destination-unreachable, source-quench, time-exceeded, parameter-problem }",
		"icmpv6": "{ destination-unreachable, packet-too-big, time-exceeded, parameter-problem }",
	}
	services, natReals := r.Services, r.NATReals
	vips := map[netip.Addr]bool{}
	for _, s := range services {
		p, ok := protoName[s.Proto]
		if !ok || !s.Addr.IsValid() {
			continue
		}
		ip, _ := fam(s.Addr)
		a := s.Addr.Unmap().String()
		if s.Port == 0 {
			lines = append(lines, fmt.Sprintf("%s daddr %s meta l4proto %s drop", ip, a, p))
		} else {
			lines = append(lines, fmt.Sprintf("%s daddr %s %s dport %d drop", ip, a, p, s.Port))
		}
		if s.Proto != 6 {
			// Later fragments carry no ports; the forwarder tracks them.
			if s.Addr.Is4() {
				lines = append(lines, fmt.Sprintf("ip daddr %s ip protocol %s ip frag-off & 0x1fff != 0 drop", a, p))
			} else {
				lines = append(lines, fmt.Sprintf("ip6 daddr %s frag frag-off != 0 drop", a))
			}
		}
		vips[s.Addr.Unmap()] = true
	}
	for a := range vips {
		ip, icmp := fam(a)
		lines = append(lines, fmt.Sprintf("%s daddr %s %s type %s drop", ip, a, icmp, icmpErrors[icmp]))
	}
	for _, r := range natReals {
		p, ok := protoName[r.Proto]
		if !ok || !r.Addr.IsValid() {
			continue
		}
		ip, icmp := fam(r.Addr)
		a := r.Addr.Unmap().String()
		if r.Port == 0 {
			lines = append(lines, fmt.Sprintf("%s saddr %s meta l4proto %s fib daddr type != local drop", ip, a, p))
		} else {
			lines = append(lines, fmt.Sprintf("%s saddr %s %s sport %d fib daddr type != local drop", ip, a, p, r.Port))
		}
		lines = append(lines, fmt.Sprintf("%s saddr %s %s type %s fib daddr type != local drop", ip, a, icmp, icmpErrors[icmp]))
		if r.Proto != 6 {
			// A reply's later fragments carry no ports either: without this
			// a director with ip_forward=1 would route them on un-NATed.
			if r.Addr.Is4() {
				lines = append(lines, fmt.Sprintf("ip saddr %s ip protocol %s ip frag-off & 0x1fff != 0 fib daddr type != local drop", a, p))
			} else {
				lines = append(lines, fmt.Sprintf("ip6 saddr %s frag frag-off != 0 fib daddr type != local drop", a))
			}
		}
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}
