package conf

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// BGP is ulvs's BGP file (ulvsd --bgp FILE): how this director announces
// its virtual addresses to the routers in front of it, so that N directors
// can be active at once behind ECMP. It is written in keepalived's grammar
// (comments, includes, $NAME definitions, @id lines, braces anywhere) but is
// not part of keepalived.conf, which stays keepalived's:
//
//	bgp {
//	    router_id 198.18.0.2
//	    local_as 65001
//	    shutdown_grace 5            # seconds forwarding goes on after the withdraw on SIGTERM
//	    maintenance_file /etc/ulvs/maintenance
//	}
//	neighbor 198.18.0.1 {
//	    remote_as 65000
//	    hold_time 3                 # keepalive_interval 1, connect_retry 1
//	    bfd {                       # or just: bfd
//	        interval 300            # ms, both ways
//	        multiplier 3
//	    }
//	}
//	prefix 198.18.0.100/32 {
//	    virtual_server 198.18.0.100 80 TCP   # default: every virtual server in the prefix
//	    quorum 2                              # default: each virtual server's own quorum
//	    track_instance VI_1                   # announce only while VI_1 is MASTER
//	    med 100
//	    directors multi                       # or single (one active director, e.g. with MED)
//	}
type BGP struct {
	// Files lists every file read, the main file first.
	Files []string

	Pos        Pos // of the bgp block
	RouterID   netip.Addr
	LocalAS    uint32
	ListenPort int // 0: no listening socket (the speaker connects out)
	// Grace is how long ulvsd keeps forwarding after withdrawing every
	// prefix on SIGTERM, so that routers move flows away first.
	Grace time.Duration
	// MaintenanceFile, while it exists, withdraws every prefix.
	MaintenanceFile string

	Neighbors []*BGPNeighbor
	Prefixes  []*BGPPrefix
}

// BGPNeighbor is a neighbor block: one BGP session.
type BGPNeighbor struct {
	Pos          Pos
	Addr         netip.Addr
	RemoteAS     uint32
	LocalAddr    netip.Addr // unset: the kernel's source address
	Port         int        // 179
	HoldTime     time.Duration
	Keepalive    time.Duration
	ConnectRetry time.Duration
	Passive      bool
	MultihopTTL  int // 0: directly connected (eBGP TTL 1)
	Password     string
	BFD          *BGPBFD // nil: off
}

// BGPBFD is a neighbor's BFD (single hop, RFC 5880/5881).
type BGPBFD struct {
	Pos Pos
	// Interval is both the desired transmit and the required receive
	// interval.
	Interval   time.Duration
	Multiplier int
}

// BGPPrefix is a prefix block: an announced prefix, the virtual servers it
// serves, and the policy that decides whether it is announced.
type BGPPrefix struct {
	Pos    Pos
	Prefix netip.Prefix
	// VirtualServers named in the block; empty means every virtual server
	// whose address is inside Prefix.
	VirtualServers []BGPVirtualServer
	// Quorum is the alive weight each virtual server needs; 0 means each
	// one's own quorum from keepalived.conf.
	Quorum int
	// TrackInstance, when set, announces only while that VRRP instance is
	// MASTER.
	TrackInstance string
	MED           uint32
	MEDSet        bool
	Communities   []uint32
	// Single marks a prefix announced by one director at a time (directors
	// single); by default several directors announce it at once behind
	// ECMP (directors multi).
	Single bool
}

// BGPVirtualServer names a virtual server of keepalived.conf.
type BGPVirtualServer struct {
	Pos      Pos
	Addr     netip.Addr
	Port     uint16
	Protocol string // TCP (default), UDP or SCTP
}

func (v BGPVirtualServer) String() string {
	return fmt.Sprintf("%s %s", v.Protocol, netip.AddrPortFrom(v.Addr, v.Port))
}

// BGP defaults: timers short enough for failover in seconds (RFC 4271's
// smallest hold time is 3 s; GoBGP's own default is 90 s), BFD at 300 ms ×
// 3 when enabled without settings.
const (
	DefaultBGPHoldTime     = 3 * time.Second
	DefaultBGPKeepalive    = time.Second
	DefaultBGPConnectRetry = time.Second
	DefaultBGPGrace        = 5 * time.Second
	DefaultBFDInterval     = 300 * time.Millisecond
	DefaultBFDMultiplier   = 3
)

// LoadBGP reads a BGP file. Like Load, it returns what it could read with
// a *ConfigError when the file has errors; the diagnostics (warnings too)
// come back either way.
func LoadBGP(path string, opts Options) (*BGP, Diagnostics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("conf: %w", err)
	}
	return ParseBGP(path, data, opts)
}

// ParseBGP reads BGP file text as if it were the file name.
func ParseBGP(name string, data []byte, opts Options) (*BGP, Diagnostics, error) {
	d := &diagList{}
	r := newReader(&opts, d)
	r.open(name, bytes.NewReader(data))
	tree, _ := parseGeneric(r, d, nil)
	b := &bgpBuilder{d: d, cfg: &BGP{}}
	b.walk(tree)
	for f := range r.fileOrder {
		b.cfg.Files = append(b.cfg.Files, f)
	}
	sortByOrder(b.cfg.Files, r.fileOrder)
	diags := d.sorted(r.fileOrder)
	if diags.HasErrors() {
		return b.cfg, diags, &ConfigError{Diags: diags}
	}
	return b.cfg, diags, nil
}

// parseGeneric reads statements up to the '}' closing open (or the end of
// input): a word followed by '{' opens a block. The BGP file's keywords
// are checked by the builder, not by keepalived's registry.
func parseGeneric(r *reader, d *diagList, open *Node) ([]*Node, bool) {
	var nodes []*Node
	for {
		l, ok := r.next()
		if !ok {
			return nodes, false
		}
		words, okq := splitWords(l.text)
		if !okq {
			d.errorf(l.pos, "unterminated quote: '%s' - ignoring the line", l.text)
			continue
		}
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "{":
			d.errorf(l.pos, "unexpected '{' - ignoring")
			continue
		case "}":
			if open == nil {
				d.errorf(l.pos, "extra '}' found")
				continue
			}
			return nodes, true
		}
		n := &Node{Pos: l.pos, Keyword: words[0], Args: words[1:]}
		nodes = append(nodes, n)
		if nl, ok := r.peek(); ok && nl.text == "{" {
			r.next()
			n.Block = true
			kids, closed := parseGeneric(r, d, n)
			n.Kids = kids
			if !closed {
				d.errorf(n.Pos, "%s: block opened here is never closed (missing '}')", n.Keyword)
				return nodes, false
			}
		}
	}
}

type bgpBuilder struct {
	d   *diagList
	cfg *BGP
}

func (b *bgpBuilder) walk(tree []*Node) {
	seenBGP := false
	for _, n := range tree {
		switch n.Keyword {
		case "bgp":
			if seenBGP {
				b.d.errorf(n.Pos, "bgp: a second bgp block (one speaker per director)")
				continue
			}
			seenBGP = true
			b.cfg.Pos = n.Pos
			b.global(n)
		case "neighbor":
			if nb := b.neighbor(n); nb != nil {
				b.cfg.Neighbors = append(b.cfg.Neighbors, nb)
			}
		case "prefix":
			if p := b.prefix(n); p != nil {
				b.cfg.Prefixes = append(b.cfg.Prefixes, p)
			}
		default:
			b.d.errorf(n.Pos, "unknown keyword '%s' at the top level of a BGP file (bgp, neighbor, prefix)", n.Keyword)
		}
	}
	if !seenBGP {
		pos := Pos{Line: 1}
		if len(tree) > 0 {
			pos = tree[0].Pos
		}
		b.d.errorf(pos, "no bgp block: router_id and local_as are needed")
		return
	}
	c := b.cfg
	if !c.RouterID.IsValid() {
		b.d.errorf(c.Pos, "bgp: router_id missing")
	}
	if c.LocalAS == 0 {
		b.d.errorf(c.Pos, "bgp: local_as missing")
	}
	seen := map[netip.Addr]Pos{}
	for _, nb := range c.Neighbors {
		if p, dup := seen[nb.Addr]; dup {
			b.d.errorf(nb.Pos, "neighbor %s: already defined at %s", nb.Addr, p)
		}
		seen[nb.Addr] = nb.Pos
	}
	seenP := map[netip.Prefix]Pos{}
	for _, p := range c.Prefixes {
		if q, dup := seenP[p.Prefix]; dup {
			b.d.errorf(p.Pos, "prefix %s: already defined at %s", p.Prefix, q)
		}
		seenP[p.Prefix] = p.Pos
	}
}

// block checks that n opens a block.
func (b *bgpBuilder) block(n *Node) bool {
	if !n.Block {
		b.d.errorf(n.Pos, "%s: missing '{' at beginning of configuration block", n.Keyword)
		return false
	}
	return true
}

// args checks that n is a plain statement with exactly want arguments.
func (b *bgpBuilder) args(n *Node, want int, what string) bool {
	if n.Block {
		b.d.errorf(n.Pos, "%s: takes no block", n.Keyword)
		return false
	}
	if len(n.Args) != want {
		b.d.errorf(n.Pos, "%s: want %s", n.Keyword, what)
		return false
	}
	return true
}

func (b *bgpBuilder) uint(n *Node, lo, hi uint64) (uint64, bool) {
	if !b.args(n, 1, "one number") {
		return 0, false
	}
	v, err := strconv.ParseUint(n.Args[0], 10, 64)
	if err != nil || v < lo || v > hi {
		b.d.errorf(n.Pos, "%s: '%s' is not a number from %d to %d", n.Keyword, n.Args[0], lo, hi)
		return 0, false
	}
	return v, true
}

func (b *bgpBuilder) seconds(n *Node, lo, hi uint64) (time.Duration, bool) {
	v, ok := b.uint(n, lo, hi)
	return time.Duration(v) * time.Second, ok
}

func (b *bgpBuilder) addr(n *Node, s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		b.d.errorf(n.Pos, "%s: '%s' is not an IP address", n.Keyword, s)
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (b *bgpBuilder) global(n *Node) {
	if !b.block(n) {
		return
	}
	if len(n.Args) > 0 {
		b.d.errorf(n.Pos, "bgp: takes no arguments")
	}
	c := b.cfg
	c.Grace = DefaultBGPGrace
	for _, k := range n.Kids {
		switch k.Keyword {
		case "router_id":
			if b.args(k, 1, "an IPv4 address") {
				if a, ok := b.addr(k, k.Args[0]); ok {
					if !a.Is4() {
						b.d.errorf(k.Pos, "router_id: BGP identifiers are IPv4 addresses, not '%s'", k.Args[0])
					} else {
						c.RouterID = a
					}
				}
			}
		case "local_as":
			if v, ok := b.uint(k, 1, 1<<32-1); ok {
				c.LocalAS = uint32(v)
			}
		case "listen_port":
			if v, ok := b.uint(k, 0, 65535); ok {
				c.ListenPort = int(v)
			}
		case "shutdown_grace":
			if v, ok := b.seconds(k, 0, 3600); ok {
				c.Grace = v
			}
		case "maintenance_file":
			if b.args(k, 1, "a file name") {
				c.MaintenanceFile = k.Args[0]
			}
		default:
			b.d.errorf(k.Pos, "unknown keyword '%s' in bgp (router_id, local_as, listen_port, shutdown_grace, maintenance_file)", k.Keyword)
		}
	}
}

func (b *bgpBuilder) neighbor(n *Node) *BGPNeighbor {
	if !b.block(n) {
		return nil
	}
	if len(n.Args) != 1 {
		b.d.errorf(n.Pos, "neighbor: want the neighbor's address")
		return nil
	}
	a, ok := b.addr(n, n.Args[0])
	if !ok {
		return nil
	}
	nb := &BGPNeighbor{Pos: n.Pos, Addr: a, Port: 179, HoldTime: DefaultBGPHoldTime,
		Keepalive: DefaultBGPKeepalive, ConnectRetry: DefaultBGPConnectRetry}
	keepSet := false
	for _, k := range n.Kids {
		switch k.Keyword {
		case "remote_as":
			if v, ok := b.uint(k, 1, 1<<32-1); ok {
				nb.RemoteAS = uint32(v)
			}
		case "local_address":
			if b.args(k, 1, "an IP address") {
				if la, ok := b.addr(k, k.Args[0]); ok {
					if la.Is4() != a.Is4() {
						b.d.errorf(k.Pos, "local_address: %s is of another family than the neighbor %s", la, a)
					} else {
						nb.LocalAddr = la
					}
				}
			}
		case "port":
			if v, ok := b.uint(k, 1, 65535); ok {
				nb.Port = int(v)
			}
		case "hold_time":
			if v, ok := b.uint(k, 0, 65535); ok {
				if v != 0 && v < 3 {
					b.d.errorf(k.Pos, "hold_time: %d s; RFC 4271 allows 0 or at least 3 s", v)
				} else {
					nb.HoldTime = time.Duration(v) * time.Second
				}
			}
		case "keepalive_interval":
			if v, ok := b.seconds(k, 1, 21845); ok {
				nb.Keepalive, keepSet = v, true
			}
		case "connect_retry":
			if v, ok := b.seconds(k, 1, 65535); ok {
				nb.ConnectRetry = v
			}
		case "passive":
			if b.args(k, 0, "no arguments") {
				nb.Passive = true
			}
		case "multihop":
			if v, ok := b.uint(k, 1, 255); ok {
				nb.MultihopTTL = int(v)
			}
		case "password":
			if b.args(k, 1, "one word") {
				nb.Password = k.Args[0]
			}
		case "bfd":
			nb.BFD = b.bfd(k)
		default:
			b.d.errorf(k.Pos, "unknown keyword '%s' in neighbor %s (remote_as, local_address, port, hold_time, keepalive_interval, connect_retry, passive, multihop, password, bfd)", k.Keyword, a)
		}
	}
	if nb.RemoteAS == 0 {
		b.d.errorf(n.Pos, "neighbor %s: remote_as missing", a)
	}
	if !keepSet && nb.HoldTime != DefaultBGPHoldTime {
		// RFC 4271 4.4 suggests a keepalive of a third of the hold time.
		nb.Keepalive = max(nb.HoldTime/3, time.Second)
	}
	if nb.HoldTime != 0 && nb.Keepalive*3 > nb.HoldTime {
		b.d.warnf(n.Pos, "neighbor %s: keepalive_interval %v is more than a third of hold_time %v; one lost keepalive can drop the session", a, nb.Keepalive, nb.HoldTime)
	}
	if nb.BFD != nil && nb.MultihopTTL > 0 {
		b.d.errorf(nb.BFD.Pos, "neighbor %s: bfd: GoBGP's BFD is single-hop only (RFC 5881); it cannot run with multihop", a)
	}
	return nb
}

func (b *bgpBuilder) bfd(n *Node) *BGPBFD {
	f := &BGPBFD{Pos: n.Pos, Interval: DefaultBFDInterval, Multiplier: DefaultBFDMultiplier}
	if len(n.Args) > 0 {
		b.d.errorf(n.Pos, "bfd: takes no arguments (settings go in a block)")
	}
	for _, k := range n.Kids {
		switch k.Keyword {
		case "interval":
			if v, ok := b.uint(k, 10, 60000); ok {
				f.Interval = time.Duration(v) * time.Millisecond
			}
		case "multiplier":
			if v, ok := b.uint(k, 1, 255); ok {
				f.Multiplier = int(v)
			}
		default:
			b.d.errorf(k.Pos, "unknown keyword '%s' in bfd (interval, multiplier)", k.Keyword)
		}
	}
	return f
}

func (b *bgpBuilder) prefix(n *Node) *BGPPrefix {
	if !b.block(n) {
		return nil
	}
	if len(n.Args) != 1 {
		b.d.errorf(n.Pos, "prefix: want one prefix (198.18.0.100/32)")
		return nil
	}
	pfx, err := netip.ParsePrefix(n.Args[0])
	if err != nil {
		if a, aerr := netip.ParseAddr(n.Args[0]); aerr == nil {
			pfx = netip.PrefixFrom(a, a.BitLen())
		} else {
			b.d.errorf(n.Pos, "prefix: '%s' is not a prefix", n.Args[0])
			return nil
		}
	}
	if pfx.Masked() != pfx {
		b.d.errorf(n.Pos, "prefix: %s has host bits set (%s?)", pfx, pfx.Masked())
		return nil
	}
	p := &BGPPrefix{Pos: n.Pos, Prefix: pfx}
	for _, k := range n.Kids {
		switch k.Keyword {
		case "virtual_server":
			if k.Block || len(k.Args) < 2 || len(k.Args) > 3 {
				b.d.errorf(k.Pos, "virtual_server: want ADDRESS PORT [TCP|UDP|SCTP]")
				continue
			}
			a, ok := b.addr(k, k.Args[0])
			if !ok {
				continue
			}
			port, err := strconv.ParseUint(k.Args[1], 10, 16)
			if err != nil {
				b.d.errorf(k.Pos, "virtual_server: '%s' is not a port", k.Args[1])
				continue
			}
			proto := "TCP"
			if len(k.Args) == 3 {
				proto = strings.ToUpper(k.Args[2])
				if proto != "TCP" && proto != "UDP" && proto != "SCTP" {
					b.d.errorf(k.Pos, "virtual_server: '%s' is not TCP, UDP or SCTP", k.Args[2])
					continue
				}
			}
			if !pfx.Contains(a) {
				b.d.errorf(k.Pos, "virtual_server: %s is outside prefix %s", a, pfx)
				continue
			}
			p.VirtualServers = append(p.VirtualServers, BGPVirtualServer{Pos: k.Pos, Addr: a, Port: uint16(port), Protocol: proto})
		case "quorum":
			if v, ok := b.uint(k, 1, 1<<31-1); ok {
				p.Quorum = int(v)
			}
		case "track_instance":
			if b.args(k, 1, "a vrrp_instance name") {
				p.TrackInstance = k.Args[0]
			}
		case "med":
			if v, ok := b.uint(k, 0, 1<<32-1); ok {
				p.MED, p.MEDSet = uint32(v), true
			}
		case "community":
			if k.Block || len(k.Args) == 0 {
				b.d.errorf(k.Pos, "community: want AS:VALUE ...")
				continue
			}
			for _, c := range k.Args {
				hi, lo, ok := strings.Cut(c, ":")
				h, err1 := strconv.ParseUint(hi, 10, 16)
				l, err2 := strconv.ParseUint(lo, 10, 16)
				if !ok || err1 != nil || err2 != nil {
					b.d.errorf(k.Pos, "community: '%s' is not AS:VALUE (two numbers up to 65535)", c)
					continue
				}
				p.Communities = append(p.Communities, uint32(h<<16|l))
			}
		case "directors":
			if b.args(k, 1, "multi or single") {
				switch k.Args[0] {
				case "multi":
					p.Single = false
				case "single":
					p.Single = true
				default:
					b.d.errorf(k.Pos, "directors: '%s' is not multi or single", k.Args[0])
				}
			}
		default:
			b.d.errorf(k.Pos, "unknown keyword '%s' in prefix %s (virtual_server, quorum, track_instance, med, community, directors)", k.Keyword, pfx)
		}
	}
	return p
}
