package conf

import (
	"net/netip"
	"strconv"
	"strings"
)

// vsgHandler reads a virtual_server_group: a name and a block of entry
// lines (keepalived reads it as a value block).
func vsgHandler(b *builder, n *Node) {
	name, ok := blockName(b, n, "virtual_server_group")
	if !ok {
		return
	}
	g := &VirtualServerGroup{Pos: n.Pos, Name: name}
	for _, l := range n.Kids {
		if e, ok := b.vsgEntry(l, l.Args); ok {
			g.Entries = append(g.Entries, e)
		}
	}
	b.cfg.VirtualServerGroups = append(b.cfg.VirtualServerGroups, g)
}

// vsgEntry parses "IP [PORT]", "IP-LAST [PORT]", "IPa-IPb [PORT]",
// "IP/nn [PORT]" or "fwmark N [inet|inet6]".
func (b *builder) vsgEntry(n *Node, words []string) (VSGEntry, bool) {
	e := VSGEntry{Pos: n.Pos}
	if words[0] == "fwmark" {
		if len(words) < 2 {
			b.d.kaf(n.Pos, ClassGeneral, "virtual_server_group: fwmark needs a number")
			return e, false
		}
		v, err := strconv.ParseUint(words[1], 10, 32)
		if err != nil || v == 0 {
			b.d.kaf(n.Pos, ClassGeneral, "virtual_server_group: invalid fwmark '%s'", words[1])
			return e, false
		}
		e.Fwmark = uint32(v)
		if len(words) > 2 {
			if words[2] != "inet" && words[2] != "inet6" {
				b.d.kaf(n.Pos, ClassGeneral, "virtual_server_group: fwmark family must be inet or inet6, not '%s'", words[2])
				return e, false
			}
			e.Family = words[2]
		}
		return e, true
	}
	first, last, ok := parseRange(words[0])
	if !ok {
		b.d.kaf(n.Pos, ClassGeneral, "virtual_server_group: invalid address or range '%s'", words[0])
		return e, false
	}
	e.First, e.Last = first, last
	if len(words) > 1 {
		p, err := strconv.ParseUint(words[1], 10, 16)
		if err != nil {
			b.d.kaf(n.Pos, ClassGeneral, "virtual_server_group: invalid port '%s'", words[1])
			return e, false
		}
		e.Port = uint16(p)
	}
	if len(words) > 2 {
		b.d.warnf(n.Pos, "virtual_server_group: extra parameters ignored: %s", strings.Join(words[2:], " "))
	}
	return e, true
}

// parseRange reads an address, "A.B.C.D-E" (last part of the range),
// "A-B" (two addresses) or "A/nn" (every address of the prefix).
func parseRange(s string) (netip.Addr, netip.Addr, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Addr{}, netip.Addr{}, false
		}
		p = p.Masked()
		first := p.Addr()
		last := lastAddr(p)
		return first, last, true
	}
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		first, err := netip.ParseAddr(s[:i])
		if err != nil {
			return netip.Addr{}, netip.Addr{}, false
		}
		tail := s[i+1:]
		if last, err := netip.ParseAddr(tail); err == nil {
			if last.BitLen() != first.BitLen() || last.Less(first) {
				return netip.Addr{}, netip.Addr{}, false
			}
			return first, last, true
		}
		// keepalived's short form replaces the last part (an IPv4 octet or
		// an IPv6 16-bit group in hex).
		if first.Is4() {
			v, err := strconv.ParseUint(tail, 10, 8)
			if err != nil {
				return netip.Addr{}, netip.Addr{}, false
			}
			b := first.As4()
			if byte(v) < b[3] {
				return netip.Addr{}, netip.Addr{}, false
			}
			b[3] = byte(v)
			return first, netip.AddrFrom4(b), true
		}
		v, err := strconv.ParseUint(tail, 16, 16)
		if err != nil {
			return netip.Addr{}, netip.Addr{}, false
		}
		b := first.As16()
		cur := uint64(b[14])<<8 | uint64(b[15])
		if v < cur {
			return netip.Addr{}, netip.Addr{}, false
		}
		b[14], b[15] = byte(v>>8), byte(v)
		return first, netip.AddrFrom16(b), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, netip.Addr{}, false
	}
	return a, a, true
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
