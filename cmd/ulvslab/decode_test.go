package main

import (
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// buildFrame serialises a summary into an Ethernet frame: the inverse of
// decodeFrame, for tests and the fuzz fixed point.
func buildFrame(t testing.TB, s summary) []byte {
	t.Helper()
	src, err1 := net.ParseMAC(s.SrcMAC)
	dst, err2 := net.ParseMAC(s.DstMAC)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad MACs in %+v", s)
	}
	ls := []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeIPv4}}
	if s.Outer != nil {
		ls = append(ls, &layers.IPv4{Version: 4, IHL: 5, TTL: s.Outer.TTL, Protocol: layers.IPProtocolIPv4,
			SrcIP: s.Outer.Src.AsSlice(), DstIP: s.Outer.Dst.AsSlice()})
	}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: s.IP.TTL, Protocol: layers.IPProtocolTCP, SrcIP: s.IP.Src.AsSlice(), DstIP: s.IP.Dst.AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.SrcPort), DstPort: layers.TCPPort(s.DstPort), SYN: s.SYN, ACK: s.ACK,
		FIN: s.FIN, RST: s.RST, PSH: s.PSH, Window: 64240, DataOffset: 5}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	ls = append(ls, ip, tcp, gopacket.Payload(make([]byte, s.Payload)))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// addrCmp compares netip.Addr by value for cmp.Diff.
var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

const (
	macClient = "02:00:00:00:00:01"
	macDir    = "02:00:00:00:00:02"
	macRS     = "02:00:00:00:00:12"
)

var (
	ipClient = netip.MustParseAddr("198.18.0.1")
	ipDir    = netip.MustParseAddr("198.18.0.2")
	ipVIP    = netip.MustParseAddr("198.18.0.100")
	ipRS     = netip.MustParseAddr("198.18.0.12")
	ipRSNAT  = netip.MustParseAddr("198.18.1.12")
)

func syn(srcMAC, dstMAC string, src, dst netip.Addr, sport, dport uint16) summary {
	return summary{SrcMAC: srcMAC, DstMAC: dstMAC, IP: ipHdr{Src: src, Dst: dst, TTL: 64, Proto: 6}, SrcPort: sport, DstPort: dport, SYN: true}
}

func synack(srcMAC, dstMAC string, src, dst netip.Addr, sport, dport uint16) summary {
	s := syn(srcMAC, dstMAC, src, dst, sport, dport)
	s.ACK = true
	return s
}

func tunnelled(s summary, src, dst netip.Addr) summary {
	s.Outer = &ipHdr{Src: src, Dst: dst, TTL: 64, Proto: 4}
	return s
}

func TestDecodeFrame(t *testing.T) {
	t.Parallel()
	data := syn(macClient, macDir, ipClient, ipVIP, 40000, 80)
	data.SYN, data.ACK, data.PSH, data.Payload = false, true, true, 78
	for name, s := range map[string]summary{
		"SYN":         syn(macClient, macDir, ipClient, ipVIP, 40000, 80),
		"SYN-ACK":     synack(macRS, macClient, ipVIP, ipClient, 80, 40000),
		"data":        data,
		"IPIP":        tunnelled(syn(macDir, macRS, ipClient, ipVIP, 40000, 80), ipDir, ipRS),
		"FIN from RS": {SrcMAC: macRS, DstMAC: macClient, IP: ipHdr{Src: ipVIP, Dst: ipClient, TTL: 64, Proto: 6}, SrcPort: 80, DstPort: 40000, FIN: true, ACK: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := decodeFrame(buildFrame(t, s))
			if !ok {
				t.Fatal("not decoded")
			}
			if diff := cmp.Diff(s, got, addrCmp); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeFrameRejects(t *testing.T) {
	t.Parallel()
	full := buildFrame(t, syn(macClient, macDir, ipClient, ipVIP, 40000, 80))
	udp := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ipClient.AsSlice(), DstIP: ipVIP.AsSlice()}
	u := &layers.UDP{SrcPort: 1, DstPort: 53}
	_ = u.SetNetworkLayerForChecksum(ip)
	mac, _ := net.ParseMAC(macClient)
	if err := gopacket.SerializeLayers(udp, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: layers.EthernetTypeIPv4}, ip, u); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"empty":      nil,
		"short":      full[:10],
		"truncated":  full[:30],
		"no TCP":     full[:34],
		"UDP":        udp.Bytes(),
		"not IPv4":   append(append([]byte{}, full[:12]...), 0x86, 0xdd),
		"bad header": append(append(append([]byte{}, full[:14]...), 0x4f), full[15:]...),
	} {
		if s, ok := decodeFrame(b); ok {
			t.Errorf("%s: decoded as %+v", name, s)
		}
	}
}

// FuzzDecodeFrame: captured bytes from the wire never panic the decoder,
// and what it accepts survives serialise → decode unchanged.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []summary{
		syn(macClient, macDir, ipClient, ipVIP, 40000, 80),
		synack(macRS, macDir, ipRSNAT, ipClient, 80, 40000),
		tunnelled(syn(macDir, macRS, ipClient, ipVIP, 40000, 80), ipDir, ipRS),
	} {
		f.Add(buildFrame(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := decodeFrame(b)
		if !ok {
			return
		}
		if !s.IP.Src.Is4() || !s.IP.Dst.Is4() {
			t.Fatalf("accepted a non-IPv4 packet: %+v", s)
		}
		s.Payload = min(s.Payload, 1500)
		again, ok := decodeFrame(buildFrame(t, s))
		if !ok {
			t.Fatalf("rebuilt frame of %+v not decoded", s)
		}
		if diff := cmp.Diff(s, again, addrCmp); diff != "" {
			t.Fatalf("decode → build → decode changed it (-first +again):\n%s", diff)
		}
	})
}
