package ipvs

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward"
)

// connHeader is the first line of /proc/net/ip_vs_conn
// (net/netfilter/ipvs/ip_vs_conn.c, ip_vs_conn_seq_show).
const connHeader = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData"

// ParseConns parses /proc/net/ip_vs_conn: after the header, one line per
// connection or persistence template, "Pro FromIP FPrt ToIP TPrt DestIP
// DPrt State Expires [PEName PEData]" with IPv4 addresses and all ports in
// hexadecimal and IPv6 addresses in full colon form. A template is an entry
// whose client port is 0 (templates are keyed on the client's network, not
// its port). Persistence-engine data, if any, is not kept.
func ParseConns(b []byte) ([]forward.Conn, error) {
	var out []forward.Conn
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if i == 0 && len(f) > 0 && f[0] == "Pro" {
			continue
		}
		if len(f) != 9 && len(f) != 11 {
			return nil, fmt.Errorf("forward/ipvs: ip_vs_conn line %d: %d fields, want 9 or 11", i+1, len(f))
		}
		proto, err := parseProto(f[0])
		if err != nil {
			return nil, fmt.Errorf("forward/ipvs: ip_vs_conn line %d: %w", i+1, err)
		}
		var aps [3]netip.AddrPort
		for j := range aps {
			a, err := parseProcAddr(f[1+2*j])
			if err != nil {
				return nil, fmt.Errorf("forward/ipvs: ip_vs_conn line %d: %w", i+1, err)
			}
			p, err := strconv.ParseUint(f[2+2*j], 16, 16)
			if err != nil || len(f[2+2*j]) != 4 {
				return nil, fmt.Errorf("forward/ipvs: ip_vs_conn line %d: bad port %q", i+1, f[2+2*j])
			}
			aps[j] = netip.AddrPortFrom(a, uint16(p))
		}
		exp, err := strconv.ParseUint(f[8], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("forward/ipvs: ip_vs_conn line %d: bad expiry %q", i+1, f[8])
		}
		// The kernel prints (expires - jiffies)/HZ as unsigned: an entry
		// whose timer is due reads as a huge number.
		if exp > 1<<31 {
			exp = 0
		}
		out = append(out, forward.Conn{Proto: proto, Expires: time.Duration(exp) * time.Second, State: f[7],
			Client: aps[0], Virtual: aps[1], Real: aps[2], Template: aps[0].Port() == 0})
	}
	return out, nil
}

// AppendConns appends cs in /proc/net/ip_vs_conn's format, header first.
// Expiry is printed in whole seconds, as the kernel does.
func AppendConns(b []byte, cs []forward.Conn) ([]byte, error) {
	b = append(b, connHeader...)
	b = append(b, '\n')
	for _, c := range cs {
		if (c.Client.Port() == 0) != c.Template {
			return b, fmt.Errorf("forward/ipvs: conn %v: a template has client port 0, and only a template", c.Client)
		}
		if c.State == "" || strings.ContainsAny(c.State, " \t\n") || c.Expires < 0 {
			return b, fmt.Errorf("forward/ipvs: conn %v: bad state %q or expiry %v", c.Client, c.State, c.Expires)
		}
		b = fmt.Appendf(b, "%-3s", protoName(c.Proto))
		for _, ap := range []netip.AddrPort{c.Client, c.Virtual, c.Real} {
			b = append(b, ' ')
			b = appendProcAddr(b, ap.Addr())
			b = fmt.Appendf(b, " %04X", ap.Port())
		}
		b = fmt.Appendf(b, " %-11s %7d\n", c.State, int64(c.Expires/time.Second))
	}
	return b, nil
}

// parseProto reads ip_vs_proto_name's output.
func parseProto(s string) (uint8, error) {
	switch s {
	case "IP":
		return 0, nil
	case "TCP":
		return forward.TCP, nil
	case "UDP":
		return forward.UDP, nil
	case "SCTP":
		return forward.SCTP, nil
	case "ICMPv6":
		return 58, nil
	}
	if n, ok := strings.CutPrefix(s, "IP_"); ok {
		if v, err := strconv.ParseUint(n, 10, 8); err == nil {
			return uint8(v), nil
		}
	}
	return 0, fmt.Errorf("unknown protocol %q", s)
}

func protoName(p uint8) string {
	switch p {
	case 0:
		return "IP"
	case forward.TCP:
		return "TCP"
	case forward.UDP:
		return "UDP"
	case forward.SCTP:
		return "SCTP"
	case 58:
		return "ICMPv6"
	}
	return "IP_" + strconv.Itoa(int(p))
}

// parseProcAddr reads an address as /proc/net/ip_vs* print it: IPv4 as 8
// hex digits in host order of the network value (%08X of ntohl), IPv6 as
// %pI6 (eight groups of four hex digits).
func parseProcAddr(s string) (netip.Addr, error) {
	if len(s) == 8 && !strings.Contains(s, ":") {
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("bad address %q", s)
		}
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], uint32(v))
		return netip.AddrFrom4(a), nil
	}
	groups := strings.Split(s, ":")
	if len(groups) != 8 {
		return netip.Addr{}, fmt.Errorf("bad address %q", s)
	}
	var a [16]byte
	for i, g := range groups {
		v, err := strconv.ParseUint(g, 16, 16)
		if err != nil || len(g) != 4 {
			return netip.Addr{}, fmt.Errorf("bad address %q", s)
		}
		binary.BigEndian.PutUint16(a[2*i:], uint16(v))
	}
	return netip.AddrFrom16(a), nil
}

func appendProcAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return fmt.Appendf(b, "%08X", binary.BigEndian.Uint32(v[:]))
	}
	v := a.As16()
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			b = append(b, ':')
		}
		b = fmt.Appendf(b, "%04x", binary.BigEndian.Uint16(v[i:]))
	}
	return b
}

func secondsToDuration(s uint32) time.Duration { return time.Duration(s) * time.Second }

// procConn is the kernel's connection table.
const procConn = "/proc/net/ip_vs_conn"

// Conns returns the kernel's connections and persistence templates from
// /proc/net/ip_vs_conn.
func (b *Backend) Conns() []forward.Conn {
	cs, err := b.readConns()
	if err != nil {
		b.log.Warn("reading the connection table", zap.Error(err))
		return nil
	}
	return cs
}

func (b *Backend) readConns() ([]forward.Conn, error) {
	data, err := os.ReadFile(b.connFile)
	if err != nil {
		return nil, fmt.Errorf("forward/ipvs: %w", err)
	}
	return ParseConns(data)
}
