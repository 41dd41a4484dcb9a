package kview

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// View is which of ipvsadm's listings a text is.
type View int

// ipvsadm -Ln views: the default, --thresholds, --persistent-conn, --stats
// and --rate (the last two with --exact for whole numbers).
const (
	ViewDefault View = iota
	ViewThresholds
	ViewPersistent
	ViewStats
	ViewRate
)

var viewHeaders = []struct {
	view   View
	header string // the column names after "LocalAddress:Port" or "RemoteAddress:Port"
}{
	{ViewThresholds, "Uthreshold Lthreshold ActiveConn InActConn"},
	{ViewPersistent, "Weight PersistConn ActiveConn InActConn"},
	{ViewStats, "Conns InPkts OutPkts InBytes OutBytes"},
	{ViewRate, "CPS InPPS OutPPS InBPS OutBPS"},
	{ViewDefault, "Forward Weight ActiveConn InActConn"},
}

// ipvsadm's names of forwarding methods are /proc's.
var admForward = []string{"Masq", "Local", "Tunnel", "Route"}

// ParseIpvsadm parses the output of `ipvsadm -Ln` (with --thresholds,
// --persistent-conn, or --stats/--rate and --exact): services in ipvsadm's
// order, destinations as it prints them (sorted by address). It returns
// which view the text is.
func ParseIpvsadm(b []byte) ([]Service, View, error) {
	lines := strings.Split(string(b), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "IP Virtual Server version") {
		return nil, 0, fmt.Errorf("kview: ipvsadm: no \"IP Virtual Server version\" header")
	}
	hdr := strings.Join(strings.Fields(lines[1]+" "+lines[2]), " ")
	view := View(-1)
	for _, v := range viewHeaders {
		if strings.Contains(hdr, v.header) {
			view = v.view
			break
		}
	}
	if view < 0 {
		return nil, 0, fmt.Errorf("kview: ipvsadm: unknown listing %q", hdr)
	}
	var out []Service
	for i := 3; i < len(lines); i++ {
		f := strings.Fields(lines[i])
		if len(f) == 0 {
			continue
		}
		if f[0] == "->" {
			if len(out) == 0 {
				return nil, 0, fmt.Errorf("kview: ipvsadm line %d: destination before any service", i+1)
			}
			d, err := admDest(f[1:], view)
			if err != nil {
				return nil, 0, fmt.Errorf("kview: ipvsadm line %d: %w", i+1, err)
			}
			s := &out[len(out)-1]
			s.Dests = append(s.Dests, d)
			continue
		}
		s, err := admService(f, view)
		if err != nil {
			return nil, 0, fmt.Errorf("kview: ipvsadm line %d: %w", i+1, err)
		}
		out = append(out, s)
	}
	return out, view, nil
}

func admAddrPort(s string) (netip.Addr, uint16, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Addr().Zone() != "" || ap.Addr().Is4In6() {
		return netip.Addr{}, 0, fmt.Errorf("bad address %q", s)
	}
	return ap.Addr(), ap.Port(), nil
}

func counters(f []string) (*Counters, error) {
	if len(f) != 5 {
		return nil, fmt.Errorf("%d counters, want 5", len(f))
	}
	var n [5]uint64
	for i, s := range f {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad counter %q (list with --exact)", s)
		}
		n[i] = v
	}
	return &Counters{Conns: n[0], InPkts: n[1], OutPkts: n[2], InBytes: n[3], OutBytes: n[4]}, nil
}

func admService(f []string, view View) (Service, error) {
	if len(f) < 2 {
		return Service{}, fmt.Errorf("short service line")
	}
	s := Service{Proto: f[0], Netmask: -1}
	switch f[0] {
	case "FWM":
		v, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil || v == 0 || strconv.FormatUint(v, 10) != f[1] {
			return s, fmt.Errorf("bad firewall mark %q", f[1])
		}
		s.FWMark = uint32(v)
	case "TCP", "UDP", "SCTP":
		a, p, err := admAddrPort(f[1])
		if err != nil {
			return s, err
		}
		s.Addr, s.Port = a, p
	default:
		return s, fmt.Errorf("unknown protocol %q", f[0])
	}
	rest := f[2:]
	if s.Proto == "FWM" && len(rest) > 0 && rest[0] == "IPv6" {
		s.IPv6, rest = true, rest[1:]
	}
	if view == ViewStats || view == ViewRate {
		c, err := counters(rest)
		s.Stats = c
		return s, err
	}
	if len(rest) == 0 || strings.ContainsAny(rest[0], "()") {
		return s, fmt.Errorf("no scheduler")
	}
	s.Sched, rest = rest[0], rest[1:]
	if len(rest) > 0 && strings.HasPrefix(rest[0], "(") {
		if !strings.HasSuffix(rest[0], ")") || len(rest[0]) < 3 {
			return s, fmt.Errorf("bad scheduler flags %q", rest[0])
		}
		s.Flags = strings.Split(rest[0][1:len(rest[0])-1], ",")
		for _, fl := range s.Flags {
			if fl == "" || strings.ContainsAny(fl, "()") {
				return s, fmt.Errorf("bad scheduler flags %q", rest[0])
			}
		}
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] == "ops" {
		s.OnePacket, rest = true, rest[1:]
	}
	if len(rest) >= 2 && rest[0] == "persistent" {
		t, err := strconv.ParseUint(rest[1], 10, 32)
		if err != nil || t == 0 {
			return s, fmt.Errorf("bad persistence timeout %q", rest[1])
		}
		s.Timeout, rest = uint32(t), rest[2:]
		if len(rest) >= 2 && rest[0] == "mask" {
			n, err := admMask(rest[1], s)
			if err != nil {
				return s, err
			}
			s.Netmask, rest = n, rest[2:]
		}
	}
	if len(rest) >= 2 && rest[0] == "pe" && rest[1] != "" {
		s.PE, rest = rest[1], rest[2:]
	}
	if len(rest) > 0 {
		return s, fmt.Errorf("unexpected %q", strings.Join(rest, " "))
	}
	return s, nil
}

// admMask reads ipvsadm's "mask": a dotted IPv4 mask or an IPv6 prefix
// length.
func admMask(m string, s Service) (int, error) {
	if s.Addr.Is6() || s.IPv6 {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > 128 || strconv.Itoa(n) != m {
			return 0, fmt.Errorf("bad mask %q", m)
		}
		return n, nil
	}
	a, err := netip.ParseAddr(m)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("bad mask %q", m)
	}
	v := a.As4()
	u := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
	n := 0
	for n < 32 && u&(1<<(31-n)) != 0 {
		n++
	}
	if prefixMask(n) != u {
		return 0, fmt.Errorf("mask %q is not a prefix", m)
	}
	return n, nil
}

func admDest(f []string, view View) (Dest, error) {
	if len(f) == 0 {
		return Dest{}, fmt.Errorf("empty destination")
	}
	a, p, err := admAddrPort(f[0])
	if err != nil {
		return Dest{}, err
	}
	d := Dest{Addr: a, Port: p}
	f = f[1:]
	if view == ViewStats || view == ViewRate {
		d.Stats, err = counters(f)
		return d, err
	}
	if len(f) != 4 {
		return d, fmt.Errorf("%d columns, want 4", len(f))
	}
	var n [4]int64
	start := 0
	if view == ViewDefault {
		if !contains(admForward, f[0]) {
			return d, fmt.Errorf("forwarding method %q", f[0])
		}
		d.Forward, start = f[0], 1
	}
	for i := start; i < 4; i++ {
		if n[i], err = strconv.ParseInt(f[i], 10, 64); err != nil || n[i] < 0 || n[i] > 1<<31-1 {
			return d, fmt.Errorf("bad number %q", f[i])
		}
	}
	switch view {
	case ViewDefault:
		d.Weight, d.Active, d.Inactive = int32(n[1]), int32(n[2]), int32(n[3])
	case ViewThresholds:
		d.UThresh, d.LThresh, d.Active, d.Inactive = uint32(n[0]), uint32(n[1]), int32(n[2]), int32(n[3])
	case ViewPersistent:
		d.Weight, d.PersistConn, d.Active, d.Inactive = int32(n[0]), int32(n[1]), int32(n[2]), int32(n[3])
	}
	return d, nil
}

// AppendIpvsadm writes services as ipvsadm -Ln prints the given view.
func AppendIpvsadm(b []byte, svcs []Service, view View) ([]byte, error) {
	b = append(b, "IP Virtual Server version 1.2.1 (size=4096)\n"...)
	var cols string
	for _, v := range viewHeaders {
		if v.view == view {
			cols = v.header
		}
	}
	switch view {
	case ViewDefault:
		b = append(b, "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           "+cols+"\n"...)
	case ViewThresholds, ViewPersistent, ViewStats, ViewRate:
		b = append(b, "Prot LocalAddress:Port            "+cols+"\n  -> RemoteAddress:Port\n"...)
	default:
		return b, fmt.Errorf("kview: bad view %d", view)
	}
	for _, s := range svcs {
		switch s.Proto {
		case "FWM":
			if s.FWMark == 0 {
				return b, fmt.Errorf("kview: FWM 0")
			}
			b = fmt.Appendf(b, "FWM  %d", s.FWMark)
			if s.IPv6 {
				b = append(b, " IPv6"...)
			}
		case "TCP", "UDP", "SCTP":
			if !s.Addr.IsValid() || s.Addr.Is4In6() || s.Addr.Zone() != "" {
				return b, fmt.Errorf("kview: %s: bad address", s.Key())
			}
			b = fmt.Appendf(b, "%s  %v", s.Proto, netip.AddrPortFrom(s.Addr, s.Port))
		default:
			return b, fmt.Errorf("kview: bad protocol %q", s.Proto)
		}
		if view == ViewStats || view == ViewRate {
			if s.Stats == nil {
				return b, fmt.Errorf("kview: %s: no counters", s.Key())
			}
			b = appendCounters(b, s.Stats)
		} else {
			if s.Sched == "" || strings.ContainsAny(s.Sched, " \t\n()") {
				return b, fmt.Errorf("kview: %s: bad scheduler %q", s.Key(), s.Sched)
			}
			b = append(b, ' ')
			b = append(b, s.Sched...)
			if len(s.Flags) > 0 {
				for _, fl := range s.Flags {
					if fl == "" || strings.ContainsAny(fl, " \t\n,()") {
						return b, fmt.Errorf("kview: %s: bad flag %q", s.Key(), fl)
					}
				}
				b = append(b, " ("+strings.Join(s.Flags, ",")+")"...)
			}
			if s.OnePacket {
				b = append(b, " ops"...)
			}
			if s.Timeout > 0 {
				b = fmt.Appendf(b, " persistent %d", s.Timeout)
				if s.Netmask >= 0 {
					if s.Addr.Is6() || s.IPv6 {
						b = fmt.Appendf(b, " mask %d", s.Netmask)
					} else if s.Netmask <= 32 {
						m := prefixMask(s.Netmask)
						b = fmt.Appendf(b, " mask %d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
					} else {
						return b, fmt.Errorf("kview: %s: mask /%d", s.Key(), s.Netmask)
					}
				}
			}
			if s.PE != "" {
				if strings.ContainsAny(s.PE, " \t\n") {
					return b, fmt.Errorf("kview: %s: bad pe %q", s.Key(), s.PE)
				}
				b = append(b, " pe "+s.PE...)
			}
		}
		b = append(b, '\n')
		for _, d := range s.Dests {
			if !d.Addr.IsValid() || d.Addr.Is4In6() || d.Addr.Zone() != "" {
				return b, fmt.Errorf("kview: %s: bad destination", s.Key())
			}
			b = fmt.Appendf(b, "  -> %-28v", netip.AddrPortFrom(d.Addr, d.Port))
			switch view {
			case ViewDefault:
				if !contains(admForward, d.Forward) {
					return b, fmt.Errorf("kview: %s: forwarding method %q", s.Key(), d.Forward)
				}
				b = fmt.Appendf(b, " %-7s %-6d %-10d %-10d\n", d.Forward, d.Weight, d.Active, d.Inactive)
			case ViewThresholds:
				b = fmt.Appendf(b, " %-10d %-10d %-10d %-10d\n", d.UThresh, d.LThresh, d.Active, d.Inactive)
			case ViewPersistent:
				b = fmt.Appendf(b, " %-9d %-11d %-10d %-10d\n", d.Weight, d.PersistConn, d.Active, d.Inactive)
			default:
				if d.Stats == nil {
					return b, fmt.Errorf("kview: %s: destination without counters", s.Key())
				}
				b = appendCounters(b, d.Stats)
				b = append(b, '\n')
			}
		}
	}
	return b, nil
}

func appendCounters(b []byte, c *Counters) []byte {
	return fmt.Appendf(b, " %8d %8d %8d %8d %8d", c.Conns, c.InPkts, c.OutPkts, c.InBytes, c.OutBytes)
}
