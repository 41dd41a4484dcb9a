// Package ipvsfmt prints ulvs's tables exactly as ipvsadm 1.31 prints the
// kernel's: the same header lines, column widths, truncation, number
// abbreviations and sort order (libipvs's ipvs_cmp_services and
// ipvs_cmp_dests, integer-overflow quirks included), so that scripts that
// parse `ipvsadm -Ln` keep working with `ulvsadm -Ln`.
package ipvsfmt

import (
	"fmt"
	"io"
	"net/netip"
	"sort"

	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/sched"
)

// Format selects what a listing shows, as ipvsadm's options do.
type Format uint

const (
	// Numeric is -n: addresses and ports as numbers. ulvsadm never
	// resolves names, so listings are always numeric; the flag is kept
	// for symmetry with ipvsadm.
	Numeric Format = 1 << iota
	// Stats is --stats.
	Stats
	// Rate is --rate.
	Rate
	// Thresholds is --thresholds.
	Thresholds
	// PersistentConn is --persistent-conn.
	PersistentConn
	// Exact is --exact: counters without K/M/G/T abbreviation.
	Exact
	// Rule is -S / --save: the table as ipvsadm commands.
	Rule
)

// Table writes the whole table: `ipvsadm -L[n]` with the format's options.
func Table(w io.Writer, t *ctl.IPVS, f Format) {
	if f&Rule == 0 {
		fmt.Fprintf(w, "IP Virtual Server version %s (size=%d)\n", t.Version, t.Size)
	}
	svcs := append([]ctl.Service(nil), t.Services...)
	SortServices(svcs)
	title(w, svcs, f)
	for i := range svcs {
		service(w, &svcs[i], f)
	}
}

// One writes one service with the title lines: `ipvsadm -L -t VIP:PORT`.
func One(w io.Writer, s *ctl.Service, f Format) {
	title(w, []ctl.Service{*s}, f)
	service(w, s, f)
}

func title(w io.Writer, svcs []ctl.Service, f Format) {
	switch {
	case f&Stats != 0:
		fmt.Fprintf(w, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	case f&Rate != 0:
		fmt.Fprintf(w, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
	case f&Thresholds != 0:
		fmt.Fprintf(w, "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
	case f&PersistentConn != 0:
		fmt.Fprintf(w, "%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n",
			"Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn")
	case f&Rule != 0:
	case hasTunnelInfo(svcs):
		fmt.Fprint(w, "Prot LocalAddress:Port Scheduler Flags\n"+
			"  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n")
	default:
		fmt.Fprint(w, "Prot LocalAddress:Port Scheduler Flags\n"+
			"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	}
}

// hasTunnelInfo reports whether any destination has a GUE or GRE tunnel,
// which makes ipvsadm add its TunnelInfo column.
func hasTunnelInfo(svcs []ctl.Service) bool {
	for _, s := range svcs {
		for _, d := range s.Dests {
			if d.Method == "Tunnel" && (d.TunnelType == "gue" || d.TunnelType == "gre") {
				return true
			}
		}
	}
	return false
}

// addrPort is addrport_to_anyname with FMT_NUMERIC.
func addrPort(a netip.Addr, port uint16, v6 bool) string {
	if v6 {
		return fmt.Sprintf("[%s]:%d", a, port)
	}
	return fmt.Sprintf("%s:%d", a, port)
}

func protoWord(s *ctl.Service) string {
	if s.Proto == "" {
		return "TCP"
	}
	return s.Proto
}

func serviceName(s *ctl.Service, f Format) string {
	if s.FWMark != 0 {
		switch {
		case f&Rule != 0 && s.IPv6:
			return fmt.Sprintf("-f %d -6", s.FWMark)
		case f&Rule != 0:
			return fmt.Sprintf("-f %d", s.FWMark)
		case s.IPv6:
			return fmt.Sprintf("FWM  %d IPv6", s.FWMark)
		}
		return fmt.Sprintf("FWM  %d", s.FWMark)
	}
	vname := addrPort(s.Addr, s.Port, s.IPv6)
	if f&Rule != 0 {
		opt := map[string]string{"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}[protoWord(s)]
		return opt + " " + vname
	}
	name := fmt.Sprintf("%-4s %s", protoWord(s), vname)
	if !s.IPv6 && len(name) > 33 {
		name = name[:33]
	}
	return name
}

// schedFlags names the scheduler flag bits as ipvsadm does.
func schedFlags(s *ctl.Service) string { return sched.FlagString(s.Sched, s.Flags&sched.FlagsSched) }

// netmaskString is the persistence mask ipvsadm prints after "mask": a
// dotted IPv4 netmask unless it is /32, an IPv6 prefix length unless /128.
func netmaskString(s *ctl.Service) (string, bool) {
	if s.IPv6 {
		if s.Netmask >= 128 {
			return "", false
		}
		return fmt.Sprint(s.Netmask), true
	}
	if s.Netmask >= 32 {
		return "", false
	}
	var m uint32
	if s.Netmask > 0 {
		m = ^uint32(0) << (32 - uint(s.Netmask))
	}
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff), true
}

func service(w io.Writer, s *ctl.Service, f Format) {
	name := serviceName(s, f)
	switch {
	case f&Rule != 0:
		fmt.Fprintf(w, "-A %s -s %s", name, s.Sched)
		if s.Flags&ctl.FlagPersistent != 0 {
			fmt.Fprintf(w, " -p %d", s.Timeout)
			if m, ok := netmaskString(s); ok {
				fmt.Fprintf(w, " -M %s", m)
			}
			if s.PE != "" {
				fmt.Fprintf(w, " --pe %s", s.PE)
			}
		}
		if s.Flags&ctl.FlagOnePacket != 0 {
			fmt.Fprint(w, " -o")
		}
		if fl := schedFlags(s); fl != "" {
			fmt.Fprintf(w, " -b %s", fl)
		}
	case f&Stats != 0:
		fmt.Fprintf(w, "%-33s", name)
		for _, v := range []uint64{s.Stats.Conns, s.Stats.InPkts, s.Stats.OutPkts, s.Stats.InBytes, s.Stats.OutBytes} {
			largeNum(w, v, f)
		}
	case f&Rate != 0:
		fmt.Fprintf(w, "%-33s", name)
		for _, v := range []uint64{s.Rates.CPS, s.Rates.InPPS, s.Rates.OutPPS, s.Rates.InBPS, s.Rates.OutBPS} {
			largeNum(w, v, f)
		}
	default:
		fmt.Fprintf(w, "%s %s", name, s.Sched)
		if fl := schedFlags(s); fl != "" {
			fmt.Fprintf(w, " (%s)", fl)
		}
		if s.Flags&ctl.FlagPersistent != 0 {
			fmt.Fprintf(w, " persistent %d", s.Timeout)
			if m, ok := netmaskString(s); ok {
				fmt.Fprintf(w, " mask %s", m)
			}
			if s.PE != "" {
				fmt.Fprintf(w, " pe %s", s.PE)
			}
		}
		if s.Flags&ctl.FlagOnePacket != 0 {
			fmt.Fprint(w, " ops")
		}
	}
	fmt.Fprintln(w)

	dests := append([]ctl.Dest(nil), s.Dests...)
	SortDests(dests)
	tunInfo := hasTunnelInfo([]ctl.Service{*s})
	for _, d := range dests {
		dname := addrPort(d.Addr, d.Port, s.IPv6)
		if f&Rule == 0 && !s.IPv6 && len(dname) > 28 {
			dname = dname[:28]
		}
		switch {
		case f&Rule != 0:
			sw := map[string]string{"Masq": "-m", "Tunnel": "-i", "Route": "-g", "Local": "-g"}[d.Method]
			fmt.Fprintf(w, "-a %s -r %s %s -w %d", name, dname, sw, d.Weight)
			if d.Method == "Tunnel" && d.TunnelType != "" && d.TunnelType != "ipip" {
				fmt.Fprintf(w, " --tun-type %s", d.TunnelType)
				if d.TunnelType == "gue" {
					fmt.Fprintf(w, " --tun-port %d", d.TunnelPort)
				}
				if d.TunnelCsum != "" {
					fmt.Fprintf(w, " --tun-%s", d.TunnelCsum)
				}
			}
			fmt.Fprintln(w)
		case f&Stats != 0:
			fmt.Fprintf(w, "  -> %-28s", dname)
			for _, v := range []uint64{d.Stats.Conns, d.Stats.InPkts, d.Stats.OutPkts, d.Stats.InBytes, d.Stats.OutBytes} {
				largeNum(w, v, f)
			}
			fmt.Fprintln(w)
		case f&Rate != 0:
			fmt.Fprintf(w, "  -> %-28s %8d %8d %8d", dname, d.Rates.CPS, d.Rates.InPPS, d.Rates.OutPPS)
			largeNum(w, d.Rates.InBPS, f)
			largeNum(w, d.Rates.OutBPS, f)
			fmt.Fprintln(w)
		case f&Thresholds != 0:
			fmt.Fprintf(w, "  -> %-28s %-10d %-10d %-10d %-10d\n", dname, d.UThreshold, d.LThreshold, d.Active, d.Inactive)
		case f&PersistentConn != 0:
			fmt.Fprintf(w, "  -> %-28s %-9d %-11d %-10d %-10d\n", dname, d.Weight, d.Persistent, d.Active, d.Inactive)
		case tunInfo:
			info := "n/a"
			if d.Method == "Tunnel" {
				info = tunnelInfo(d)
			}
			fmt.Fprintf(w, "  -> %-28s %-7s %-13s %-6d %-10d %-10d\n", dname, d.Method, info, d.Weight, d.Active, d.Inactive)
		default:
			fmt.Fprintf(w, "  -> %-28s %-7s %-6d %-10d %-10d\n", dname, d.Method, d.Weight, d.Active, d.Inactive)
		}
	}
}

// tunnelInfo is ipvsadm's TunnelInfo cell: "type:port:csum" for gue,
// "type:csum" otherwise.
func tunnelInfo(d ctl.Dest) string {
	t := d.TunnelType
	if t == "" {
		t = "ipip"
	}
	csum := d.TunnelCsum
	if csum == "" {
		csum = "nocsum"
	}
	if t == "gue" {
		return fmt.Sprintf("%s:%d:%s", t, d.TunnelPort, csum)
	}
	return fmt.Sprintf("%s:%s", t, csum)
}

// largeNum is ipvsadm's print_largenum.
func largeNum(w io.Writer, v uint64, f Format) {
	if f&Exact != 0 {
		s := fmt.Sprint(v)
		width := len(s) + 1
		if len(s) <= 8 {
			width = 9
		}
		fmt.Fprintf(w, "%*d", width, v)
		return
	}
	switch {
	case v < 100000000:
		fmt.Fprintf(w, "%9d", v)
	case v < 1000000000:
		fmt.Fprintf(w, "%8dK", v/1000)
	case v < 100000000000:
		fmt.Fprintf(w, "%8dM", v/1000000)
	case v < 100000000000000:
		fmt.Fprintf(w, "%8dG", v/1000000000)
	default:
		fmt.Fprintf(w, "%8dT", v/1000000000000)
	}
}

// u32diff is libipvs's "r = ntohl(a) - ntohl(b)" read back as an int: the
// unsigned difference reinterpreted, so addresses more than 2^31 apart sort
// "backwards", exactly as ipvsadm shows them.
func u32diff(a, b uint32) int32 { return int32(a - b) }

func addrWords(a netip.Addr) []uint32 {
	if a.Is4() {
		b := a.As4()
		return []uint32{uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])}
	}
	b := a.As16()
	var out []uint32
	for i := 0; i < 16; i += 4 {
		out = append(out, uint32(b[i])<<24|uint32(b[i+1])<<16|uint32(b[i+2])<<8|uint32(b[i+3]))
	}
	return out
}

func cmpAddr(a, b netip.Addr) int32 {
	wa, wb := addrWords(a), addrWords(b)
	for i := 0; i < len(wa) && i < len(wb); i++ {
		if r := u32diff(wa[i], wb[i]); r != 0 {
			return r
		}
	}
	return 0
}

func protoNum(p string) int32 {
	switch p {
	case "TCP":
		return 6
	case "UDP":
		return 17
	case "SCTP":
		return 132
	}
	return 0
}

// SortServices orders services as ipvs_cmp_services: fwmark, family,
// protocol, address, port.
func SortServices(s []ctl.Service) {
	fam := func(v6 bool) int32 {
		if v6 {
			return 10
		}
		return 2
	}
	sort.SliceStable(s, func(i, j int) bool {
		a, b := &s[i], &s[j]
		if r := u32diff(a.FWMark, b.FWMark); r != 0 {
			return r < 0
		}
		if r := fam(a.IPv6) - fam(b.IPv6); r != 0 {
			return r < 0
		}
		if a.FWMark == 0 && b.FWMark == 0 {
			if r := protoNum(a.Proto) - protoNum(b.Proto); r != 0 {
				return r < 0
			}
			if r := cmpAddr(a.Addr, b.Addr); r != 0 {
				return r < 0
			}
		}
		return int(a.Port)-int(b.Port) < 0
	})
}

// SortDests orders destinations as ipvs_cmp_dests: address, then port.
func SortDests(d []ctl.Dest) {
	sort.SliceStable(d, func(i, j int) bool {
		if r := cmpAddr(d[i].Addr, d[j].Addr); r != 0 {
			return r < 0
		}
		return int(d[i].Port)-int(d[j].Port) < 0
	})
}

// Conns writes `ipvsadm -Lnc`.
func Conns(w io.Writer, conns []ctl.Conn) {
	fmt.Fprintln(w, "IPVS connection entries")
	fmt.Fprintf(w, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination")
	for _, c := range conns {
		exp := fmt.Sprintf("%02d:%02d", c.Expires/60, c.Expires%60)
		fmt.Fprintf(w, "%-3s %-6s %-11s %-18s %-18s %s\n", c.Proto, exp, c.State,
			apString(c.Source), apString(c.Virtual), apString(c.Dest))
	}
}

func apString(ap netip.AddrPort) string {
	return addrPort(ap.Addr(), ap.Port(), ap.Addr().Is6() && !ap.Addr().Is4In6())
}

// Timeouts writes `ipvsadm -L --timeout`.
func Timeouts(w io.Writer, t ctl.Timeouts) {
	fmt.Fprintf(w, "Timeout (tcp tcpfin udp): %d %d %d\n", t.TCP, t.TCPFin, t.UDP)
}
