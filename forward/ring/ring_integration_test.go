//go:build linux

package ring

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/forward/frame"
	"github.com/ulvs/ulvs/internal/topo"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

func inNS(t testing.TB, n *topo.Node, fn func()) { t.Helper(); topotest.InNS(t, n, fn) }

type pair struct {
	a, b       *topo.Node
	aIdx, bIdx int
	aMAC, bMAC net.HardwareAddr
}

func newPair(t testing.TB) *pair {
	topotest.Require(t)
	tp := topotest.New(t)
	p := &pair{
		a: topotest.AddNode(t, tp, "a", topo.NodeConfig{Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.30.1/24")}}),
		b: topotest.AddNode(t, tp, "b", topo.NodeConfig{Addrs: []netip.Prefix{netip.MustParsePrefix("198.18.30.2/24")}}),
	}
	var err error
	for _, x := range []struct {
		n   *topo.Node
		idx *int
		mac *net.HardwareAddr
	}{{p.a, &p.aIdx, &p.aMAC}, {p.b, &p.bIdx, &p.bMAC}} {
		inNS(t, x.n, func() {
			var ifc *net.Interface
			ifc, err = net.InterfaceByName("eth0")
			if err == nil {
				*x.idx, *x.mac = ifc.Index, ifc.HardwareAddr
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// udpFrame builds an IPv4/UDP frame a → b to port dport, with seq in its
// payload.
func (p *pair) udpFrame(sport, dport uint16, seq uint32) []byte {
	b := make([]byte, frame.EthLen+20+8+4)
	copy(b[0:6], p.bMAC)
	copy(b[6:12], p.aMAC)
	binary.BigEndian.PutUint16(b[12:], frame.EtherTypeIPv4)
	ip := b[frame.EthLen:]
	ip[0], ip[8], ip[9] = 0x45, 64, frame.ProtoUDP
	binary.BigEndian.PutUint16(ip[2:], 32)
	copy(ip[12:], []byte{198, 18, 30, 1})
	copy(ip[16:], []byte{198, 18, 30, 2})
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], dport)
	binary.BigEndian.PutUint16(ip[24:], 12)
	binary.BigEndian.PutUint32(ip[28:], seq)
	var pk frame.Packet
	pk.Decode(b)
	pk.FixChecksums()
	return b
}

// udpPortFilter accepts IPv4 UDP frames to dport.
func udpPortFilter(dport uint16) []Instruction {
	return []Instruction{
		{Op: 0x28, K: 12},                   // ldh [12]
		{Op: 0x15, Jt: 0, Jf: 5, K: 0x0800}, // jeq IPv4
		{Op: 0x30, K: 23},                   // ldb [23]
		{Op: 0x15, Jt: 0, Jf: 3, K: 17},     // jeq UDP
		{Op: 0x28, K: 36},                   // ldh [36] (no IP options)
		{Op: 0x15, Jt: 0, Jf: 1, K: uint32(dport)},
		{Op: 0x06, K: 0xffff}, // ret accept
		{Op: 0x06, K: 0},      // ret drop
	}
}

func TestRingReceivesWhatSenderSends(t *testing.T) {
	p := newPair(t)
	for _, version := range []int{2, 3} {
		t.Run(map[int]string{2: "v2", 3: "v3"}[version], func(t *testing.T) {
			var r *Ring
			var s *Sender
			var err error
			inNS(t, p.b, func() {
				r, err = Open(Config{Ifindex: p.bIdx, Version: version, VnetHdr: true, Filter: udpPortFilter(7777),
					FrameSize: 4096, Frames: 256, BlockSize: 1 << 16, Blocks: 4})
			})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			inNS(t, p.a, func() { s, err = NewSender(SenderConfig{Batch: 16, VnetHdr: true}) })
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const n = 200
			for i := range uint32(n) {
				// Every other frame goes to a port the filter drops.
				dport := uint16(7777)
				if i%2 == 1 {
					dport = 7778
				}
				f := p.udpFrame(40000+uint16(i%8), dport, i)
				if !s.Add(p.aIdx, nil, f[:frame.EthLen], f[frame.EthLen:]) {
					if err := s.Flush(); err != nil {
						t.Fatal(err)
					}
					s.Add(p.aIdx, nil, f[:frame.EthLen], f[frame.EthLen:])
				}
			}
			if err := s.Flush(); err != nil || s.Failed != 0 {
				t.Fatalf("flush: %v, %d failed (%v)", err, s.Failed, s.LastErr)
			}
			frames := make([]Frame, 32)
			var got []uint32
			deadline := time.Now().Add(5 * time.Second)
			for len(got) < n/2 && time.Now().Before(deadline) {
				k, err := r.Recv(frames, 100*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range frames[:k] {
					var pk frame.Packet
					pk.Decode(f.Data)
					if pk.DstPort != 7777 {
						t.Fatalf("filter let through port %d", pk.DstPort)
					}
					if f.Ifindex != p.bIdx {
						t.Fatalf("ifindex %d, want %d", f.Ifindex, p.bIdx)
					}
					got = append(got, binary.BigEndian.Uint32(f.Data[pk.L4+8:]))
				}
			}
			if len(got) != n/2 {
				t.Fatalf("received %d frames, want %d", len(got), n/2)
			}
			for i, seq := range got {
				if seq != uint32(2*i) {
					t.Fatalf("frame %d carries seq %d, want %d (order or loss)", i, seq, 2*i)
				}
			}
		})
	}
}

// tcpGSOFrame builds an IPv4/TCP super-frame a → b to port dport with
// payload bytes of seq, and the offload header that asks for its
// segmentation and checksum.
func (p *pair) tcpGSOFrame(dport uint16, payload int, seq byte) ([]byte, VnetHdr) {
	b := make([]byte, frame.EthLen+20+20+payload)
	copy(b[0:6], p.bMAC)
	copy(b[6:12], p.aMAC)
	binary.BigEndian.PutUint16(b[12:], frame.EtherTypeIPv4)
	ip := b[frame.EthLen:]
	ip[0], ip[8], ip[9] = 0x45, 64, frame.ProtoTCP
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+payload))
	copy(ip[12:], []byte{198, 18, 30, 1})
	copy(ip[16:], []byte{198, 18, 30, 2})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12], tcp[13] = 5<<4, 0x18 // PSH ACK
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	for i := range tcp[20:] {
		tcp[20+i] = seq
	}
	var pk frame.Packet
	pk.Decode(b)
	pk.FixChecksums()
	return b, VnetHdr{Flags: VnetNeedsCsum, GSOType: GSOTCPv4, HdrLen: frame.EthLen + 40, GSOSize: 1400,
		CsumStart: frame.EthLen + 20, CsumOffset: 16}
}

// TestRingLargeFramesComeWhole sends GSO super-frames, far larger than a
// 2 KiB ring frame, between small frames: each must come out of Recv
// whole, with its offload header, in order (PACKET_COPY_THRESH).
func TestRingLargeFramesComeWhole(t *testing.T) {
	p := newPair(t)
	var r *Ring
	var s *Sender
	var err error
	inNS(t, p.b, func() {
		r, err = Open(Config{Ifindex: p.bIdx, Version: 2, VnetHdr: true, FrameSize: 2048, Frames: 64,
			Filter: []Instruction{{Op: 0x06, K: 0x40000}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	inNS(t, p.a, func() { s, err = NewSender(SenderConfig{Batch: 64, VnetHdr: true}) })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// More large frames than one Recv has copy buffers for.
	const n = 3 * copyBuffers
	type seen struct {
		size int
		gso  uint8
		seq  byte
	}
	var want []seen
	for i := range n {
		small := p.udpFrame(40000, 7777, uint32(i))
		s.Add(p.aIdx, nil, small, nil)
		want = append(want, seen{len(small), GSONone, 0})
		big, vh := p.tcpGSOFrame(7777, 20000+i, byte(i))
		s.Add(p.aIdx, &vh, big, nil)
		want = append(want, seen{len(big), GSOTCPv4, byte(i)})
	}
	if err := s.Flush(); err != nil || s.Failed != 0 {
		t.Fatalf("flush: %v, %d failed (%v)", err, s.Failed, s.LastErr)
	}
	var got []seen
	frames := make([]Frame, 64)
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		k, err := r.Recv(frames, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames[:k] {
			var pk frame.Packet
			pk.Decode(f.Data)
			if pk.DstPort != 7777 {
				continue // the kernel's own traffic (IPv6 router solicitations)
			}
			x := seen{size: len(f.Data), gso: f.Vnet.GSOType}
			if pk.Proto == frame.ProtoTCP {
				if pk.End != len(f.Data) {
					t.Fatalf("TCP frame of %d bytes says %d", len(f.Data), pk.End)
				}
				x.seq = f.Data[len(f.Data)-1]
			}
			got = append(got, x)
		}
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(seen{})); diff != "" {
		t.Fatalf("frames (-sent +received):\n%s", diff)
	}
	st, err := r.Stats()
	if err != nil || st.Drops != 0 || st.CopyLost != 0 {
		t.Fatalf("stats %+v, %v", st, err)
	}
}

func TestFanoutKeepsFlowsTogether(t *testing.T) {
	p := newPair(t)
	var rings [2]*Ring
	var s *Sender
	var err error
	inNS(t, p.b, func() {
		for i := range rings {
			if rings[i], err = Open(Config{Ifindex: p.bIdx, FanoutGroup: 4242, Filter: udpPortFilter(7777),
				BlockSize: 1 << 16, Blocks: 4}); err != nil {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rings {
		defer r.Close()
	}
	inNS(t, p.a, func() { s, err = NewSender(SenderConfig{Batch: 64}) })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const flows, per = 16, 4
	for k := range per {
		for f := range flows {
			fr := p.udpFrame(30000+uint16(f), 7777, uint32(k))
			s.Add(p.aIdx, nil, fr, nil)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint16]int{} // sport -> ring
	count := 0
	frames := make([]Frame, 64)
	deadline := time.Now().Add(5 * time.Second)
	for count < flows*per && time.Now().Before(deadline) {
		for i, r := range rings {
			k, err := r.Recv(frames, 10*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range frames[:k] {
				var pk frame.Packet
				pk.Decode(f.Data)
				if prev, ok := seen[pk.SrcPort]; ok && prev != i {
					t.Fatalf("flow %d on rings %d and %d", pk.SrcPort, prev, i)
				}
				seen[pk.SrcPort] = i
				count++
			}
		}
	}
	if count != flows*per {
		t.Fatalf("received %d frames, want %d", count, flows*per)
	}
}

// BenchmarkRingLatency measures one frame's trip from a sendmmsg in one
// namespace to Recv returning it in the other, for TPACKET_V2 and for V3
// with its 1 ms block timeout: what forwarding latency each adds.
func BenchmarkRingLatency(b *testing.B) {
	p := newPair(b)
	for _, version := range []int{2, 3} {
		b.Run(map[int]string{2: "v2", 3: "v3-1ms"}[version], func(b *testing.B) {
			var r *Ring
			var s *Sender
			var err error
			inNS(b, p.b, func() {
				r, err = Open(Config{Ifindex: p.bIdx, Version: version, Filter: udpPortFilter(7777),
					FrameSize: 4096, Frames: 64, BlockSize: 1 << 16, Blocks: 4})
			})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			inNS(b, p.a, func() { s, err = NewSender(SenderConfig{Batch: 1}) })
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			fr := p.udpFrame(1, 7777, 0)
			frames := make([]Frame, 8)
			for b.Loop() {
				s.Add(p.aIdx, nil, fr, nil)
				if err := s.Flush(); err != nil {
					b.Fatal(err)
				}
				for got := 0; got == 0; {
					if got, err = r.Recv(frames, time.Second); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkRingThroughput sends 64-frame batches of 60-byte frames from
// one namespace and receives them in the other: the per-frame cost of the
// sender, the kernel's veth and bridge path and the receive ring together.
// One op is one batch; ns/frame and pkts/s are per frame.
func BenchmarkRingThroughput(b *testing.B) {
	p := newPair(b)
	var r *Ring
	var s *Sender
	var err error
	inNS(b, p.b, func() { r, err = Open(Config{Ifindex: p.bIdx, Version: 2, VnetHdr: true, Filter: udpPortFilter(7777)}) })
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	inNS(b, p.a, func() { s, err = NewSender(SenderConfig{Batch: 64, VnetHdr: true, QdiscBypass: true}) })
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var batch [64][]byte
	for i := range batch {
		batch[i] = p.udpFrame(uint16(20000+i), 7777, uint32(i))
	}
	frames := make([]Frame, 64)
	b.ReportAllocs()
	ops := 0
	for b.Loop() {
		for i := range batch {
			s.Add(p.aIdx, nil, batch[i], nil)
		}
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
		for n := len(batch); n > 0; {
			k, err := r.Recv(frames, time.Second)
			if err != nil || k == 0 {
				b.Fatalf("recv: %d, %v (%d frames missing, %d failed sends)", k, err, n, s.Failed)
			}
			n -= k
		}
		ops++
	}
	perFrame := float64(b.Elapsed().Nanoseconds()) / float64(ops*len(batch))
	b.ReportMetric(perFrame, "ns/frame")
	b.ReportMetric(1e9/perFrame, "pkts/s")
}
