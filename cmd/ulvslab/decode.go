package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ipHdr is what the trace shows of an IPv4 header.
type ipHdr struct {
	Src, Dst netip.Addr
	TTL      uint8
	Proto    uint8
}

// summary is one captured frame as the trace shows it: Ethernet, the
// outer IPv4 header of an IPIP packet (nil otherwise), the (inner) IPv4
// header and TCP.
type summary struct {
	SrcMAC, DstMAC   string
	Outer            *ipHdr
	IP               ipHdr
	SrcPort, DstPort uint16
	SYN, ACK         bool
	FIN, RST, PSH    bool
	Payload          int
}

// decodeFrame summarises an Ethernet frame carrying TCP over IPv4 (or
// over IPv4-in-IPv4). It reports false for anything else, and for
// truncated or malformed frames; it never panics on outside bytes.
func decodeFrame(b []byte) (summary, bool) {
	var s summary
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
	eth, ok := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !ok {
		return s, false
	}
	s.SrcMAC, s.DstMAC = eth.SrcMAC.String(), eth.DstMAC.String()
	var ips []*layers.IPv4
	var tcp *layers.TCP
	for _, l := range p.Layers() {
		switch v := l.(type) {
		case *layers.IPv4:
			ips = append(ips, v)
		case *layers.TCP:
			tcp = v
		}
	}
	if p.ErrorLayer() != nil || tcp == nil || len(ips) == 0 || len(ips) > 2 {
		return s, false
	}
	hdr := func(ip *layers.IPv4) (ipHdr, bool) {
		src, ok1 := netip.AddrFromSlice(ip.SrcIP)
		dst, ok2 := netip.AddrFromSlice(ip.DstIP)
		return ipHdr{Src: src.Unmap(), Dst: dst.Unmap(), TTL: ip.TTL, Proto: uint8(ip.Protocol)}, ok1 && ok2
	}
	inner := ips[len(ips)-1]
	var ok1 bool
	if s.IP, ok1 = hdr(inner); !ok1 {
		return s, false
	}
	if len(ips) == 2 {
		if ips[0].Protocol != layers.IPProtocolIPv4 {
			return s, false
		}
		o, ok := hdr(ips[0])
		if !ok {
			return s, false
		}
		s.Outer = &o
	}
	s.SrcPort, s.DstPort = uint16(tcp.SrcPort), uint16(tcp.DstPort)
	s.SYN, s.ACK, s.FIN, s.RST, s.PSH = tcp.SYN, tcp.ACK, tcp.FIN, tcp.RST, tcp.PSH
	s.Payload = len(tcp.Payload)
	return s, true
}

// flags is the TCP flags in tcpdump's order.
func (s summary) flags() string {
	var f []string
	for _, x := range []struct {
		on   bool
		name string
	}{{s.SYN, "SYN"}, {s.FIN, "FIN"}, {s.RST, "RST"}, {s.PSH, "PSH"}, {s.ACK, "ACK"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, ",")
}

// isSYN and isSYNACK pick the first packet of each direction.
func (s summary) isSYN() bool    { return s.SYN && !s.ACK }
func (s summary) isSYNACK() bool { return s.SYN && s.ACK }

// belongs reports whether the frame is part of the client's connection
// from client:port, in either direction, tunnelled or not.
func (s summary) belongs(client netip.Addr, port uint16) bool {
	return (s.IP.Src == client && s.SrcPort == port) || (s.IP.Dst == client && s.DstPort == port)
}

// names turns addresses into what a person recognises: node names for
// MACs and addresses, "VIP" for the lab's VIPs.
type names struct {
	macs  map[string]string
	addrs map[netip.Addr]string
}

func (n names) mac(m string) string {
	if name, ok := n.macs[m]; ok {
		return name
	}
	if hw, err := net.ParseMAC(m); err == nil && hw.String() == "ff:ff:ff:ff:ff:ff" {
		return "broadcast"
	}
	return m
}

func (n names) addr(a netip.Addr) string {
	if name, ok := n.addrs[a]; ok {
		return a.String() + " (" + name + ")"
	}
	return a.String()
}

// lines renders the frame's headers, one line per layer, marking the
// lines that differ from prev (when not nil) with "*".
func (s summary) lines(n names, prev *summary) []string {
	mark := func(changed bool) string {
		if changed && prev != nil {
			return " *"
		}
		return ""
	}
	var out []string
	out = append(out, fmt.Sprintf("eth   %s → %s   (%s → %s)%s", n.mac(s.SrcMAC), n.mac(s.DstMAC), s.SrcMAC, s.DstMAC,
		mark(prev != nil && (prev.SrcMAC != s.SrcMAC || prev.DstMAC != s.DstMAC))))
	if s.Outer != nil {
		out = append(out, fmt.Sprintf("ip    %s → %s   ttl %d  proto 4 (IPIP: the packet below rides inside)%s",
			n.addr(s.Outer.Src), n.addr(s.Outer.Dst), s.Outer.TTL, mark(prev == nil || prev.Outer == nil || *prev.Outer != *s.Outer)))
	}
	inner := "ip "
	if s.Outer != nil {
		inner = "  ip"
	}
	out = append(out, fmt.Sprintf("%s   %s → %s   ttl %d%s", inner, n.addr(s.IP.Src), n.addr(s.IP.Dst), s.IP.TTL,
		mark(prev != nil && (prev.IP.Src != s.IP.Src || prev.IP.Dst != s.IP.Dst))))
	out = append(out, fmt.Sprintf("tcp   %d → %d   [%s]%s", s.SrcPort, s.DstPort, s.flags(),
		mark(prev != nil && (prev.SrcPort != s.SrcPort || prev.DstPort != s.DstPort))))
	return out
}
