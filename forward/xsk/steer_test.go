//go:build linux

package xsk

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/ulvs/ulvs/forward/frame"
	"github.com/ulvs/ulvs/internal/topo/topotest"
)

// frameSpec describes a test frame for the XDP program.
type frameSpec struct {
	dstMAC    byte // first byte of the destination MAC (1: multicast)
	vlan      bool
	src, dst  string
	proto     uint8
	sport     uint16
	dport     uint16
	icmpType  uint8
	laterFrag bool
	// IPv6 only: a hop-by-hop options header, or a first-fragment
	// header, before the transport header.
	hopByHop, firstFrag bool
	// tcpFlags is the TCP flags byte; partial leaves in the TCP or UDP
	// checksum field what a sender with checksum offload does (the
	// pseudo-header's folded sum); moreFrags sets IPv4's MF.
	tcpFlags           uint8
	partial, moreFrags bool
}

func buildFrame(f frameSpec) []byte {
	src, dst := netip.MustParseAddr(f.src), netip.MustParseAddr(f.dst)
	b := []byte{f.dstMAC, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2}
	if f.vlan {
		b = append(b, 0x81, 0x00, 0, 5)
	}
	var l4 []byte
	switch f.proto {
	case 1, 58:
		l4 = []byte{f.icmpType, 0, 0, 0, 0, 0, 0, 0}
	default:
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint16(l4[0:], f.sport)
		binary.BigEndian.PutUint16(l4[2:], f.dport)
		if f.proto == 6 {
			l4[13] = f.tcpFlags
		}
		if f.partial {
			at := 16
			if f.proto == 17 {
				at = 6
				binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
			}
			sum := uint32(f.proto) + uint32(len(l4))
			for _, a := range [][]byte{src.AsSlice(), dst.AsSlice()} {
				for i := 0; i < len(a); i += 2 {
					sum += uint32(a[i])<<8 | uint32(a[i+1])
				}
			}
			for sum>>16 != 0 {
				sum = sum&0xffff + sum>>16
			}
			binary.BigEndian.PutUint16(l4[at:], uint16(sum))
		} else if f.proto == 6 {
			l4[16] = 0x12 // some complete checksum (the program does not verify it)
		}
	}
	if src.Is4() {
		b = append(b, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0], ip[8], ip[9] = 0x45, 64, f.proto
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		if f.laterFrag {
			binary.BigEndian.PutUint16(ip[6:], 100) // offset 800 bytes
		}
		if f.moreFrags {
			ip[6] |= 0x20
		}
		copy(ip[12:], src.AsSlice())
		copy(ip[16:], dst.AsSlice())
		return append(append(b, ip...), l4...)
	}
	b = append(b, 0x86, 0xdd)
	ip := make([]byte, 40)
	ip[0], ip[7] = 0x60, 64
	var ext []byte
	switch {
	case f.laterFrag:
		ip[6] = 44
		ext = []byte{f.proto, 0, 0x03, 0x20, 0, 0, 0, 1} // offset 100 (×8)
	case f.firstFrag:
		ip[6] = 44
		ext = []byte{f.proto, 0, 0, 1, 0, 0, 0, 1} // offset 0, M set
	case f.hopByHop:
		ip[6] = 0
		ext = []byte{f.proto, 0, 1, 4, 0, 0, 0, 0}
	default:
		ip[6] = f.proto
	}
	binary.BigEndian.PutUint16(ip[4:], uint16(len(ext)+len(l4)))
	copy(ip[8:], src.AsSlice())
	copy(ip[24:], dst.AsSlice())
	b = append(b, ip...)
	b = append(b, ext...)
	if f.laterFrag {
		return append(b, make([]byte, 16)...)
	}
	return append(b, l4...)
}

// TestSteering runs the XDP program (BPF_PROG_TEST_RUN, no interface) on
// hand-made frames: covered frames are steered (with no socket in the
// XSKMAP that is XDP_DROP, counted as no_socket: fail closed), everything
// else passes. The cases follow the guard's rules one by one.
func TestSteering(t *testing.T) {
	p := loadForTest(t, 0)
	objs := p.objs
	a := netip.MustParseAddr
	if err := p.Sync([]Tuple{
		{Addr: a("198.18.40.100"), Proto: 6, Port: 80},
		{Addr: a("198.18.40.100"), Proto: 17, Port: 53},
		{Addr: a("198.18.40.101"), Proto: 6, Port: 0},
		{Addr: a("2001:db8::100"), Proto: 17, Port: 53},
	}, []Tuple{
		{Addr: a("198.18.41.11"), Proto: 6, Port: 8080},
		{Addr: a("198.18.41.12"), Proto: 17, Port: 0},
	}, []netip.Addr{a("198.18.40.2")}); err != nil {
		t.Fatal(err)
	}
	const steer, pass = 1, 2 // XDP_DROP (steered, no socket), XDP_PASS
	vip, vip6, client, local := "198.18.40.100", "2001:db8::100", "198.18.40.1", "198.18.40.2"
	for _, c := range []struct {
		name string
		f    frameSpec
		want uint32
	}{
		{"tcp to the service port", frameSpec{src: client, dst: vip, proto: 6, sport: 40000, dport: 80}, steer},
		{"tcp to another port", frameSpec{src: client, dst: vip, proto: 6, sport: 40000, dport: 81}, pass},
		{"udp to the service port", frameSpec{src: client, dst: vip, proto: 17, sport: 40000, dport: 53}, steer},
		{"sctp to the VIP", frameSpec{src: client, dst: vip, proto: 132, sport: 40000, dport: 80}, pass},
		{"udp later fragment to the VIP", frameSpec{src: client, dst: vip, proto: 17, laterFrag: true}, steer},
		{"tcp later fragment to the VIP", frameSpec{src: client, dst: vip, proto: 6, laterFrag: true}, pass},
		{"icmp error to the VIP", frameSpec{src: client, dst: vip, proto: 1, icmpType: 3}, steer},
		{"icmp time exceeded to the VIP", frameSpec{src: client, dst: vip, proto: 1, icmpType: 11}, steer},
		{"icmp echo to the VIP", frameSpec{src: client, dst: vip, proto: 1, icmpType: 8}, pass},
		{"any port of a port-0 service", frameSpec{src: client, dst: "198.18.40.101", proto: 6, sport: 1, dport: 9999}, steer},
		{"udp to a port-0 TCP service", frameSpec{src: client, dst: "198.18.40.101", proto: 17, sport: 1, dport: 9999}, pass},
		{"to another address", frameSpec{src: client, dst: "198.18.40.102", proto: 6, sport: 1, dport: 80}, pass},
		{"NAT reply to the client", frameSpec{src: "198.18.41.11", dst: client, proto: 6, sport: 8080, dport: 40000}, steer},
		{"NAT real's packet to the director", frameSpec{src: "198.18.41.11", dst: local, proto: 6, sport: 8080, dport: 40000}, pass},
		{"NAT real's other port", frameSpec{src: "198.18.41.11", dst: client, proto: 6, sport: 8081, dport: 40000}, pass},
		{"NAT reply of a port-0 UDP real", frameSpec{src: "198.18.41.12", dst: client, proto: 17, sport: 7, dport: 40000}, steer},
		{"NAT reply's later fragment (udp)", frameSpec{src: "198.18.41.12", dst: client, proto: 17, laterFrag: true}, steer},
		{"NAT real's later fragment to the director", frameSpec{src: "198.18.41.12", dst: local, proto: 17, laterFrag: true}, pass},
		{"NAT reply's later fragment (tcp)", frameSpec{src: "198.18.41.11", dst: client, proto: 6, laterFrag: true}, pass},
		{"icmp error from a NAT real", frameSpec{src: "198.18.41.11", dst: client, proto: 1, icmpType: 3}, steer},
		{"icmp error from a NAT real to the director", frameSpec{src: "198.18.41.11", dst: local, proto: 1, icmpType: 3}, pass},
		{"multicast MAC", frameSpec{dstMAC: 1, src: client, dst: vip, proto: 6, sport: 40000, dport: 80}, pass},
		{"802.1Q tagged", frameSpec{vlan: true, src: client, dst: vip, proto: 6, sport: 40000, dport: 80}, pass},
		{"udp to the IPv6 service", frameSpec{src: "2001:db8::1", dst: vip6, proto: 17, sport: 40000, dport: 53}, steer},
		{"udp to the IPv6 service after hop-by-hop", frameSpec{src: "2001:db8::1", dst: vip6, proto: 17, sport: 40000, dport: 53, hopByHop: true}, steer},
		{"IPv6 first fragment", frameSpec{src: "2001:db8::1", dst: vip6, proto: 17, sport: 40000, dport: 53, firstFrag: true}, steer},
		{"IPv6 later fragment", frameSpec{src: "2001:db8::1", dst: vip6, proto: 17, laterFrag: true}, steer},
		{"udp to another IPv6 port", frameSpec{src: "2001:db8::1", dst: vip6, proto: 17, sport: 40000, dport: 54}, pass},
		{"ICMPv6 packet too big to the VIP", frameSpec{src: "2001:db8::1", dst: vip6, proto: 58, icmpType: 2}, steer},
		{"ICMPv6 echo to the VIP", frameSpec{src: "2001:db8::1", dst: vip6, proto: 58, icmpType: 128}, pass},
	} {
		ret, err := objs.UlvsSteer.Run(&ebpf.RunOptions{Data: buildFrame(c.f)})
		if err != nil {
			t.Fatal(err)
		}
		if ret != c.want {
			t.Errorf("%s: XDP action %d, want %d (1 steered without a socket, 2 passed)", c.name, ret, c.want)
		}
	}
	cnt, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if cnt.Steered != 0 || cnt.NoSocket == 0 || cnt.Passed == 0 {
		t.Errorf("counters %+v", cnt)
	}
	// Sync removes what is no longer covered.
	if err := p.Sync(nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	ret, err := objs.UlvsSteer.Run(&ebpf.RunOptions{Data: buildFrame(frameSpec{src: client, dst: vip, proto: 6, sport: 1, dport: 80})})
	if err != nil || ret != pass {
		t.Fatalf("after removing every service: action %d, %v", ret, err)
	}
}

// xdpMD is struct xdp_md, the context BPF_PROG_TEST_RUN takes (DataEnd
// must be the frame's length, or the program sees an empty frame).
type xdpMD struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

// TestFastPathProgram runs the program with the fast path on
// (BPF_PROG_TEST_RUN, frames "arriving" on lo): a connection in the flow
// table leaves by XDP_TX with its real server's MACs, counted, when its
// packet cannot change its state, is whole and carries a complete
// checksum; every other frame goes to the socket as before.
func TestFastPathProgram(t *testing.T) {
	a := netip.MustParseAddr
	p := loadFast(t, nil)
	objs := p.objs
	rsMAC, dirMAC := [6]byte{2, 0, 0, 0, 0, 11}, [6]byte{2, 0, 0, 0, 0, 2}
	if err := p.SetReal(7, Hop{Ifindex: 1, Dst: rsMAC, Src: dirMAC}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetReal(8, Hop{Ifindex: 2, Dst: rsMAC, Src: dirMAC}); err != nil { // another interface
		t.Fatal(err)
	}
	vip, vip6, client := a("198.18.40.100"), a("2001:db8::100"), a("198.18.40.1")
	flow := func(c netip.Addr, cport uint16, v netip.Addr, vport uint16, proto uint8, real uint32) {
		if _, err := p.AddFlows([]Flow{{Key: NewFlowKey(addr16(c), addr16(v), cport, vport, proto), Real: real}}); err != nil {
			t.Fatal(err)
		}
	}
	flow(client, 40000, vip, 80, 6, 7)
	flow(client, 40001, vip, 53, 17, 7)
	flow(client, 40002, vip, 80, 6, 8)
	flow(a("2001:db8::1"), 40000, vip6, 80, 6, 7)
	// The program stamps a flow's time once a millisecond at most.
	time.Sleep(2 * time.Millisecond)
	before := Monotonic()
	const steer, tx = 1, 3 // XDP_DROP (steered, no socket), XDP_TX
	const ack, syn, fin, rst, psh = 0x10, 0x02, 0x01, 0x04, 0x08
	fast := 0
	var bytes uint64
	for _, c := range []struct {
		name string
		f    frameSpec
		want uint32
	}{
		{"an ACK of a fast connection", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: ack}, tx},
		{"data (PSH, ACK)", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: psh | ack}, tx},
		{"SYN", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: syn}, steer},
		{"FIN", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: fin | ack}, steer},
		{"RST", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: rst}, steer},
		{"a partial checksum", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: ack, partial: true}, steer},
		{"a first fragment", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: ack, moreFrags: true}, steer},
		{"another client port", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40009, dport: 80, tcpFlags: ack}, steer},
		{"a real server behind another interface", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40002, dport: 80, tcpFlags: ack}, steer},
		{"UDP", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 17, sport: 40001, dport: 53}, tx},
		{"UDP, partial checksum", frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 17, sport: 40001, dport: 53, partial: true}, steer},
		{"IPv6 ACK", frameSpec{src: "2001:db8::1", dst: "2001:db8::100", proto: 6, sport: 40000, dport: 80, tcpFlags: ack}, tx},
		{"IPv6 first fragment", frameSpec{src: "2001:db8::1", dst: "2001:db8::100", proto: 6, sport: 40000, dport: 80, tcpFlags: ack, firstFrag: true}, steer},
		{"IPv6 partial checksum", frameSpec{src: "2001:db8::1", dst: "2001:db8::100", proto: 6, sport: 40000, dport: 80, tcpFlags: ack, partial: true}, steer},
	} {
		in := buildFrame(c.f)
		out := make([]byte, len(in)+256)
		ret, err := objs.UlvsSteer.Run(&ebpf.RunOptions{Data: in, DataOut: out, Context: &xdpMD{DataEnd: uint32(len(in)), IngressIfindex: 1}})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if ret != c.want {
			t.Errorf("%s: XDP action %d, want %d (1 steered without a socket, 3 XDP_TX)", c.name, ret, c.want)
			continue
		}
		if ret == tx {
			fast++
			if [6]byte(out[0:6]) != rsMAC || [6]byte(out[6:12]) != dirMAC {
				t.Errorf("%s: left with MACs %x > %x, want %x > %x", c.name, out[6:12], out[0:6], dirMAC, rsMAC)
			}
			if string(out[12:len(in)]) != string(in[12:]) {
				t.Errorf("%s: the packet changed beyond the MACs", c.name)
			}
			if in[12] == 0x08 {
				bytes += uint64(binary.BigEndian.Uint16(in[16:]))
			} else {
				bytes += 40 + uint64(binary.BigEndian.Uint16(in[18:]))
			}
		}
	}
	rc, err := p.RealCounts(7)
	if err != nil || rc != (RealCount{Pkts: uint64(fast), Bytes: bytes}) {
		t.Errorf("real server 7 counted %+v (%v), want %d packets, %d bytes", rc, err, fast, bytes)
	}
	if c, _ := p.RealCounts(8); c.Pkts != 0 {
		t.Errorf("real server 8 counted %d packets, want none", c.Pkts)
	}
	seen, ok := p.FlowSeen(&Flow{Key: NewFlowKey(addr16(client), addr16(vip), 40000, 80, 6)})
	if !ok || seen < before {
		t.Errorf("the fast connection was last seen at %d (%v), before this test's packets (%d)", seen, ok, before)
	}
	if c, err := p.Counters(); err != nil || c.Fast != uint64(fast) {
		t.Errorf("counters %+v (%v), want %d fast", c, err, fast)
	}
	// Off: everything goes to the socket.
	if err := objs.FastOn.Put(uint32(0), uint32(0)); err != nil {
		t.Fatal(err)
	}
	in := buildFrame(frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: ack})
	ret, err := objs.UlvsSteer.Run(&ebpf.RunOptions{Data: in, Context: &xdpMD{DataEnd: uint32(len(in)), IngressIfindex: 1}})
	if err != nil || ret != steer {
		t.Fatalf("with the fast path off: action %d, %v", ret, err)
	}
}

// loadFast loads the program for BPF_PROG_TEST_RUN with the fast path on,
// "attached" to ifindex 1, serving 198.18.40.100 TCP 80 and UDP 53 and
// 2001:db8::100 TCP 80, and the NAT real servers natReals.
func loadFast(t *testing.T, natReals []Tuple) *Program {
	t.Helper()
	p := loadForTest(t, 1024)
	a := netip.MustParseAddr
	if err := p.Sync([]Tuple{{Addr: a("198.18.40.100"), Proto: 6, Port: 80}, {Addr: a("198.18.40.100"), Proto: 17, Port: 53},
		{Addr: a("2001:db8::100"), Proto: 6, Port: 80}}, natReals, []netip.Addr{a("198.18.40.2")}); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadForTest loads the program as Attach does, "attached" to ifindex 1,
// with room for fastFlows fast-path connections, closed with the test.
func loadForTest(t *testing.T, fastFlows int) *Program {
	t.Helper()
	if os.Geteuid() != 0 {
		if topotest.Strict() {
			t.Fatal("loading BPF programs needs root")
		}
		t.Skip("loading BPF programs needs root")
	}
	p, err := Load(1, fastFlows)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.objs.Close() })
	return p
}

// TestFastPathNATProgram: a NAT connection's packets both ways leave the
// program byte for byte as user space's rewrite (forward/frame) makes them
// — addresses, ports, TTL, every checksum — with valid checksums, counted
// in and out; what the program must not take goes to the socket.
func TestFastPathNATProgram(t *testing.T) {
	a := netip.MustParseAddr
	rs, rs6 := a("198.18.40.11"), a("2001:db8::11")
	p := loadFast(t, []Tuple{{Addr: rs, Proto: 6, Port: 8080}, {Addr: rs, Proto: 17, Port: 5353}, {Addr: rs6, Proto: 6, Port: 8080}})
	rsMAC, dirMAC, clientMAC := [6]byte{2, 0, 0, 0, 0, 11}, [6]byte{2, 0, 0, 0, 0, 2}, [6]byte{2, 0, 0, 0, 0, 1}
	if err := p.SetReal(7, Hop{Ifindex: 1, Dst: rsMAC, Src: dirMAC}); err != nil {
		t.Fatal(err)
	}
	vip, vip6, client, client6 := a("198.18.40.100"), a("2001:db8::100"), a("198.18.40.1"), a("2001:db8::1")
	flows := []*Flow{
		{Key: NewFlowKey(addr16(client), addr16(vip), 40000, 80, 6), RAddr: addr16(rs), RPort: 8080},
		{Key: NewFlowKey(addr16(client), addr16(vip), 40001, 53, 17), RAddr: addr16(rs), RPort: 5353},
		{Key: NewFlowKey(addr16(client6), addr16(vip6), 40000, 80, 6), RAddr: addr16(rs6), RPort: 8080},
	}
	for _, f := range flows {
		f.Real, f.NAT, f.ClientMAC, f.IfaceMAC = 7, true, clientMAC, dirMAC
		if _, err := p.AddFlows([]Flow{*f}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Millisecond)
	before := Monotonic()
	const steer, tx = 1, 3
	const ack, fin, psh = 0x10, 0x01, 0x08
	type dir int
	const (
		toReal dir = iota
		toClient
	)
	var want RealCount
	for _, c := range []struct {
		name string
		d    dir
		f    frameSpec
		ttl  uint8 // IPv4 TTL or IPv6 hop limit (0: 64)
		want uint32
	}{
		{"client ACK", toReal, frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: ack}, 0, tx},
		{"client data", toReal, frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: psh | ack}, 0, tx},
		{"reply", toClient, frameSpec{src: "198.18.40.11", dst: "198.18.40.1", proto: 6, sport: 8080, dport: 40000, tcpFlags: psh | ack}, 0, tx},
		{"reply FIN", toClient, frameSpec{src: "198.18.40.11", dst: "198.18.40.1", proto: 6, sport: 8080, dport: 40000, tcpFlags: fin | ack}, 0, steer},
		{"reply with TTL 1", toClient, frameSpec{src: "198.18.40.11", dst: "198.18.40.1", proto: 6, sport: 8080, dport: 40000, tcpFlags: ack}, 1, steer},
		{"reply, partial checksum", toClient, frameSpec{src: "198.18.40.11", dst: "198.18.40.1", proto: 6, sport: 8080, dport: 40000, tcpFlags: ack, partial: true}, 0, steer},
		{"reply from another port", toClient, frameSpec{src: "198.18.40.11", dst: "198.18.40.1", proto: 6, sport: 8080, dport: 40009, tcpFlags: ack}, 0, steer},
		{"UDP", toReal, frameSpec{src: "198.18.40.1", dst: "198.18.40.100", proto: 17, sport: 40001, dport: 53}, 0, tx},
		{"UDP reply", toClient, frameSpec{src: "198.18.40.11", dst: "198.18.40.1", proto: 17, sport: 5353, dport: 40001}, 0, tx},
		{"IPv6 client ACK", toReal, frameSpec{src: "2001:db8::1", dst: "2001:db8::100", proto: 6, sport: 40000, dport: 80, tcpFlags: ack}, 0, tx},
		{"IPv6 reply", toClient, frameSpec{src: "2001:db8::11", dst: "2001:db8::1", proto: 6, sport: 8080, dport: 40000, tcpFlags: ack}, 0, tx},
		{"IPv6 reply with hop limit 1", toClient, frameSpec{src: "2001:db8::11", dst: "2001:db8::1", proto: 6, sport: 8080, dport: 40000, tcpFlags: ack}, 1, steer},
	} {
		in := buildFrame(c.f)
		var fp frame.Packet
		fp.Decode(in)
		if c.ttl != 0 {
			if fp.Family == 4 {
				in[fp.L3+8] = c.ttl
			} else {
				in[fp.L3+7] = c.ttl
			}
		}
		if !c.f.partial {
			fp.FixChecksums() // valid checksums in, so valid ones out
		}
		// What user space sends (xmit and out in forward).
		exp := append([]byte(nil), in...)
		var q frame.Packet
		q.Decode(exp)
		n := uint64(q.IPLen())
		if c.d == toReal {
			r := flows[0].RAddr
			if q.Family == 6 {
				r = flows[2].RAddr
			}
			port := uint16(8080)
			if q.Proto == 17 {
				port = 5353
			}
			if q.Family == 4 {
				q.SetDst(r[12:], port, false)
			} else {
				q.SetDst(r[:], port, false)
			}
			q.SetMACs(rsMAC[:], dirMAC[:])
		} else {
			v := addr16(vip)
			vb := v[12:]
			if q.Family == 6 {
				v = addr16(vip6)
				vb = v[:]
			}
			port := uint16(80)
			if q.Proto == 17 {
				port = 53
			}
			q.DecTTL()
			q.SetSrc(vb, port, false)
			q.SetMACs(clientMAC[:], dirMAC[:])
		}
		got := make([]byte, len(in)+256)
		ret, err := p.objs.UlvsSteer.Run(&ebpf.RunOptions{Data: in, DataOut: got, Context: &xdpMD{DataEnd: uint32(len(in)), IngressIfindex: 1}})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if ret != c.want {
			t.Errorf("%s: XDP action %d, want %d (1 steered without a socket, 3 XDP_TX)", c.name, ret, c.want)
			continue
		}
		if ret != tx {
			continue
		}
		got = got[:len(in)]
		if string(got) != string(exp) {
			t.Errorf("%s: left as\n%x\nuser space sends\n%x", c.name, got, exp)
		}
		var g frame.Packet
		g.Decode(got)
		if !g.HeaderValid() || !g.ChecksumValid() {
			t.Errorf("%s: left with a bad checksum", c.name)
		}
		if c.d == toReal {
			want.Pkts++
			want.Bytes += n
		} else {
			want.OutPkts++
			want.OutBytes += n
		}
	}
	if rc, err := p.RealCounts(7); err != nil || rc != want {
		t.Errorf("real server 7 counted %+v (%v), want %+v", rc, err, want)
	}
	// Both ways count as the connection's time.
	if seen, ok := p.FlowSeen(flows[0]); !ok || seen < before {
		t.Errorf("the NAT connection was last seen at %d (%v), before this test's packets (%d)", seen, ok, before)
	}
	// Taken off: both ways go to the socket.
	if err := p.DeleteFlow(flows[0]); err != nil {
		t.Fatal(err)
	}
	for _, f := range []frameSpec{
		{src: "198.18.40.1", dst: "198.18.40.100", proto: 6, sport: 40000, dport: 80, tcpFlags: ack},
		{src: "198.18.40.11", dst: "198.18.40.1", proto: 6, sport: 8080, dport: 40000, tcpFlags: ack},
	} {
		in := buildFrame(f)
		ret, err := p.objs.UlvsSteer.Run(&ebpf.RunOptions{Data: in, Context: &xdpMD{DataEnd: uint32(len(in)), IngressIfindex: 1}})
		if err != nil || ret != steer {
			t.Errorf("%s > %s after DeleteFlow: action %d, %v", f.src, f.dst, ret, err)
		}
	}
}

// TestAddFlows: a batch of flows (DR, NAT with its replies, IPv6) goes in
// with one call; a flow the program cannot take stops the batch there, the
// flows before it held and the count saying so.
func TestAddFlows(t *testing.T) {
	p := loadFast(t, nil)
	a := netip.MustParseAddr
	client, vip, rs := addr16(a("198.18.40.1")), addr16(a("198.18.40.100")), addr16(a("198.18.41.11"))
	flows := []Flow{
		{Key: NewFlowKey(client, vip, 40000, 80, 6), Real: 7},
		{Key: NewFlowKey(client, vip, 40001, 80, 6), Real: 8, NAT: true, RAddr: rs, RPort: 8080,
			ClientMAC: [6]byte{2, 0, 0, 0, 0, 1}, IfaceMAC: [6]byte{2, 0, 0, 0, 0, 2}},
		{Key: NewFlowKey(addr16(a("2001:db8::1")), addr16(a("2001:db8::100")), 40000, 80, 6), Real: 7},
	}
	if n, err := p.AddFlows(flows); n != 3 || err != nil {
		t.Fatalf("AddFlows: %d, %v; want 3, nil", n, err)
	}
	for i := range flows {
		if _, ok := p.FlowSeen(&flows[i]); !ok {
			t.Errorf("flow %d not held", i)
		}
	}
	var r replyValue
	if err := p.objs.Replies.Lookup(flows[1].Key.Reply(rs, 8080), &r); err != nil || r.Real != 8 || r.VPort != htons(80) {
		t.Errorf("the NAT flow's replies: %+v, %v", r, err)
	}
	bad := []Flow{
		{Key: NewFlowKey(client, vip, 40010, 80, 6), Real: 7},
		{Key: NewFlowKey(client, vip, 40011, 80, 6), Real: MaxReals},
		{Key: NewFlowKey(client, vip, 40012, 80, 6), Real: 7},
	}
	n, err := p.AddFlows(bad)
	if n != 1 || err == nil {
		t.Fatalf("AddFlows with a handle beyond MaxReals: %d, %v; want 1 and an error", n, err)
	}
	for i, want := range []bool{true, false, false} {
		if _, ok := p.FlowSeen(&bad[i]); ok != want {
			t.Errorf("flow %d held %v, want %v", i, ok, want)
		}
	}
	if n, err := p.AddFlows(bad[1:]); n != 0 || err == nil {
		t.Errorf("AddFlows starting with a handle beyond MaxReals: %d, %v; want 0 and an error", n, err)
	}
}
