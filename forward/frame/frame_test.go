package frame

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// captured returns the frames of testdata/frames.pcap (see capture.sh).
func captured(t testing.TB) [][]byte {
	t.Helper()
	f, err := os.Open("testdata/frames.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		b, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		out = append(out, b)
	}
	if len(out) < 40 {
		t.Fatalf("only %d frames in testdata/frames.pcap", len(out))
	}
	return out
}

type view struct {
	Family           uint8
	Proto            uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Fragment, Later  bool
	ICMPError        bool
}

// oracle decodes b with gopacket, the reference the codec must agree with.
func oracle(b []byte) (view, bool) {
	pk := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	var v view
	switch ip := pk.NetworkLayer().(type) {
	case *layers.IPv4:
		v.Family, v.Proto = 4, uint8(ip.Protocol)
		v.Src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		v.Dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
		v.Fragment = ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0
		v.Later = ip.FragOffset != 0
	case *layers.IPv6:
		v.Family, v.Proto = 6, uint8(ip.NextHeader)
		v.Src, _ = netip.AddrFromSlice(ip.SrcIP)
		v.Dst, _ = netip.AddrFromSlice(ip.DstIP)
		if fl, ok := pk.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment); ok {
			v.Proto = uint8(fl.NextHeader)
			v.Fragment = true
			v.Later = fl.FragmentOffset != 0
		}
		if hl, ok := pk.Layer(layers.LayerTypeIPv6HopByHop).(*layers.IPv6HopByHop); ok {
			v.Proto = uint8(hl.NextHeader)
		}
	default:
		return v, false
	}
	switch l := pk.TransportLayer().(type) {
	case *layers.TCP:
		v.SrcPort, v.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
	case *layers.UDP:
		v.SrcPort, v.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
	}
	if ic, ok := pk.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
		v.ICMPError = ic.TypeCode.Type() == layers.ICMPv4TypeDestinationUnreachable
	}
	if ic, ok := pk.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok {
		v.ICMPError = ic.TypeCode.Type() < 128
	}
	return v, true
}

func TestDecodeAgreesWithGopacket(t *testing.T) {
	t.Parallel()
	for i, b := range captured(t) {
		want, ok := oracle(b)
		var p Packet
		p.Decode(b)
		if !ok {
			if p.Family != 0 {
				t.Errorf("frame %d: decoded as IPv%d, gopacket says not IP", i, p.Family)
			}
			continue
		}
		if !p.OK() {
			t.Errorf("frame %d: malformed (flags %#x)", i, p.Flags)
			continue
		}
		got := view{Family: p.Family, Proto: p.Proto, Src: p.SrcAddr(), Dst: p.DstAddr(),
			Fragment: p.Has(FlagFragment), Later: p.Has(FlagLaterFragment), ICMPError: p.Has(FlagICMPError)}
		// gopacket does not decode the transport header of a first fragment.
		if (p.Proto == ProtoTCP || p.Proto == ProtoUDP) && !p.Has(FlagFragment) {
			got.SrcPort, got.DstPort = p.SrcPort, p.DstPort
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("frame %d (-gopacket +frame):\n%s", i, diff)
		}
	}
}

func TestCapturedChecksumsVerify(t *testing.T) {
	t.Parallel()
	n := 0
	for i, b := range captured(t) {
		var p Packet
		p.Decode(b)
		if !p.OK() {
			continue
		}
		if p.Family == 4 {
			if got, want := IPv4HeaderChecksum(b, p.L3), binary.BigEndian.Uint16(b[p.L3+10:]); got != want {
				t.Errorf("frame %d: IPv4 header checksum %#04x, frame has %#04x", i, got, want)
			}
		}
		if c, ok := p.TransportChecksum(); ok {
			n++
			if want := binary.BigEndian.Uint16(b[p.L4Checksum():]); c != want {
				t.Errorf("frame %d: transport checksum %#04x, frame has %#04x", i, c, want)
			}
		}
	}
	if n < 30 {
		t.Fatalf("only %d frames had a transport checksum", n)
	}
}

// rewrites are the in-place changes the data path makes: NAT's DNAT and
// SNAT (address and port), and TTL decrements.
var rewrites = []struct {
	name string
	do   func(p *Packet, partial bool)
}{
	{"dnat", func(p *Packet, partial bool) {
		p.SetDst(addrFor(p.Family, 0x11), 8080, partial)
	}},
	{"snat", func(p *Packet, partial bool) {
		p.SetSrc(addrFor(p.Family, 0x22), 443, partial)
	}},
	{"both", func(p *Packet, partial bool) {
		p.SetDst(addrFor(p.Family, 0x33), p.DstPort, partial)
		p.SetSrc(addrFor(p.Family, 0x44), 1, partial)
	}},
	{"ttl", func(p *Packet, partial bool) { p.DecTTL() }},
}

func addrFor(family uint8, x byte) []byte {
	if family == 4 {
		return []byte{198, 18, 9, x}
	}
	return []byte{0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, x}
}

func TestIncrementalEqualsFullRecompute(t *testing.T) {
	t.Parallel()
	frames := captured(t)
	for _, rw := range rewrites {
		t.Run(rw.name, func(t *testing.T) {
			t.Parallel()
			checked := 0
			for i, orig := range frames {
				b := bytes.Clone(orig)
				var p Packet
				p.Decode(b)
				if !p.OK() {
					continue
				}
				rw.do(&p, false)
				inc := bytes.Clone(b)
				var q Packet
				q.Decode(b)
				q.FixChecksums()
				if !bytes.Equal(inc, b) {
					t.Errorf("frame %d: incremental update differs from full recompute\ninc  %x\nfull %x", i, inc, b)
				}
				checked++
			}
			if checked < 40 {
				t.Fatalf("only %d frames checked", checked)
			}
		})
	}
}

// TestPartialChecksumRewrite turns captured frames into what a sender with
// checksum offload hands over (the field holds the pseudo-header sum), applies
// the rewrites, and checks the field is the pseudo-header sum of the result.
func TestPartialChecksumRewrite(t *testing.T) {
	t.Parallel()
	for _, rw := range rewrites {
		t.Run(rw.name, func(t *testing.T) {
			t.Parallel()
			for i, orig := range captured(t) {
				var p Packet
				p.Decode(bytes.Clone(orig))
				if !p.OK() || (p.Proto != ProtoTCP && p.Proto != ProtoUDP) || p.Has(FlagFragment) {
					continue
				}
				at := p.L4Checksum()
				l4len := p.End - p.L4
				binary.BigEndian.PutUint16(p.B[at:], Fold(p.pseudoSum(l4len)))
				rw.do(&p, true)
				if got, want := binary.BigEndian.Uint16(p.B[at:]), Fold(p.pseudoSum(l4len)); got != want {
					t.Errorf("frame %d: partial checksum %#04x, want pseudo-header sum %#04x", i, got, want)
				}
				// Completing it, as the receiver's device would, yields a valid packet.
				binary.BigEndian.PutUint16(p.B[at:], 0)
				binary.BigEndian.PutUint16(p.B[at:], ^Fold(Sum(p.B[p.L4:p.End], p.pseudoSum(l4len))))
				if c, _ := p.TransportChecksum(); c != binary.BigEndian.Uint16(p.B[at:]) {
					t.Errorf("frame %d: completed checksum does not verify", i)
				}
			}
		})
	}
}

func TestICMPErrorQuoteRewrite(t *testing.T) {
	t.Parallel()
	seen := 0
	for i, orig := range captured(t) {
		var p, q Packet
		p.Decode(bytes.Clone(orig))
		if !p.Has(FlagICMPError) {
			continue
		}
		if !p.Inner(&q) {
			t.Fatalf("frame %d: quoted packet not decoded", i)
		}
		seen++
		if q.Proto != ProtoUDP || q.DstPort != 9 {
			t.Errorf("frame %d: quote proto %d port %d, want UDP to port 9", i, q.Proto, q.DstPort)
		}
		// NAT of the quote: the outer destination and the quoted source.
		q.SetSrc(addrFor(q.Family, 0x55), 4000, false)
		p.SetDst(addrFor(p.Family, 0x55), 0, false)
		p.FixICMP()
		want := bytes.Clone(p.B)
		var r Packet
		r.Decode(want)
		r.FixChecksums()
		if !bytes.Equal(want, p.B) {
			t.Errorf("frame %d: ICMP checksum after quote rewrite is not the full recompute", i)
		}
		if q.Family == 4 {
			if got := IPv4HeaderChecksum(q.B, q.L3); got != binary.BigEndian.Uint16(q.B[q.L3+10:]) {
				t.Errorf("frame %d: quoted IPv4 header checksum not updated", i)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("saw %d ICMP errors, want 2", seen)
	}
}

func TestDecodeAndRewriteAllocateNothing(t *testing.T) {
	frames := captured(t)
	var p, q Packet
	dst := []byte{198, 18, 0, 50}
	allocs := testing.AllocsPerRun(100, func() {
		for _, b := range frames {
			p.Decode(b)
			if p.Family == 4 && p.OK() {
				old := [4]byte(p.DstIP())
				p.SetDst(dst, p.DstPort, false)
				p.SetDst(old[:], p.DstPort, false)
				p.Inner(&q)
				_, _ = p.TransportChecksum()
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("decode+rewrite allocated %v times per run", allocs)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	tcp4 := captured(t)[4]
	cases := []struct {
		name string
		mod  func(b []byte) []byte
	}{
		{"short ethernet", func(b []byte) []byte { return b[:10] }},
		{"short ip", func(b []byte) []byte { return b[:EthLen+10] }},
		{"ihl 4", func(b []byte) []byte { b[EthLen] = 0x44; return b }},
		{"total beyond frame", func(b []byte) []byte { binary.BigEndian.PutUint16(b[EthLen+2:], 2000); return b }},
		{"tcp offset 4", func(b []byte) []byte { b[EthLen+20+12] = 0x40; return b }},
		{"tcp offset beyond", func(b []byte) []byte { b[EthLen+20+12] = 0xf0; return b }},
		{"version 6 in v4", func(b []byte) []byte { b[EthLen] = 0x65; return b }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var p Packet
			p.Decode(c.mod(bytes.Clone(tcp4)))
			if p.OK() {
				t.Fatalf("decoded as OK: %+v", p)
			}
		})
	}
}

func TestVLAN(t *testing.T) {
	t.Parallel()
	tcp4 := captured(t)[4]
	b := make([]byte, 0, len(tcp4)+4)
	b = append(b, tcp4[:12]...)
	b = append(b, 0x81, 0x00, 0x00, 0x64)
	b = append(b, tcp4[12:]...)
	var p, ref Packet
	p.Decode(b)
	ref.Decode(tcp4)
	if !p.OK() || !p.Has(FlagVLAN) || p.L3 != ref.L3+4 || p.SrcPort != ref.SrcPort || p.DstPort != ref.DstPort {
		t.Fatalf("802.1Q frame decoded as %+v", p)
	}
}

func TestTunnelHeader(t *testing.T) {
	t.Parallel()
	for _, idx := range []int{4, 18} { // a TCP SYN over IPv4, then over IPv6
		var in Packet
		in.Decode(captured(t)[idx])
		for _, outer := range [][2][]byte{
			{{198, 18, 0, 2}, {198, 18, 0, 11}},
			{addrFor(6, 2), addrFor(6, 11)},
		} {
			h := make([]byte, EthLen+IPv6Len)
			n := PutTunnelHeader(h, []byte{2, 0, 0, 0, 0, 11}, []byte{2, 0, 0, 0, 0, 2}, outer[0], outer[1], &in, 7)
			frame := append(h[:n:n], in.B[in.L3:in.End]...)
			pk := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
			if err := pk.ErrorLayer(); err != nil {
				t.Fatalf("gopacket: %v", err.Error())
			}
			var o Packet
			o.Decode(frame)
			wantProto := uint8(ProtoIPIP)
			if in.Family == 6 {
				wantProto = ProtoIPv6
			}
			if !o.OK() || o.Proto != wantProto || o.IPLen() != in.IPLen()+TunnelOverhead(o.Family) || o.TTL() != in.TTL() {
				t.Fatalf("outer header %+v", o)
			}
			if o.Family == 4 && IPv4HeaderChecksum(frame, EthLen) != binary.BigEndian.Uint16(frame[EthLen+10:]) {
				t.Fatal("outer IPv4 checksum")
			}
			var inner Packet
			inner.DecodeIP(frame[o.L4:])
			if inner.SrcPort != in.SrcPort || inner.DstAddr() != in.DstAddr() {
				t.Fatalf("inner packet changed: %+v", inner)
			}
		}
	}
}

func TestICMPErrorFrame(t *testing.T) {
	t.Parallel()
	for _, idx := range []int{4, 18} {
		var in Packet
		in.Decode(captured(t)[idx])
		for _, kind := range []int{ICMPFragNeeded, ICMPPortUnreachable} {
			out := make([]byte, MaxICMPError)
			n := PutICMPError(out, &in, kind, 1480, in.DstIP(), in.SrcMAC(), in.DstMAC())
			var e, q Packet
			e.Decode(out[:n])
			if !e.OK() || !e.Has(FlagICMPError) || !e.Inner(&q) {
				t.Fatalf("ICMP error not decoded: %+v", e)
			}
			if c, ok := e.TransportChecksum(); !ok || c != binary.BigEndian.Uint16(out[e.L4+2:]) {
				t.Fatalf("ICMP checksum %#x does not verify", c)
			}
			if e.DstAddr() != in.SrcAddr() || q.SrcPort != in.SrcPort || q.DstPort != in.DstPort {
				t.Fatalf("error addressed %v, quoting ports %d->%d", e.DstAddr(), q.SrcPort, q.DstPort)
			}
			if kind == ICMPFragNeeded {
				var mtu uint32
				if e.Family == 4 {
					mtu = uint32(binary.BigEndian.Uint16(out[e.L4+6:]))
				} else {
					mtu = binary.BigEndian.Uint32(out[e.L4+4:])
				}
				if mtu != 1480 {
					t.Fatalf("mtu %d", mtu)
				}
			}
		}
	}
}

func TestSegmenter(t *testing.T) {
	t.Parallel()
	for _, idx := range []int{7, 21} { // HTTP GETs with PSH
		var base Packet
		base.Decode(captured(t)[idx])
		// Grow the payload to 10000 bytes to make a super-frame.
		payload := make([]byte, 10000)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		doff := int(base.B[base.L4+12]>>4) * 4
		big := append(bytes.Clone(base.B[:base.L4+doff]), payload...)
		if base.Family == 4 {
			binary.BigEndian.PutUint16(big[base.L3+2:], uint16(len(big)-base.L3))
		} else {
			binary.BigEndian.PutUint16(big[base.L3+4:], uint16(len(big)-base.L3-IPv6Len))
		}
		var p Packet
		p.Decode(big)
		p.FixChecksums()
		var s Segmenter
		if !s.Reset(&p, 1400) {
			t.Fatal("Reset refused a TCP packet")
		}
		var got []byte
		seq0 := binary.BigEndian.Uint32(big[p.L4+4:])
		out := make([]byte, 2000)
		segs := 0
		for n := s.Next(out); n > 0; n = s.Next(out) {
			var q Packet
			q.DecodeIP(out[:n])
			if !q.OK() {
				t.Fatalf("segment %d malformed", segs)
			}
			if c, _ := q.TransportChecksum(); c != binary.BigEndian.Uint16(out[q.L4+16:]) {
				t.Fatalf("segment %d checksum", segs)
			}
			qd := int(out[q.L4+12]>>4) * 4
			if seq := binary.BigEndian.Uint32(out[q.L4+4:]); seq != seq0+uint32(len(got)) {
				t.Fatalf("segment %d seq %d, want %d", segs, seq, seq0+uint32(len(got)))
			}
			last := len(got)+n-q.L4-qd >= len(payload)
			if psh := q.TCPFlags&TCPPsh != 0; psh != last {
				t.Fatalf("segment %d: PSH %v on last=%v", segs, psh, last)
			}
			got = append(got, out[q.L4+qd:n]...)
			segs++
		}
		if segs != 8 || !bytes.Equal(got, payload) {
			t.Fatalf("%d segments, payload equal %v", segs, bytes.Equal(got, payload))
		}
	}
}

func TestChecksumValidity(t *testing.T) {
	t.Parallel()
	judged := 0
	for i, b := range captured(t) {
		var p Packet
		p.Decode(bytes.Clone(b))
		if !p.OK() {
			continue
		}
		p.FixChecksums()
		if !p.HeaderValid() || !p.ChecksumValid() {
			t.Fatalf("frame %d: complete checksums judged invalid", i)
		}
		if p.Family == 4 {
			p.B[p.L3+10] ^= 0x40
			if p.HeaderValid() {
				t.Errorf("frame %d: corrupt IPv4 header checksum judged valid", i)
			}
			p.B[p.L3+10] ^= 0x40
		}
		if at := p.L4Checksum(); at >= 0 && p.Flags&(FlagFragment|FlagTruncated) == 0 && at+2 <= p.End {
			p.B[at] ^= 0x40
			if p.ChecksumValid() {
				t.Errorf("frame %d: corrupt protocol %d checksum judged valid", i, p.Proto)
			}
			judged++
		}
	}
	if judged == 0 {
		t.Fatal("no captured frame with a transport checksum")
	}
}

func TestFragmentsReassemble(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		mtu     int
		payload int
		ownOff  uint16 // the packet's own fragment field
	}{
		{"three fragments", 1500, 4000, 0},
		{"exact multiple", 1500, 2960, 0},
		{"one byte over", 1500, 1481, 0},
		{"small MTU", 576, 3000, 0},
		{"packet that is itself a middle fragment", 1500, 2000, 0x2000 | 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := make([]byte, EthLen+IPv4Len)
			binary.BigEndian.PutUint16(h[12:], EtherTypeIPv4)
			ip := h[EthLen:]
			ip[0], ip[8], ip[9] = 0x45, 64, ProtoIPIP
			binary.BigEndian.PutUint16(ip[4:], 0xbeef)
			binary.BigEndian.PutUint16(ip[6:], tt.ownOff)
			copy(ip[12:], []byte{198, 18, 0, 2, 198, 18, 0, 11})
			payload := make([]byte, tt.payload)
			for i := range payload {
				payload[i] = byte(i*31 + 7)
			}
			step := FragmentPayload(tt.mtu, IPv4Len)
			got := make([]byte, tt.payload)
			out := make([]byte, 64)
			var last bool
			for off := 0; off < len(payload); off += step {
				n := min(step, len(payload)-off)
				k := PutFragmentHeader(out, h, EthLen, len(payload), off, n)
				f := append(append([]byte{}, out[:k]...), payload[off:off+n]...)
				var p Packet
				p.Decode(f)
				if !p.OK() || p.IPLen() > tt.mtu || !p.HeaderValid() {
					t.Fatalf("fragment at %d: ok %v, %d bytes (MTU %d), header valid %v", off, p.OK(), p.IPLen(), tt.mtu, p.HeaderValid())
				}
				fo := binary.BigEndian.Uint16(f[EthLen+6:])
				at := int(fo&0x1fff)*8 - int(tt.ownOff&0x1fff)*8
				if at != off || binary.BigEndian.Uint16(f[EthLen+4:]) != 0xbeef {
					t.Fatalf("fragment at %d says offset %d, id %#x", off, at, binary.BigEndian.Uint16(f[EthLen+4:]))
				}
				copy(got[at:], f[EthLen+IPv4Len:])
				last = fo&0x2000 == 0
				if more := off+n < len(payload); more == last && tt.ownOff&0x2000 == 0 {
					t.Fatalf("fragment at %d: MF %v, more follow %v", off, !last, more)
				}
			}
			if tt.ownOff&0x2000 != 0 && last {
				t.Fatal("a middle fragment's last piece lost MF")
			}
			if !bytes.Equal(got, payload) {
				t.Fatal("reassembled payload differs")
			}
		})
	}
}

// TestCompletePartial: a captured TCP or UDP frame whose checksum field is
// made partial (the pseudo-header sum, as a veth peer's offload leaves it)
// is completed to the value it had, and a complete one is left alone.
func TestCompletePartial(t *testing.T) {
	n := 0
	for i, orig := range captured(t) {
		var p Packet
		p.Decode(bytes.Clone(orig))
		if !p.OK() || (p.Proto != ProtoTCP && p.Proto != ProtoUDP) || p.Has(FlagFragment) || !p.ChecksumValid() {
			continue
		}
		at := p.L4Checksum()
		want := binary.BigEndian.Uint16(p.B[at:])
		if p.Proto == ProtoUDP && want == 0 {
			continue
		}
		if p.CompletePartial() && binary.BigEndian.Uint16(p.B[at:]) != want {
			t.Fatalf("frame %d: a complete checksum was changed", i)
		}
		binary.BigEndian.PutUint16(p.B[at:], Fold(p.pseudoSum(p.End-p.L4)))
		if !p.CompletePartial() {
			t.Fatalf("frame %d: partial checksum not recognised", i)
		}
		if got := binary.BigEndian.Uint16(p.B[at:]); got != want {
			t.Fatalf("frame %d: completed to %#04x, want %#04x", i, got, want)
		}
		if a := testing.AllocsPerRun(10, func() { p.CompletePartial() }); a != 0 {
			t.Fatalf("CompletePartial allocates %v", a)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no TCP or UDP frame in the capture")
	}
}
