package forward

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ulvs/ulvs/forward/frame"
)

// udpFrame builds a client's UDP frame to the director with n payload
// bytes, IP identification 0x1234 and valid checksums.
func udpFrame(t testing.TB, src, dst netip.AddrPort, n int, df bool) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: clientMAC, DstMAC: dirMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Id: 0x1234, Protocol: layers.IPProtocolUDP, SrcIP: src.Addr().AsSlice(),
		DstIP: dst.Addr().AsSlice()}
	if df {
		ip.Flags = layers.IPv4DontFragment
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	_ = udp.SetNetworkLayerForChecksum(ip)
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fragmentFrame splits an option-free IPv4 frame into fragments of at
// most mtu bytes of IP packet, as a sender's kernel would (RFC 791).
func fragmentFrame(t testing.TB, f []byte, mtu int) [][]byte {
	t.Helper()
	hdr := f[:frame.EthLen+frame.IPv4Len]
	data := f[frame.EthLen+frame.IPv4Len:]
	step := (mtu - frame.IPv4Len) &^ 7
	var out [][]byte
	for off := 0; off < len(data); off += step {
		n := min(step, len(data)-off)
		b := append(append([]byte{}, hdr...), data[off:off+n]...)
		ip := b[frame.EthLen:]
		binary.BigEndian.PutUint16(ip[2:], uint16(frame.IPv4Len+n))
		fo := uint16(off / 8)
		if off+n < len(data) {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(ip[6:], fo)
		binary.BigEndian.PutUint16(ip[10:], 0)
		binary.BigEndian.PutUint16(ip[10:], frame.IPv4HeaderChecksum(b, frame.EthLen))
		out = append(out, b)
	}
	return out
}

// icmpErrorFrame builds an ICMP fragmentation-needed (MTU 1400) from src
// to dst quoting the IP packet quoted, with valid checksums.
func icmpErrorFrame(t testing.TB, src, dst netip.Addr, quoted []byte) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: clientMAC, DstMAC: dirMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 4), Seq: 1400}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, icmp, gopacket.Payload(quoted[:min(len(quoted), 28)])); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
