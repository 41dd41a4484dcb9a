package kview

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// procForward are the names /proc/net/ip_vs gives forwarding methods.
var procForward = []string{"Masq", "Local", "Tunnel", "Route", "Bypass"}

// ParseProc parses /proc/net/ip_vs (ip_vs_info_seq_show in
// net/netfilter/ipvs/ip_vs_ctl.c). hz is the kernel's CONFIG_HZ: the file
// prints persistence timeouts in jiffies. Destinations keep the kernel's
// list order. As observed on Linux 6.1: IPv4 addresses, ports and IPv4
// masks in hex; IPv6 addresses in full %pI6 form; an IPv6 granularity
// printed as ntohl of the prefix length; "ops" only for IPv4 and FWM.
func ParseProc(b []byte, hz int) ([]Service, error) {
	if hz <= 0 {
		return nil, fmt.Errorf("kview: bad HZ %d", hz)
	}
	var out []Service
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
			continue
		case i < 3 && (f[0] == "IP" || f[0] == "Prot" || (f[0] == "->" && len(f) > 1 && f[1] == "RemoteAddress:Port")):
			continue
		case f[0] == "->":
			if len(out) == 0 {
				return nil, fmt.Errorf("kview: ip_vs line %d: destination before any service", i+1)
			}
			if len(f) != 6 {
				return nil, fmt.Errorf("kview: ip_vs line %d: %d fields in a destination", i+1, len(f))
			}
			a, p, err := procAddrPort(f[1])
			if err != nil {
				return nil, fmt.Errorf("kview: ip_vs line %d: %w", i+1, err)
			}
			d := Dest{Addr: a, Port: p, Forward: f[2]}
			if !contains(procForward, f[2]) {
				return nil, fmt.Errorf("kview: ip_vs line %d: forwarding method %q", i+1, f[2])
			}
			var n [3]int64
			for j := range n {
				if n[j], err = strconv.ParseInt(f[3+j], 10, 32); err != nil {
					return nil, fmt.Errorf("kview: ip_vs line %d: %q", i+1, f[3+j])
				}
			}
			d.Weight, d.Active, d.Inactive = int32(n[0]), int32(n[1]), int32(n[2])
			s := &out[len(out)-1]
			s.Dests = append(s.Dests, d)
		default:
			s, err := procService(f, hz)
			if err != nil {
				return nil, fmt.Errorf("kview: ip_vs line %d: %w", i+1, err)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func procService(f []string, hz int) (Service, error) {
	if len(f) < 3 {
		return Service{}, fmt.Errorf("%d fields in a service", len(f))
	}
	s := Service{Proto: f[0], Sched: f[2], Netmask: -1}
	switch f[0] {
	case "FWM":
		v, err := strconv.ParseUint(f[1], 16, 32)
		if err != nil || len(f[1]) != 8 {
			return s, fmt.Errorf("bad firewall mark %q", f[1])
		}
		s.FWMark = uint32(v)
	case "TCP", "UDP", "SCTP":
		a, p, err := procAddrPort(f[1])
		if err != nil {
			return s, err
		}
		s.Addr, s.Port = a, p
	default:
		return s, fmt.Errorf("unknown protocol %q", f[0])
	}
	rest := f[3:]
	if len(rest) > 0 && rest[0] == "ops" {
		s.OnePacket, rest = true, rest[1:]
	}
	switch {
	case len(rest) == 0:
	case len(rest) == 3 && rest[0] == "persistent":
		t, err := strconv.ParseUint(rest[1], 10, 32)
		if err != nil || t%uint64(hz) != 0 || t == 0 {
			return s, fmt.Errorf("bad persistence timeout %q (HZ %d)", rest[1], hz)
		}
		s.Timeout = uint32(t / uint64(hz))
		m, err := strconv.ParseUint(rest[2], 16, 32)
		if err != nil || len(rest[2]) != 8 {
			return s, fmt.Errorf("bad netmask %q", rest[2])
		}
		if s.Addr.Is6() {
			s.Netmask = int(bits.ReverseBytes32(uint32(m)))
		} else {
			s.Netmask = bits.LeadingZeros32(^uint32(m))
			if uint32(m) != prefixMask(s.Netmask) {
				return s, fmt.Errorf("netmask %q is not a prefix", rest[2])
			}
		}
	default:
		return s, fmt.Errorf("unexpected %q", strings.Join(rest, " "))
	}
	return s, nil
}

func prefixMask(n int) uint32 {
	if n == 0 {
		return 0
	}
	return ^uint32(0) << (32 - n)
}

// procAddrPort reads "C6120064:0050" or "[2001:0db8:...:0100]:0050".
func procAddrPort(s string) (netip.Addr, uint16, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || len(s)-i-1 != 4 {
		return netip.Addr{}, 0, fmt.Errorf("bad address %q", s)
	}
	p, err := strconv.ParseUint(s[i+1:], 16, 16)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("bad port in %q", s)
	}
	h := s[:i]
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		groups := strings.Split(h[1:len(h)-1], ":")
		if len(groups) != 8 {
			return netip.Addr{}, 0, fmt.Errorf("bad address %q", s)
		}
		var a [16]byte
		for j, g := range groups {
			v, err := strconv.ParseUint(g, 16, 16)
			if err != nil || len(g) != 4 {
				return netip.Addr{}, 0, fmt.Errorf("bad address %q", s)
			}
			binary.BigEndian.PutUint16(a[2*j:], uint16(v))
		}
		return netip.AddrFrom16(a), uint16(p), nil
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil || len(h) != 8 {
		return netip.Addr{}, 0, fmt.Errorf("bad address %q", s)
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], uint32(v))
	return netip.AddrFrom4(a), uint16(p), nil
}

func appendProcAddrPort(b []byte, a netip.Addr, p uint16) []byte {
	if a.Is4() {
		v := a.As4()
		return fmt.Appendf(b, "%08X:%04X", binary.BigEndian.Uint32(v[:]), p)
	}
	v := a.As16()
	b = append(b, '[')
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			b = append(b, ':')
		}
		b = fmt.Appendf(b, "%04x", binary.BigEndian.Uint16(v[i:]))
	}
	return fmt.Appendf(b, "]:%04X", p)
}

// AppendProc writes services in /proc/net/ip_vs's format.
func AppendProc(b []byte, svcs []Service, hz int) ([]byte, error) {
	b = append(b, "IP Virtual Server version 1.2.1 (size=4096)\n"+
		"Prot LocalAddress:Port Scheduler Flags\n"+
		"  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"...)
	for _, s := range svcs {
		if s.Sched == "" || strings.ContainsAny(s.Sched, " \t\n") {
			return b, fmt.Errorf("kview: %s: bad scheduler %q", s.Key(), s.Sched)
		}
		switch s.Proto {
		case "FWM":
			b = fmt.Appendf(b, "FWM  %08X %s ", s.FWMark, s.Sched)
		case "TCP", "UDP", "SCTP":
			if !s.Addr.IsValid() || s.Addr.Is4In6() || s.Addr.Zone() != "" {
				return b, fmt.Errorf("kview: %s: bad address", s.Key())
			}
			b = append(b, s.Proto+"  "...)
			b = appendProcAddrPort(b, s.Addr, s.Port)
			b = append(b, ' ')
			b = append(b, s.Sched...)
			b = append(b, ' ')
		default:
			return b, fmt.Errorf("kview: bad protocol %q", s.Proto)
		}
		if s.OnePacket {
			b = append(b, "ops "...)
		}
		if s.Timeout > 0 {
			var m uint32
			switch {
			case s.Addr.Is6():
				if s.Netmask < 0 || s.Netmask > 128 {
					return b, fmt.Errorf("kview: %s: netmask /%d", s.Key(), s.Netmask)
				}
				m = bits.ReverseBytes32(uint32(s.Netmask))
			default:
				if s.Netmask < 0 || s.Netmask > 32 {
					return b, fmt.Errorf("kview: %s: netmask /%d", s.Key(), s.Netmask)
				}
				m = prefixMask(s.Netmask)
			}
			b = fmt.Appendf(b, "persistent %d %08X", uint64(s.Timeout)*uint64(hz), m)
		}
		b = append(b, '\n')
		for _, d := range s.Dests {
			if !contains(procForward, d.Forward) || !d.Addr.IsValid() || d.Addr.Is4In6() || d.Addr.Zone() != "" {
				return b, fmt.Errorf("kview: %s: bad destination %v %q", s.Key(), d.Addr, d.Forward)
			}
			b = append(b, "  -> "...)
			b = appendProcAddrPort(b, d.Addr, d.Port)
			b = fmt.Appendf(b, "      %-7s %-6d %-10d %-10d\n", d.Forward, d.Weight, d.Active, d.Inactive)
		}
	}
	return b, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
